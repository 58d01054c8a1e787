"""Printing results: a table for people, TSV, CSV or JSON for scripts; wire names as headers.

``-o table`` (the default) draws a rich table when stdout is a terminal and writes TSV when it is
not: piped output is never truncated, wrapped or boxed, one line per row, so ``cut``, ``awk`` and
``sort`` work on it. On a terminal nothing is cut either: UID columns keep their full width, other
columns fold between words, and a table that cannot fit that way is printed one block per row.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._runtime.binary import Download

if TYPE_CHECKING:
    from rich.console import Console

OUTPUTS = ("table", "tsv", "csv", "json")
_UID_NAME = re.compile(r"(UID|Uid|uid)s?$")
_UID_VALUE = re.compile(r"^[0-9]+(\.[0-9]+){3,}$")  # DICOM UIDs: digits and dots, a few components
_LINE_BREAKS = re.compile(r"[\t\r\n]+")


def cell_text(value: Any, separator: str) -> str:
    """One value as text: lists joined by ``separator``, nested objects as JSON, NULL as empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return separator.join(cell_text(v, separator) for v in value)
        return json.dumps(value, default=str, separators=(",", ":"))
    if isinstance(value, dict):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def _holds_uid(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_uid(v) for v in value)
    return isinstance(value, str) and len(value) <= 64 and bool(_UID_VALUE.match(value))


def uid_columns(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> set[str]:
    """Columns that must never be cut: named like a UID, or holding UID-looking values."""
    return {c for c in columns if _UID_NAME.search(c) or any(_holds_uid(r.get(c)) for r in records)}


def _min_width(column: str, texts: Sequence[str], whole: bool) -> int:
    """The narrowest a column may get: its header, and its longest word (a whole UID)."""
    pieces = (
        [line for t in texts for line in t.splitlines()] if whole else [w for t in texts for w in t.split()]
    )
    return max([len(column), *(len(p) for p in pieces)])


def render_table(
    console: Console,
    columns: Sequence[str],
    records: Sequence[dict[str, Any]],
    caption: str | None = None,
) -> None:
    """A rich table on ``console`` when it fits with no word cut, else one block per row.

    UID columns keep their full width, other columns fold between words; when even that is wider
    than the terminal (six columns with a 40-character UID at 80 columns), each row is printed as
    ``name  value`` lines instead, which fits any width. Cells are plain text, never markup.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    keep_whole = uid_columns(columns, records)
    cells = [[cell_text(r.get(c), "\n") for c in columns] for r in records]  # one list item a line
    widths = [_min_width(c, [row[i] for row in cells], c in keep_whole) for i, c in enumerate(columns)]
    needed = sum(w + 2 for w in widths) + max(len(columns) - 1, 0)  # padding, and a divider between
    if needed > console.width and records:
        _render_blocks(console, columns, cells, caption)
        return
    table = Table(caption=caption, box=box.SIMPLE_HEAD, show_edge=False)
    for column, width in zip(columns, widths, strict=True):
        whole = column in keep_whole
        table.add_column(column, min_width=width, no_wrap=whole, overflow="fold")
    for row in cells:
        table.add_row(*(Text(text) for text in row))
    console.print(table)
    if not records:
        console.print("(no results)")


def _render_blocks(
    console: Console, columns: Sequence[str], cells: Sequence[Sequence[str]], caption: str | None
) -> None:
    from rich.text import Text

    label = max(len(c) for c in columns)
    for number, row in enumerate(cells, 1):
        console.print(Text(f"-- {number} of {len(cells)} --", style="dim"))
        for column, text in zip(columns, row, strict=True):
            lines = text.splitlines() or [""]
            console.print(Text(f"{column:<{label}}  {lines[0]}"), crop=False, soft_wrap=True)
            for line in lines[1:]:
                console.print(Text(f"{'':<{label}}  {line}"), crop=False, soft_wrap=True)
    if caption:
        console.print(Text(caption, style="dim"))


def write_tsv(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
    """One header line, one line per row; tabs and line breaks inside values become spaces."""
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    for record in records:
        out.write("\t".join(_LINE_BREAKS.sub(" ", cell_text(record.get(c), ",")) for c in columns) + "\n")


def write_csv(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell_text(r.get(c), ",") for c in columns] for r in records)


def print_table(
    columns: Sequence[str], records: Sequence[dict[str, Any]], caption: str | None = None
) -> None:
    """A table on a terminal, TSV otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console

        render_table(Console(), columns, records, caption)
    else:
        write_tsv(columns, records)


def emit_rows(
    output: str,
    columns: Sequence[str],
    records: Sequence[dict[str, Any]],
    *,
    plain_values: bool = False,
    caption: str | None = None,
) -> None:
    """``records`` in ``output``; ``plain_values``: they are plain strings (JSON: a list of them)."""
    if output == "json":
        if plain_values and len(columns) == 1:
            values: Any = [r.get(columns[0]) for r in records]
        else:
            values = [{c: r[c] for c in columns if c in r} for r in records]
        json.dump(values, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif output == "csv":
        write_csv(columns, records)
    elif output == "tsv":
        write_tsv(columns, records)
    else:
        print_table(columns, records, caption)


def emit_other(result: Any) -> None:
    """What is no table: a written file, raw bytes, text (a manifest)."""
    if isinstance(result, Download):
        print(f"wrote {result.path} ({result.bytes_written:,} bytes)")
    elif isinstance(result, bytes):
        sys.stdout.buffer.write(result)
    else:
        text = str(result)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
