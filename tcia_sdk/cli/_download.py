"""``tcia download``: series from UIDs, a manifest or a query, with progress and a failure summary.

Every option of the download command is parsed here, in one place, and handed to the engine's
public functions (``download_series``, ``estimate_download``, ``read_manifest``).

Exit codes: 0 every series verified (downloaded or skipped); 1 some series failed, the
destination cannot be written, or (``--no-wait``) another run holds it; 2 a usage error; 130
interrupted, after saying how far it got (a rerun of the same command resumes: verified series
are skipped).
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import click

from ..download import download_series, estimate_download, read_manifest
from ..download._destination import local_or_store
from ..download._manifest import is_uid
from ..errors import DestinationLockedError
from ._context import make_client
from ._exit import FAILED, CommandFailed, Interrupted, failures_reported, one_line
from ._output import print_table
from ._progress import DownloadProgress, human_bytes

ENGINE_LOGGER = "tcia_sdk.download"  # its warnings: waiting for the lock, renamed folders, ...


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


def _server_uid(row: Any) -> object:
    if isinstance(row, Mapping):
        return row.get("SeriesInstanceUID")
    return getattr(row, "series_instance_uid", None)


def _usable_rows(rows: list[Any]) -> tuple[list[Any], list[dict[str, str]]]:
    """The query's rows whose SeriesInstanceUID is a DICOM UID, and a failure for each other one.

    These rows come from the server, not the command line: a UID such as ``../../x`` is the
    server's fault and fails that series (exit 1), never a usage error, and it never reaches the
    engine, so it cannot touch a path.
    """
    usable: list[Any] = []
    rejected: list[dict[str, str]] = []
    for row in rows:
        uid = _server_uid(row)
        if is_uid(uid):
            usable.append(row)
        else:
            rejected.append(
                {
                    "series": str(uid),
                    "error": f"the server sent {uid!r} as a SeriesInstanceUID: not a DICOM UID "
                    "(digits and dots, at most 64 characters); nothing was written for it",
                }
            )
    return usable, rejected


class ByteSize(click.ParamType[int]):
    """A byte count: ``2000000000``, ``2GB``, ``1.5 GiB``, ``500MB`` (decimal and binary units)."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
    _UNITS |= {"tb": 10**12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
    _SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = self._SIZE.match(str(value))
        unit = self._UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            self.fail(f"{value!r} is not a size such as 2000000000, 500MB or 2GiB", param, ctx)
        size = int(float(match.group(1)) * unit)
        if size < 1:
            self.fail(f"{value!r} is less than one byte", param, ctx)
        return size


def _manifest_uids(manifest: Path) -> list[str]:
    """The manifest's UIDs; ``-`` is stdin (``tcia get-series ... -o csv | tcia download --manifest -``)."""
    if str(manifest) != "-":
        return read_manifest(manifest)
    text = sys.stdin.read()
    # read_manifest reads files: give it one, and name stdin, not the temporary file, in its errors.
    with tempfile.TemporaryDirectory(prefix="tcia-manifest-") as folder:
        path = Path(folder) / "stdin"
        path.write_text(text, encoding="utf-8")
        try:
            return read_manifest(path)
        except ValueError as exc:
            raise ValueError(str(exc).replace(str(path), "<stdin>")) from None


def _writable_folder(path: Path, option: str) -> None:
    """Make ``path`` and prove a file can be written in it, before any request: a read-only
    folder or a path under a file then ends in one line instead of a failure per series."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            reason = f"{blocker} is a file, not a folder"
        else:
            reason = exc.strerror or str(exc)
        raise CommandFailed(f"{option} {path}: cannot write there ({reason})") from None


def _estimate_lines(client: Any, series: Any) -> list[str]:
    estimate = estimate_download(client, series)
    if estimate.dicom_bytes is None:
        size = "size unknown"
    else:
        size = f"{human_bytes(estimate.dicom_bytes)} ({estimate.dicom_bytes:,} bytes)"
    lines = [f"{estimate.series} series, {estimate.instances} instances, {size}"]
    if estimate.unknown_size and estimate.dicom_bytes is not None:
        lines.append(f"size unknown for {len(estimate.unknown_size)} of them")
    if estimate.unknown_series:
        lines.append(f"not found: {', '.join(estimate.unknown_series)}")
    return lines


def _uid_of(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        return str(item.get("SeriesInstanceUID"))
    uid = getattr(item, "series_instance_uid", None)
    return uid if isinstance(uid, str) else None


def _interrupted(folder: Path | None, dest: str, series: list[Any], tracker: DownloadProgress) -> Interrupted:
    """What an interrupted run got done, from a folder's own metadata.csv (the engine writes it on
    the way out), else from the progress counts (series that ended: verified, skipped or failed)."""
    wanted = {uid for uid in map(_uid_of, series) if uid}
    try:
        if folder is None:
            raise ValueError("an object store: its metadata.csv is not read back")
        verified = len(wanted & set(read_manifest(folder / "metadata.csv")))
        done = f"{verified} of {len(wanted)} series verified in {dest}"
    except (OSError, ValueError):
        done = f"{tracker.series_done} of {tracker.series_total} series finished in {dest}"
    return Interrupted(f"interrupted: {done}; running the same command again resumes")


class _EngineNotes(logging.Handler):
    """The engine's warnings as lines on stderr, above the bars (it waits for a lock, renames a
    folder two series would share, ignores a tampered record)."""

    def __init__(self, tracker: DownloadProgress) -> None:
        super().__init__(logging.WARNING)
        self._tracker = tracker

    def emit(self, record: logging.LogRecord) -> None:
        self._tracker.note(one_line(record.getMessage()))


@contextmanager
def _engine_notes(tracker: DownloadProgress) -> Iterator[None]:
    logger = logging.getLogger(ENGINE_LOGGER)
    handler = _EngineNotes(tracker)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextmanager
def _cluster(address: str | None) -> Iterator[Any]:
    """The Dask client of ``--dask`` (None without it), closed at the end."""
    if address is None:
        yield None
        return
    try:
        from ..download._cluster import connect
    except ImportError:
        raise click.UsageError("--dask needs Dask: pip install 'tcia-sdk[dask]'") from None
    try:
        cluster = connect(address)
        client = cluster.__enter__()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise CommandFailed(f"--dask {address}: cannot reach the scheduler ({one_line(str(exc))})") from None
    try:
        yield client
    finally:
        cluster.__exit__(None, None, None)


@click.command("download")
@click.argument("uids", nargs=-1)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help="A .tcia manifest, or any CSV with a SeriesInstanceUID column (tcia get-series -o csv, the "
    "metadata.csv of an earlier download); - reads it from stdin.",
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
    default="tcia-data",
    show_default=True,
    help="A folder, or an object-store URL: s3://bucket/prefix (also gs://, az://; the tcia-sdk[s3] "
    "extra). Credentials come from the store's usual chain (environment, profile, instance role).",
)
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="An S3-compatible store (MinIO, Ceph, ...) for s3:// destinations [default: $AWS_ENDPOINT_URL].",
)
@click.option(
    "--staging-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where series are verified before they are uploaded to an object store [default: the temp folder].",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Run on a Dask cluster: tcp://scheduler:8786, or local:N for N worker processes on this "
    "machine (the tcia-sdk[dask] extra). --workers is then per worker process.",
)
@click.option(
    "--cluster-max-requests",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="With --dask: the most requests to TCIA in flight across the whole cluster.",
)
@click.option(
    "--layout",
    default="classic",
    show_default=True,
    help="flat, classic, descriptive or a %Keyword template.",
)
@click.option("--workers", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--retries", type=click.IntRange(min=0), default=2, show_default=True, help="Extra attempts per series."
)
@click.option(
    "--max-series-bytes",
    type=ByteSize(),
    help="The most a series whose metadata gives no size may take (TCIA v3), e.g. 20GB "
    "[default: the SDK's, 50 GiB].",
)
@click.option("--dry-run", is_flag=True, help="Only count the series, instances and bytes.")
@click.option(
    "--skip-existing/--force",
    default=True,
    show_default=True,
    help="Skip series verified by an earlier run, or download everything again.",
)
@click.option("--fail-fast", is_flag=True, help="Stop starting new series after a failure.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="When another run downloads into --dest: wait for it (saying so), or exit 1 at once.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
@click.pass_context
def download(
    ctx: click.Context,
    uids: tuple[str, ...],
    manifest: Path | None,
    where: tuple[str, ...],
    dest: str,
    endpoint_url: str | None,
    staging_dir: Path | None,
    dask_address: str | None,
    cluster_max_requests: int,
    layout: str,
    workers: int,
    retries: int,
    max_series_bytes: int | None,
    dry_run: bool,
    skip_existing: bool,
    fail_fast: bool,
    wait: bool,
    progress: bool | None,
) -> None:
    """Download series, verified and laid out, resumable: from UIDs, a manifest or a query."""
    if sum(bool(x) for x in (uids, manifest, where)) != 1:
        raise click.UsageError("give series UIDs, --manifest or --where (one of them)")
    options: dict[str, Any] = {
        "layout": layout,
        "workers": workers,
        "retries": retries,
        "force": not skip_existing,
        "fail_fast": fail_fast,
        "wait": wait,
    }
    if max_series_bytes is not None:
        options["max_series_bytes"] = max_series_bytes
    try:
        target = local_or_store(dest)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("dest: "), param_hint="--dest") from None
    store = isinstance(target, str)
    if (endpoint_url or staging_dir) and not store:
        raise click.UsageError(
            "--endpoint-url and --staging-dir are for object-store destinations (s3://...)"
        )
    if store:
        storage = {"endpoint_url": endpoint_url, "staging_dir": str(staging_dir) if staging_dir else None}
        options["storage_options"] = {k: v for k, v in storage.items() if v}
    with make_client(ctx) as client, failures_reported():
        if not dry_run and isinstance(target, Path):
            _writable_folder(target, "--dest")
        rejected: list[dict[str, str]] = []
        series: Any
        if uids:
            series = list(uids)
        elif manifest:
            series = _manifest_uids(manifest)
        else:
            series, rejected = _usable_rows(_query_rows(client, where))
        if dry_run:
            for line in _estimate_lines(client, series):
                click.echo(line)
            for failure in rejected:
                click.echo(f"skipped {failure['series']!r}: {failure['error']}", err=True)
            if rejected:
                ctx.exit(FAILED)
            return
        tracker = DownloadProgress(len(series), show=sys.stderr.isatty() if progress is None else progress)
        try:
            with tracker, _engine_notes(tracker), _cluster(dask_address) as cluster:
                if cluster is not None:
                    options.update(cluster=cluster, cluster_max_requests=cluster_max_requests)
                report = download_series(client, series, dest, progress=tracker, **options)
        except KeyboardInterrupt:
            raise _interrupted(target if isinstance(target, Path) else None, dest, series, tracker) from None
        except DestinationLockedError:
            raise CommandFailed(
                f"--dest {dest} is in use by another download run; wait for it to finish, or leave out "
                "--no-wait to wait for it"
            ) from None
    failed = len(report.failed) + len(rejected)
    counts = f"{len(report.downloaded)} downloaded, {len(report.skipped)} skipped, {failed} failed"
    click.echo(f"{counts}; into {report.destination}")
    if failed:
        rows = [{"series": r.series_instance_uid, "error": str(r.error)} for r in report.failed]
        print_table(["series", "error"], rows + rejected, caption="failed")
        ctx.exit(FAILED)
