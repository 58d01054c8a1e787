"""Which columns a result shows: the spec's ``display: true`` fields by default, or the caller's.

Columns are wire names (the API's own, DICOM keywords mostly), in the spec's field order, then the
keys the spec does not know, in the order the rows bring them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from .._runtime.binary import Download
from .._runtime.endpoint import Endpoint, ModelInfo
from .._runtime.structure import unstructure

# A model that marks no field ``display: true`` shows this many of its first fields.
FALLBACK_COLUMNS = 6
VALUE = "value"  # the column of a list of plain strings


def row_model(endpoint: Endpoint) -> ModelInfo | None:
    """The model of one row: the endpoint's, or for a paged search the items' of its page model."""
    model = endpoint.model
    if model is None or endpoint.result != "page":
        return model
    items = next((f for f in model.fields if f.wire == endpoint.page_items), None)
    return model.registry.get(items.items or "") if items is not None else None


def records_of(result: Any, value_column: str | None = None) -> list[dict[str, Any]] | None:
    """Rows as wire dicts; None for what is no table (text, bytes, a written file)."""
    if isinstance(result, str | bytes | Download):
        return None
    rows = result if isinstance(result, list) else [result]
    if all(isinstance(r, str) for r in rows):
        return [{value_column or VALUE: r} for r in rows]
    return [r if isinstance(r, dict) else unstructure(r) for r in rows]


def all_columns(model: ModelInfo | None, records: Sequence[dict[str, Any]]) -> list[str]:
    columns = [f.wire for f in model.fields] if model is not None else []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    return columns


def display_columns(model: ModelInfo | None, records: Sequence[dict[str, Any]]) -> list[str]:
    if model is None:
        return all_columns(None, records)
    marked = [f.wire for f in model.fields if f.display]
    return marked or [f.wire for f in model.fields[:FALLBACK_COLUMNS]]


def parse_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one column", param_hint="'--columns'")
    return names


def choose_columns(
    model: ModelInfo | None,
    records: Sequence[dict[str, Any]],
    *,
    requested: list[str] | None,
    every: bool,
    default_all: bool,
) -> list[str]:
    """The columns to print: ``--columns`` (any spelling of a field: wire name, alias, attribute,
    case ignored), ``--all-columns``, or the default (display columns; all for CSV and JSON)."""
    known = all_columns(model, records)
    if requested is None:
        return known if every or default_all else display_columns(model, records)
    spellings: dict[str, str] = {c.lower(): c for c in known}
    if model is not None:
        for f in model.fields:
            spellings.setdefault(f.python.lower(), f.wire)
            for alias in f.aliases:
                spellings.setdefault(alias.lower(), f.wire)
    chosen = []
    for name in requested:
        column = spellings.get(name.lower())
        if column is None:
            raise click.BadParameter(
                f"no column {name!r}; columns: {', '.join(known)}", param_hint="'--columns'"
            )
        chosen.append(column)
    return chosen
