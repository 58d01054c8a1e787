"""One subcommand per endpoint, built from its descriptor when it is looked up.

A paged search is iterated to its end, page after page, or until ``--limit`` results: then no
further page is fetched, and a limit smaller than the spec's page size is also the page size.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import click

from .._runtime.endpoint import Endpoint
from ._columns import VALUE, choose_columns, parse_columns, records_of, row_model
from ._context import make_client
from ._exit import CommandFailed, failures_reported
from ._options import call_arguments, offered, option_for
from ._output import OUTPUTS, emit_other, emit_rows

TABLE_RESULTS = frozenset({"rows", "row", "values", "object", "strings", "page"})
PLAIN_RESULTS = frozenset({"values", "strings"})  # lists of plain strings: one column


def _output_options() -> list[click.Parameter]:
    return [
        click.Option(
            ["--output", "-o", "output"],
            type=click.Choice(OUTPUTS),
            default="table",
            show_default=True,
            help="table: a table on a terminal, TSV when piped; csv and json have every column.",
        ),
        click.Option(
            ["--columns", "columns"],
            metavar="A,B,...",
            help="Only these columns, in this order (wire names; case ignored).",
        ),
        click.Option(["--all-columns", "all_columns"], is_flag=True, help="Every column, not a few."),
        click.Option(
            ["--limit", "limit"],
            type=click.IntRange(min=1),
            help="At most N rows (a paged search stops fetching there).",
        ),
    ]


def _check_target(path: Path) -> None:
    """``--to`` must go into an existing folder: say so in one line before anything is fetched."""
    parent = path.absolute().parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise CommandFailed(f"--to {path}: the folder {parent} {what}")


def endpoint_command(endpoint: Endpoint) -> click.Command:
    """A subcommand calling ``endpoint`` with its offered parameters as options."""
    params: list[click.Parameter] = [option_for(p) for p in endpoint.params if offered(p)]
    if endpoint.result == "binary":
        params.append(
            click.Option(
                ["--to", "to"],
                type=click.Path(dir_okay=False, path_type=Path),
                required=True,
                help="File to write.",
            )
        )
    elif endpoint.result in TABLE_RESULTS:
        params.extend(_output_options())

    def run(**values: Any) -> None:
        ctx = click.get_current_context()
        output = values.pop("output", None)
        requested = parse_columns(values.pop("columns", None))
        every = bool(values.pop("all_columns", False))
        limit: int | None = values.pop("limit", None)
        to: Path | None = values.pop("to", None)
        arguments = call_arguments(endpoint, values)
        if to is not None:
            _check_target(to)
            arguments["to"] = to
        size = next((p for p in endpoint.params if p.paging == "size"), None)
        if limit is not None and size is not None and size.python not in arguments:
            arguments[size.python] = min(limit, endpoint.page_size or limit)
        caption = None
        with make_client(ctx) as client, failures_reported():
            result = getattr(client, endpoint.python_name)(**arguments)
            if endpoint.result == "page":
                rows: Any = list(itertools.islice(result, limit))
                total = result.total
                if limit is not None and total is not None and total > len(rows):
                    caption = f"the first {len(rows)} of {total}"
            elif limit is not None and isinstance(result, list):
                caption = f"the first {limit} of {len(result)}" if len(result) > limit else None
                rows = result[:limit]
            else:
                rows = result
        records = records_of(rows, endpoint.value_field)
        if records is None:
            emit_other(rows)
            return
        plain = endpoint.result in PLAIN_RESULTS
        if plain:
            columns = [endpoint.value_field or VALUE]  # the one column, even with no rows
        else:
            columns = choose_columns(
                row_model(endpoint),
                records,
                requested=requested,
                every=every,
                default_all=output in ("csv", "json"),
            )
        emit_rows(output or "table", columns, records, plain_values=plain, caption=caption)

    return click.Command(
        endpoint.python_name.replace("_", "-"),
        params=params,
        callback=run,
        help=f"{endpoint.doc} [{endpoint.method} {endpoint.name}]",
        short_help=endpoint.doc.split(". ")[0][:70],
    )
