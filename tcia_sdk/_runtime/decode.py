"""Turning response bodies into the values the spec promises, or into a precise ResponseDecodeError.

Rows are structured by generated functions with a fast path (exact types, no unknown keys) that
falls back to `structure_slow`, which converts what the spec allows (numbers sent as strings, dates),
keeps unknown keys in ``additional_properties`` and names the field and value when a row is wrong.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import httpx

from ..errors import ResponseDecodeError
from .endpoint import Endpoint, Field, ModelInfo
from .params import format_date
from .redact import Redactor

M = TypeVar("M")
EXCERPT_LIMIT = 500
EMPTY_EXTRAS: Mapping[str, Any] = MappingProxyType({})
# Above this many bytes, a JSON body is decoded with the cyclic GC paused: on CPython 3.11 the
# allocation burst of ~100k rows triggers repeated full collections that cost more than the parse.
GC_PAUSE_THRESHOLD = 1 << 20


class FieldError(Exception):
    """A row field that contradicts its declared type (internal; wrapped in ResponseDecodeError)."""

    def __init__(self, field: str | None, value: object, expected: str) -> None:
        super().__init__(field, value, expected)
        self.field = field
        self.value = value
        self.expected = expected


def excerpt(content: bytes, limit: int = EXCERPT_LIMIT) -> str:
    text = content[: limit * 4].decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


@contextmanager
def gc_paused(active: bool) -> Iterator[None]:
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# Formats that datetime.fromisoformat reads (about 60x faster than strptime on CPython 3.11).
_ISO_DATETIME_FORMATS = frozenset({"%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"})


# Bound on remembered type signatures per model, so hostile data cannot grow memory without limit.
SIGNATURE_CACHE_LIMIT = 4096


def judge_signature(
    cache: dict[tuple[type, ...], int], signature: tuple[type, ...], allowed: Sequence[frozenset[type]]
) -> int:
    """Judge a row's tuple of value types once: the key count an acceptable row has, else -1.

    Generated structure functions cache the verdict, so the per-row type check of the fast path
    is one tuple build and one dict lookup instead of a check per field.
    """
    ok = len(signature) == len(allowed) and all(t in a for t, a in zip(signature, allowed, strict=True))
    verdict = len(signature) - signature.count(type(None)) if ok else -1
    if len(cache) < SIGNATURE_CACHE_LIMIT:
        cache[signature] = verdict
    return verdict


def parse_date(value: str, fmt: str) -> dt.date:
    """A date in the API's wire format (``%Y-%m-%d`` takes the fast ISO path)."""
    if fmt == "%Y-%m-%d" and len(value) == 10:
        return dt.date.fromisoformat(value)
    return dt.datetime.strptime(value, fmt).date()


def parse_datetime(value: str, fmt: str) -> dt.datetime:
    """A timestamp in the API's wire format, e.g. NBIA's ``2000-01-01 00:00:00.0``."""
    if fmt in _ISO_DATETIME_FORMATS:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass  # older Pythons read fewer ISO variants; strptime decides
    return dt.datetime.strptime(value, fmt)


def _convert(field: Field, value: object, from_text: bool = False) -> object:
    """``value`` as the field's type. ``from_text``: a CSV cell, where every value is a string."""
    kind = field.type
    if from_text and kind in ("int", "float", "bool"):
        field = field._replace(coerce_from_string=True)
    if kind == "str":
        if type(value) is str:
            return value
    elif kind == "int":
        if type(value) is int:
            return value
        if field.coerce_from_string and type(value) is str:
            from decimal import Decimal, InvalidOperation  # slow path only

            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                pass
            else:
                if number.is_finite() and number == number.to_integral_value():
                    return int(number)
    elif kind == "float":
        if type(value) in (int, float):
            return value
        if field.coerce_from_string and type(value) is str:
            try:
                return float(value)
            except ValueError:
                pass
    elif kind == "bool":
        if type(value) is bool:
            return value
        if field.coerce_from_string and type(value) is str and value.lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.lower()]
        if field.coerce_from_string and type(value) is int and value in (0, 1):
            return bool(value)  # native SQL booleans may arrive as 0/1
    elif kind in ("date", "datetime") and type(value) is str:
        assert field.date_format is not None
        try:
            if kind == "date":
                return parse_date(value, field.date_format)
            return parse_datetime(value, field.date_format)
        except ValueError:
            raise FieldError(field.wire, value, f"a {kind} in the format {field.date_format}") from None
    expected = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}
    what = expected.get(kind, f"a {kind} string")
    if field.coerce_from_string and kind in ("int", "float", "bool"):
        what += " (or a string holding one)"
    raise FieldError(field.wire, value, what)


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def structure_slow(cls: Callable[..., M], fields: Sequence[Field], row: object, from_text: bool = False) -> M:
    """Structure one row precisely: conversions the spec allows, unknown keys kept, errors named.

    ``from_text``: a CSV row, whose values are all strings and whose empty cells are NULLs.
    """
    if not isinstance(row, dict):
        raise FieldError(None, row, "a JSON object")
    values: dict[str, object] = {}
    known: set[str] = set()
    for field in fields:
        known.add(field.wire)
        value = row.get(field.wire)
        if from_text and value == "":
            value = None
        values[field.python] = None if value is None else _convert(field, value, from_text)
    extras = {k: v for k, v in row.items() if k not in known}
    return cls(**values, additional_properties=MappingProxyType(extras) if extras else EMPTY_EXTRAS)


def unstructure(obj: Any) -> dict[str, Any]:
    """A model back to its wire dict (absent stays absent; unknown keys come back as they were)."""
    import attrs  # loaded already: obj is an attrs model

    out: dict[str, Any] = {}
    for a in attrs.fields(type(obj)):
        if a.name == "additional_properties":
            continue
        value = getattr(obj, a.name)
        if value is None:
            continue
        fmt = a.metadata.get("date_format")
        if fmt is not None and isinstance(value, dt.date):
            value = format_date(value, fmt)
        out[a.metadata["wire"]] = value
    out.update(getattr(obj, "additional_properties", EMPTY_EXTRAS))
    return out


class DecodeContext(NamedTuple):
    """Where a body came from, so that an error can say so."""

    endpoint: Endpoint
    method: str
    request_url: httpx.URL | str
    redactor: Redactor
    response: httpx.Response
    retries_taken: int = 0

    @property
    def url(self) -> str:
        """The request's URL with secrets removed (worked out only when an error needs it)."""
        return self.redactor.url(self.request_url)

    def error(
        self, message: str, *, field: str | None = None, value: object = None, row: int | None = None
    ) -> ResponseDecodeError:
        return ResponseDecodeError(
            message,
            endpoint=self.endpoint.name,
            method=self.method,
            url=self.url,
            status_code=self.response.status_code,
            content_type=self.response.headers.get("content-type", ""),
            body_excerpt=excerpt(self.response.content),
            field=field,
            value=value,
            row=row,
            retries_taken=self.retries_taken,
        )

    def row_error(self, model: ModelInfo, index: int, exc: FieldError) -> ResponseDecodeError:
        """A row that contradicts its model, naming the field and the value."""
        what = f"field {exc.field!r}" if exc.field else "row"
        return self.error(
            f"{model.name} row {index}: {what} is {exc.value!r}, expected {exc.expected}",
            field=exc.field,
            value=exc.value,
            row=index,
        )


_HTML = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<p\b|<table\b)", re.IGNORECASE)


def load_json(ctx: DecodeContext, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """Parse a JSON body; the API's empty-result convention yields ``[]``."""
    response = ctx.response
    content = response.content
    if response.status_code == 204 or not content.strip():
        if response.status_code == 204 or ctx.endpoint.api.empty_result == "empty_body":
            return []
        raise ctx.error("empty body where this API always sends JSON ([] when there are no results)")
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or _HTML.match(content):
        raise ctx.error(f"an HTML page ({ctype or 'no content type'}) where JSON was expected")
    try:
        with gc_paused(len(content) > GC_PAUSE_THRESHOLD):
            return json.loads(content, object_hook=object_hook)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ctx.error(f"invalid JSON ({exc})") from None


def structure_rows(ctx: DecodeContext, data: object, model: ModelInfo) -> list[Any]:
    if type(data) is not list:
        raise ctx.error(f"expected a JSON array of objects, got {type(data).__name__}")
    fn: Callable[[Mapping[str, Any]], Any] = model.structure
    try:
        with gc_paused(len(data) > 10_000):
            return list(map(fn, data))
    except (FieldError, AttributeError, TypeError):
        pass
    # Rare path: find the first bad row and explain it.
    for index, row in enumerate(data):
        try:
            structure_slow(model.cls, model.fields, row)
        except FieldError as exc:
            raise ctx.row_error(model, index, exc) from None
    raise ctx.error(f"could not structure {model.name} rows")  # pragma: no cover - defensive


def _rows_while_parsing(ctx: DecodeContext, model: ModelInfo) -> list[Any]:
    """Structure each row as the JSON parser completes it (rows of TCIA APIs are flat objects).

    Each row's dict is freed as soon as its model exists, instead of a second pass over a list of
    dicts; anything unexpected (a row that is not an object, a field of the wrong type) is worked
    out again on the plain parse, which names the offending row and field.
    """
    try:
        data = load_json(ctx, object_hook=model.structure)
    except (FieldError, AttributeError, TypeError):
        return structure_rows(ctx, load_json(ctx), model)
    if type(data) is list and (not data or set(map(type, data)) == {model.cls}):
        return data
    return structure_rows(ctx, load_json(ctx), model)


def decode_json_result(ctx: DecodeContext) -> Any:
    """Decode a JSON body into what the endpoint's result kind promises."""
    endpoint = ctx.endpoint
    if endpoint.result == "values":
        return _values(ctx, load_json(ctx))
    model = endpoint.model
    assert model is not None
    rows = _rows_while_parsing(ctx, model)
    if endpoint.result == "rows":
        return rows
    # "row": a one-element array; no element (NBIA's empty body) means no data: all fields None.
    if not rows:
        return model.cls()
    if len(rows) > 1:
        raise ctx.error(f"expected one {model.name} row, got {len(rows)}")
    return rows[0]


def decode_csv_result(ctx: DecodeContext) -> Any:
    """Rows sent as CSV with a header of wire names (NBIA v4 getSeriesMetadata), as typed models."""
    import csv
    import io

    endpoint = ctx.endpoint
    model = endpoint.model
    assert model is not None
    text = ctx.response.text
    if ctx.response.status_code == 204 or not text.strip():
        return [] if endpoint.result == "rows" else model.cls()
    if _HTML.match(ctx.response.content):
        raise ctx.error("an HTML page where CSV was expected")
    rows: list[Any] = []
    try:
        reader = csv.DictReader(io.StringIO(text))
        known = {f.wire for f in model.fields}
        if reader.fieldnames is not None and not known.intersection(reader.fieldnames):
            # A renamed header would otherwise give rows of None without a word.
            shown = ", ".join(list(reader.fieldnames)[:5])
            raise ctx.error(f"the CSV header ({shown}, ...) has none of the {model.name} columns")
        for index, row in enumerate(reader):
            if None in row:  # more cells than header columns
                raise ctx.error(f"CSV row {index} has more cells than the header", row=index)
            try:
                rows.append(structure_slow(model.cls, model.fields, row, from_text=True))
            except FieldError as exc:
                raise ctx.row_error(model, index, exc) from None
    except csv.Error as exc:
        raise ctx.error(f"invalid CSV ({exc})") from None
    if endpoint.result == "rows":
        return rows
    if len(rows) != 1:
        raise ctx.error(f"expected one {model.name} row, got {len(rows)}")
    return rows[0]


def _values(ctx: DecodeContext, data: object) -> list[str]:
    field = ctx.endpoint.value_field
    assert field is not None
    if type(data) is not list:
        raise ctx.error(f"expected a JSON array of objects, got {type(data).__name__}")
    out: list[str] = []
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            raise ctx.error(f"row {index} is {row!r}, expected an object", row=index, value=row)
        value = row.get(field)
        if value is None:  # a NULL value ({} row): not a value of the list
            continue
        if type(value) is not str:
            raise ctx.error(
                f"row {index}: field {field!r} is {value!r}, expected a string",
                field=field,
                value=value,
                row=index,
            )
        out.append(value)
    return out
