"""``tcia download``: series from a manifest, UIDs or a query, with progress and a failure summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..download import Progress, download_series, estimate_download, read_manifest
from ..errors import TCIAError
from ._context import make_client
from ._output import print_table


def _query_rows(client: Any, where: tuple[str, ...]) -> list[Any]:
    """Series rows from the API's series query (the spec's ``download.query``) filtered by KEY=VALUE."""
    info = client._download_info
    if info is None or info.query is None:
        raise click.UsageError(f"{client._api.name} has no series query; give UIDs or --manifest")
    params = {p.wire.lower(): p for p in info.query.params} | {p.python: p for p in info.query.params}
    kwargs: dict[str, Any] = {}
    for item in where:
        key, sep, value = item.partition("=")
        param = params.get(key) or params.get(key.lower())
        if not sep or param is None:
            known = ", ".join(p.wire for p in info.query.params)
            raise click.UsageError(f"--where {item!r}: expected KEY=VALUE with KEY one of {known}")
        kwargs[param.python] = value
    rows: list[Any] = getattr(client, info.query.python_name)(**kwargs)
    return rows


@click.command("download")
@click.argument("uids", nargs=-1)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .tcia manifest or a one-column SeriesInstanceUID CSV.",
)
@click.option(
    "--where",
    multiple=True,
    metavar="KEY=VALUE",
    help="Download the series of a query, e.g. --where Collection=TCGA-GBM --where Modality=MR.",
)
@click.option(
    "--dest",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tcia-data"),
    show_default=True,
)
@click.option(
    "--layout",
    default="classic",
    show_default=True,
    help="flat, classic, descriptive or a %Keyword template.",
)
@click.option("--workers", type=int, default=8, show_default=True)
@click.option("--retries", type=int, default=2, show_default=True, help="Extra attempts per series.")
@click.option("--dry-run", is_flag=True, help="Only count the series, instances and bytes.")
@click.option(
    "--skip-existing/--force",
    default=True,
    show_default=True,
    help="Skip series verified by an earlier run, or download everything again.",
)
@click.option("--fail-fast", is_flag=True, help="Stop starting new series after a failure.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
@click.pass_context
def download(
    ctx: click.Context,
    uids: tuple[str, ...],
    manifest: Path | None,
    where: tuple[str, ...],
    dest: Path,
    layout: str,
    workers: int,
    retries: int,
    dry_run: bool,
    skip_existing: bool,
    fail_fast: bool,
    progress: bool | None,
) -> None:
    """Download series, verified and laid out, resumable: from UIDs, a manifest or a query."""
    if sum(bool(x) for x in (uids, manifest, where)) != 1:
        raise click.UsageError("give series UIDs, --manifest or --where (one of them)")
    with make_client(ctx) as client:
        try:
            series: Any = (
                list(uids) if uids else (read_manifest(manifest) if manifest else _query_rows(client, where))
            )
            if dry_run:
                estimate = estimate_download(client, series)
                size = "unknown" if estimate.dicom_bytes is None else f"{estimate.dicom_bytes:,} bytes"
                click.echo(f"{estimate.series} series, {estimate.instances} instances, {size}")
                if estimate.unknown_series:
                    click.echo(f"unknown series: {', '.join(estimate.unknown_series)}")
                return
            show = sys.stderr.isatty() if progress is None else progress
            report = _run(client, series, dest, layout, workers, retries, skip_existing, fail_fast, show)
        except (TCIAError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    counts = (
        f"{len(report.downloaded)} downloaded, {len(report.skipped)} skipped, {len(report.failed)} failed"
    )
    click.echo(f"{counts}; into {report.destination}")
    if report.failed:
        rows = [{"series": r.series_instance_uid, "error": str(r.error)} for r in report.failed]
        print_table(["series", "error"], rows, title="failed")
        ctx.exit(1)


def _run(
    client: Any,
    series: Any,
    dest: Path,
    layout: str,
    workers: int,
    retries: int,
    skip_existing: bool,
    fail_fast: bool,
    show: bool,
) -> Any:
    options: dict[str, Any] = {
        "layout": layout,
        "workers": workers,
        "retries": retries,
        "force": not skip_existing,
        "fail_fast": fail_fast,
    }
    if not show:
        return download_series(client, series, dest, **options)
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TransferSpeedColumn
    from rich.progress import Progress as Bars

    with Bars(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()) as bars:
        series_task = bars.add_task("series", total=None)
        bytes_task = bars.add_task("bytes", total=None)

        def update(event: Progress) -> None:
            bars.update(series_task, completed=event.series_done, total=event.series_total)
            bars.update(bytes_task, completed=event.bytes_done, total=event.bytes_expected)

        return download_series(client, series, dest, progress=update, **options)
