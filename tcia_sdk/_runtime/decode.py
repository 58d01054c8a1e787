"""Turning response bodies into the values the spec promises, or into a precise ResponseDecodeError.

A JSON body of rows goes first through the model's compiled fast path (`wire.py`); a body it does
not accept exactly is decoded by the reference path (`structure.py`), which applies the resilience
policy: outside strict mode, a value that does not fit its field never sinks the call — the row is
kept, the value stays reachable in ``additional_properties``, and it is reported (a warning on the
``tcia_sdk`` logger and ``RawResponse.odd_values``). Only a body that is not what the endpoint
answers at all (HTML, not an array, rows that are not objects, invalid JSON) raises, and strict
mode (``Client(strict=True)``) raises on the first odd value too.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import httpx

from ..errors import ResponseDecodeError
from .endpoint import Endpoint, ModelInfo
from .redact import Redactor
from .structure import EMPTY_EXTRAS, FieldError, OddValue, structure_row
from .wire import Fallback, FastDecoder

M = TypeVar("M")
log = logging.getLogger("tcia_sdk")
EXCERPT_LIMIT = 500
# Above this many bytes a body is decoded with the cyclic GC paused: on CPython 3.11 the allocation
# burst of ~100k rows triggers repeated full collections that cost more than the parse.
GC_PAUSE_THRESHOLD = 1 << 20
_HTML = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<p\b|<table\b)", re.IGNORECASE)


class Rows(list[M], Generic[M]):
    """A list of models that remembers its model class, so that an empty answer still knows its
    columns (`tcia_sdk.to_dataframe` of ``[]`` keeps them). It is a plain list otherwise."""

    __slots__ = ("model",)

    def __init__(self, rows: Iterable[M] = (), model: type | None = None) -> None:
        super().__init__(rows)
        self.model = model


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


class DecodeContext:
    """Where a body came from (so that an error can say so), the policy, and the odd values found."""

    def __init__(
        self,
        endpoint: Endpoint,
        method: str,
        request_url: httpx.URL | str,
        redactor: Redactor,
        response: httpx.Response,
        retries_taken: int = 0,
        *,
        strict: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.method = method
        self.request_url = request_url
        self.redactor = redactor
        self.response = response
        self.retries_taken = retries_taken
        self.strict = strict
        self.odd: list[OddValue] = []

    @property
    def url(self) -> str:
        """The request's URL with secrets removed (worked out only when an error needs it)."""
        return self.redactor.url(self.request_url)

    def error(
        self, message: str, *, field: str | None = None, value: object = None, row: int | None = None
    ) -> ResponseDecodeError:
        return ResponseDecodeError(
            self.redactor.text(message),
            endpoint=self.endpoint.name,
            method=self.method,
            url=self.url,
            status_code=self.response.status_code,
            content_type=self.response.headers.get("content-type", ""),
            body_excerpt=self.redactor.text(excerpt(self.response.content)),
            field=field,
            value=value,
            row=row,
            retries_taken=self.retries_taken,
        )

    def row_error(self, model: str, index: int, exc: FieldError) -> ResponseDecodeError:
        """A row that contradicts its model, naming the field and the value."""
        what = f"field {exc.field!r}" if exc.field else "row"
        shown = _short(exc.value)
        return self.error(
            f"{model} row {index}: {what} is {shown}, expected {exc.expected}",
            field=exc.field,
            value=exc.value,
            row=index,
        )

    def reporter(self, model: str, index: int) -> Any:
        """The odd-value callback for one row: record it (lenient), or None (strict: raise)."""
        if self.strict:
            return None

        def report(field: str, value: object, expected: str) -> None:
            self.odd.append(OddValue(model, index, field, value, expected))

        return report

    def warn_odd(self) -> None:
        if not self.odd:
            return
        first = self.odd[0]
        log.warning(
            "%s: %d value(s) did not fit their declared types; each row was kept with the value in "
            "additional_properties (first: %s row %d: %s = %s, expected %s); pass strict=True to "
            "raise instead",
            self.endpoint.name,
            len(self.odd),
            first.model,
            first.row,
            first.field,
            self.redactor.text(_short(first.value)),
            first.expected,
        )


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# -- JSON ---------------------------------------------------------------------------------------
def _empty(ctx: DecodeContext) -> bool:
    """True when the body says "no results" the API's way; an error if it is empty unexpectedly."""
    response = ctx.response
    content = response.content
    if response.status_code == 204 or not content.strip():
        if response.status_code == 204 or ctx.endpoint.api.empty_result == "empty_body":
            return True
        raise ctx.error("empty body where this API always sends JSON ([] when there are no results)")
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or _HTML.match(content):
        raise ctx.error(f"an HTML page ({ctype or 'no content type'}) where JSON was expected")
    return False


def load_json(ctx: DecodeContext) -> Any:
    """The body as plain JSON values (for the reference path and values lists)."""
    import msgspec

    content = ctx.response.content
    try:
        with gc_paused(len(content) > GC_PAUSE_THRESHOLD):
            try:
                return msgspec.json.decode(content)
            except msgspec.DecodeError:
                # NaN and Infinity literals, which Java serialisers write: the stdlib parser reads them.
                return json.loads(content)
    except RecursionError as exc:  # chained: the original stays the error's __cause__
        raise ctx.error("JSON nested too deeply to be a TCIA answer") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ctx.error(f"invalid JSON ({exc})") from exc


def _fast(model: ModelInfo) -> FastDecoder | None:
    if model.decoders is None:
        return None
    found: FastDecoder | None = model.decoders().get(model.name)
    return found


def decode_rows(ctx: DecodeContext, model: ModelInfo) -> Rows[Any]:
    """A JSON array body as rows of ``model``: fast path first, the reference path if it declines."""
    if _empty(ctx):
        return Rows((), model.cls)
    content = ctx.response.content
    fast = _fast(model)
    if fast is not None:
        try:
            with gc_paused(len(content) > GC_PAUSE_THRESHOLD):
                return Rows(fast.decode_rows(content), model.cls)
        except Fallback:
            pass
    return reference_rows(ctx, model, load_json(ctx))


def reference_rows(ctx: DecodeContext, model: ModelInfo, data: object) -> Rows[Any]:
    """Rows by the reference semantics (`structure.py`), with the resilience policy applied."""
    if type(data) is not list:
        raise ctx.error(f"expected a JSON array of objects, got {type(data).__name__}")
    out: Rows[Any] = Rows((), model.cls)
    with gc_paused(len(data) > 10_000):
        for index, row in enumerate(data):
            if not isinstance(row, dict):
                raise ctx.error(f"row {index} is {_short(row)}, expected an object", row=index, value=row)
            try:
                out.append(structure_row(model, row, ctx.reporter(model.name, index)))
            except FieldError as exc:
                raise ctx.row_error(model.name, index, exc) from None
    ctx.warn_odd()
    return out


def decode_json_result(ctx: DecodeContext) -> Any:
    """Decode a JSON body into what the endpoint's result kind promises."""
    endpoint = ctx.endpoint
    if endpoint.result == "values":
        return [] if _empty(ctx) else _values(ctx, load_json(ctx))
    if endpoint.result == "strings":
        return [] if _empty(ctx) else _strings(ctx, load_json(ctx))
    model = endpoint.model
    assert model is not None
    if endpoint.result in ("object", "page"):
        return decode_object(ctx, model)
    rows = decode_rows(ctx, model)
    if endpoint.result == "rows":
        return rows
    return _one(ctx, model, rows)


def decode_object(ctx: DecodeContext, model: ModelInfo) -> Any:
    """A body holding one JSON object (not an array) as ``model``; no data (an empty body or a JSON
    null, as getSharedList answers an unknown name) is the model with every field None."""
    if _empty(ctx) or ctx.response.content.strip() == b"null":
        return model.cls()
    fast = _fast(model)
    if fast is not None:
        try:
            return fast.decode_one(ctx.response.content)
        except Fallback:
            pass
    data = load_json(ctx)
    if not isinstance(data, dict):
        raise ctx.error(f"expected a JSON object, got {type(data).__name__}")
    try:
        obj = structure_row(model, data, ctx.reporter(model.name, 0))
    except FieldError as exc:
        raise ctx.row_error(model.name, 0, exc) from None
    ctx.warn_odd()
    return obj


def _strings(ctx: DecodeContext, data: object) -> list[str]:
    """A JSON array of strings (getCollectionSite); a non-string item is an odd value."""
    if type(data) is not list:
        raise ctx.error(f"expected a JSON array of strings, got {type(data).__name__}")
    out: list[str] = []
    for index, item in enumerate(data):
        if type(item) is str:
            out.append(item)
        elif item is not None:
            if ctx.strict:
                raise ctx.error(f"item {index} is {_short(item)}, expected a string", value=item, row=index)
            ctx.odd.append(OddValue("str", index, "", item, "a string"))
    ctx.warn_odd()
    return out


def _one(ctx: DecodeContext, model: ModelInfo, rows: Sequence[Any]) -> Any:
    """ "row" results: a one-element array; no element (NBIA's empty body) is all fields None."""
    if not rows:
        return model.cls()
    if len(rows) > 1:
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
            raise ctx.error(f"row {index} is {_short(row)}, expected an object", row=index, value=row)
        value = row.get(field)
        if value is None:  # a NULL value ({} row): not a value of the list
            continue
        if type(value) is not str:
            if ctx.strict:
                raise ctx.error(
                    f"row {index}: field {field!r} is {_short(value)}, expected a string",
                    field=field,
                    value=value,
                    row=index,
                )
            ctx.odd.append(OddValue(field, index, field, value, "a string"))
            continue
        out.append(value)
    ctx.warn_odd()
    return out


# -- CSV ----------------------------------------------------------------------------------------
def decode_csv_result(ctx: DecodeContext) -> Any:
    """Rows sent as CSV with a header of wire names (NBIA v4 getSeriesMetadata), as typed models.

    Columns are matched by name (or an alias: an older server's spelling), in any order; unknown
    columns are kept in ``additional_properties``; an empty cell is a NULL.
    """
    endpoint = ctx.endpoint
    model = endpoint.model
    assert model is not None
    response = ctx.response
    if response.status_code == 204 or not response.content.strip():
        return Rows((), model.cls) if endpoint.result == "rows" else model.cls()
    if _HTML.match(response.content):
        raise ctx.error("an HTML page where CSV was expected")
    try:
        reader = csv.reader(io.StringIO(response.text))
        header = next(reader, None) or []
        rows = _csv_rows(ctx, model, header, reader)
    except csv.Error as exc:
        raise ctx.error(f"invalid CSV ({exc})") from None
    ctx.warn_odd()
    if endpoint.result == "rows":
        return rows
    if len(rows) != 1:
        raise ctx.error(f"expected one {model.name} row, got {len(rows)}")
    return rows[0]


def _csv_rows(
    ctx: DecodeContext, model: ModelInfo, header: list[str], reader: Iterator[list[str]]
) -> Rows[Any]:
    if ctx.endpoint.csv_header and header == list(ctx.endpoint.csv_header):
        # The server's known-wrong header (its names are shifted against its cells): read the
        # cells by position, in the model's field order. Any other header is read by name.
        header = [f.wire for f in model.fields][: len(header)]
    position = {name: i for i, name in reversed(list(enumerate(header)))}  # the first of duplicates
    columns: list[int] = []
    for field in model.fields:
        names = (field.wire, *field.aliases)
        columns.append(next((position[n] for n in names if n in position), -1))
    if all(c < 0 for c in columns):
        # A renamed header would otherwise give rows of None without a word.
        shown = ", ".join(header[:5])
        raise ctx.error(f"the CSV header ({shown}, ...) has none of the {model.name} columns")
    width = len(header)
    used = {c for c in columns if c >= 0}
    extra = [(i, name) for i, name in enumerate(header) if i not in used]
    exact = columns == list(range(width)) and len(position) == width
    # Cells in the model's field order; a missing column reads the "" appended to every row.
    pick = itemgetter(*[c if c >= 0 else width for c in columns]) if len(columns) > 1 else None
    fast = _fast(model) if len(position) == width else None  # duplicate names: reference only
    out: Rows[Any] = Rows((), model.cls)
    for index, cells in enumerate(reader):
        if len(cells) > width:
            raise ctx.error(f"CSV row {index} has more cells than the header", row=index)
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        obj: Any = None
        if fast is not None:
            try:
                if exact:
                    obj = fast.text(cells)
                elif pick is not None:
                    obj = fast.text(pick([*cells, ""]))
                else:
                    obj = fast.text([cells[columns[0]] if columns[0] >= 0 else ""])
            except Fallback:
                obj = None
            if obj is not None and extra:
                extras = {name: cells[i] for i, name in extra if cells[i] != ""}
                if extras:
                    obj.additional_properties = MappingProxyType(extras)
        if obj is None:
            row = dict(zip(header, cells, strict=True))
            try:
                obj = structure_row(model, row, ctx.reporter(model.name, index), from_text=True)
            except FieldError as exc:
                raise ctx.row_error(model.name, index, exc) from None
        out.append(obj)
    return out


__all__ = [
    "EMPTY_EXTRAS",
    "EXCERPT_LIMIT",
    "DecodeContext",
    "OddValue",
    "Rows",
    "decode_csv_result",
    "decode_json_result",
    "decode_object",
    "decode_rows",
    "excerpt",
    "load_json",
    "reference_rows",
]
