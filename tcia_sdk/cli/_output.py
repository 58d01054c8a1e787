"""Printing results as a table, JSON or CSV, with wire names as column headers."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

import attrs

from .._runtime.binary import Download
from .._runtime.structure import unstructure


def as_records(result: Any) -> tuple[list[str], list[dict[str, Any]]] | None:
    """Columns and rows of a list or single result; None for text and downloads."""
    if isinstance(result, str | bytes | Download):
        return None
    rows = result if isinstance(result, list) else [result]
    if rows and all(isinstance(r, str) for r in rows):
        return ["value"], [{"value": r} for r in rows]
    records = [r if isinstance(r, dict) else unstructure(r) for r in rows]
    columns: list[str] = []
    if rows and attrs.has(type(rows[0])):
        columns = [f.metadata["wire"] for f in attrs.fields(type(rows[0])) if "wire" in f.metadata]
    for record in records:
        columns.extend(k for k in record if k not in columns)
    # Columns no row has a value for are left out of tables (NULL everywhere).
    present = {k for record in records for k in record}
    return [c for c in columns if c in present] or columns, records


def emit(result: Any, output: str, column: str | None = None) -> None:
    if isinstance(result, Download):
        print(f"wrote {result.path} ({result.bytes_written} bytes)")
        return
    if isinstance(result, bytes):
        sys.stdout.buffer.write(result)
        return
    if isinstance(result, str):
        sys.stdout.write(result if result.endswith("\n") or not result else result + "\n")
        return
    table = as_records(result)
    assert table is not None
    columns, records = table
    if column and columns == ["value"]:
        columns = [column]
        records = [{column: r["value"]} for r in records]
    if output == "json":
        values: Any = [r[column] for r in records] if column else records
        json.dump(values, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    else:
        print_table(columns, records)


def print_table(columns: Sequence[str], records: Sequence[dict[str, Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title, show_lines=False)
    for record in records:
        table.add_row(*("" if record.get(c) is None else str(record[c]) for c in columns))
    Console().print(table)
    if not records:
        print("(no results)")
