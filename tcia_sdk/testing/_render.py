"""How the fake writes rows, the way each real server's serialiser does.

The JSON style comes from the spec (the API's ``json_style``, or an endpoint's own):

* ``jettison`` (NBIA's row endpoints, FormatOutput.toJSONArray): a NULL column is left out, numbers
  stay numbers, and every ``/`` in a string is escaped as ``\\/``;
* ``jackson`` (NBIA's portal endpoints, JSONUtil): every field present, NULL as ``null``;
* ``jackson_non_null``: NULLs left out;
* ``gson`` (Bindaas, TCIA v3): NULLs left out.

A field declared ``wire_type: str`` (a varchar or DECIMAL column) is sent as a string. CSV is quoted
as NBIA's toCsvQuoted writes it (every cell of a multi-column table, header included), a list-valued
cell (GROUP_CONCAT) joined by its separator; an empty result is a zero-length body on NBIA.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._runtime.endpoint import Endpoint, Field, ModelInfo
from .._runtime.params import format_date
from ._http import Response


def style_of(endpoint: Endpoint) -> str:
    return endpoint.json_style or endpoint.api.json_style


def wire_value(field: Field, value: Any) -> Any:
    """One dataset value as the server sends it for ``field``."""
    if isinstance(value, dt.date) and field.type in ("date", "datetime") and field.date_format:
        return format_date(value, field.date_format)
    if field.type == "list" and isinstance(value, tuple | list):
        if field.separator is not None:
            return field.separator.join(_text(v) for v in value)
        return list(value)
    if field.wire_type == "str":
        return str(value).lower() if isinstance(value, bool) else _text(value)
    if field.type == "str" and not isinstance(value, str):
        return value.isoformat() if isinstance(value, dt.date) else _text(value)
    if field.type == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return str(value)


def project(fields: Sequence[Field], rows: Sequence[Mapping[str, Any]], style: str) -> list[dict[str, Any]]:
    """Rows reduced to ``fields``, duplicates removed (getPatient lists patients, not images)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    keep_nulls = style == "jackson"
    for row in rows:
        projected: dict[str, Any] = {}
        for field in fields:
            value = row.get(field.wire)
            if value is None:
                if keep_nulls:
                    projected[field.wire] = None
                continue
            projected[field.wire] = wire_value(field, value)
        key = json.dumps(projected, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(projected)
    return out


def json_body(data: Any, style: str) -> bytes:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if style == "jettison":
        text = text.replace("/", "\\/")  # Jettison escapes every forward slash
    return text.encode("utf-8")


def json_response(data: Any, style: str, content_type: str = "application/json") -> Response:
    return Response(200, json_body(data, style), {"Content-Type": content_type})


def fields_of(model: ModelInfo | None, value_field: str | None) -> tuple[Field, ...]:
    if model is not None:
        return model.fields
    return (Field(value_field or "", "value", "str"),)


def render(endpoint: Endpoint, rows: Sequence[Mapping[str, Any]], fmt: str) -> Response:
    """A row or values endpoint's answer in ``fmt`` (json, csv, xml, html)."""
    api = endpoint.api
    fields = fields_of(endpoint.model, endpoint.value_field)
    style = style_of(endpoint)
    projected = project(fields, rows, style)
    ctype = api.content_types.get(fmt, "application/json")
    if not projected and api.empty_result == "empty_body":
        return Response(200, b"", {})
    if fmt == "json" or (not endpoint.formats and endpoint.body != "csv"):
        return Response(200, json_body(projected, style), {"Content-Type": ctype})
    columns = [f.wire for f in fields]
    if fmt == "csv":
        return Response(
            200, csv_text(columns, projected, endpoint.csv_header).encode(), {"Content-Type": ctype}
        )
    if fmt == "xml":
        items = "".join(
            "<Row>"
            + "".join(f"<{c}>{html.escape(str(r[c]))}</{c}>" for c in columns if r.get(c) is not None)
            + "</Row>"
            for r in projected
        )
        body = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Results>{items}</Results>'
        return Response(200, body.encode(), {"Content-Type": ctype})
    head = "".join(f"<TH>{html.escape(c)}</TH>" for c in columns)
    cells = "".join(
        "<TR>" + "".join(f"<TD>{html.escape(_cell(r.get(c)))}</TD>" for c in columns) + "</TR>"
        for r in projected
    )
    body = f"<P ALIGN='center'><TABLE BORDER=1><TR>{head}</TR>{cells}</TABLE></P>"
    return Response(200, body.encode(), {"Content-Type": ctype})


def _cell(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """NBIA's CSV: every cell quoted for multi-column tables (toCsvQuoted), plain for one column.

    ``header``: the literal header the server writes over these columns (when its names are wrong).
    """
    text = io.StringIO()
    if len(columns) > 1:
        writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(header) or list(columns))
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return text.getvalue()
