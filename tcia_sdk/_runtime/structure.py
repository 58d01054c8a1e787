"""What a wire value means for a model field: the reference semantics of decoding, in plain Python.

Every decoding path must agree with this module: the compiled fast path (`wire.py`) handles the
common shapes at parser speed and hands anything else to `structure_row`, and the tests compare the
two on generated bodies. The rules, per declared field type:

* ``str``: a JSON string. ``int``: a JSON integer; with ``coerce_from_string`` also a string holding
  one (``"4"``, DECIMAL text ``"500.000000"``). ``float``: a JSON number (an integer becomes a float);
  with ``coerce_from_string`` also a numeric string. ``bool``: true/false; with
  ``coerce_from_string`` also ``"true"``/``"false"``/``"yes"``/``"no"``/``"1"``/``"0"`` (any case)
  and the integers 0 and 1.
* ``date``/``datetime``: a string in the field's ``date_format``.
* ``list``: a JSON array of ``items`` (a tuple in Python); with a ``separator``, also one string
  joining them (NBIA's ``GROUP_CONCAT`` cells: ``"0.703125, 0.78125"``).
* ``model``: a JSON object of another model.
* A missing key and a JSON null are None. A field may also be found under one of its ``aliases``
  (an older server's spelling); the canonical name wins when both are present.

CSV cells (``from_text``) are all strings: numbers and booleans are read from their text, and an
empty cell is a NULL.

A value that breaks these rules is an *odd value*. In strict mode it raises; otherwise the row is
kept, the attribute is None, the raw value stays in ``additional_properties`` under its wire name,
and the odd value is reported (`tcia_sdk.odd_values`, ``RawResponse.odd_values``, a log warning).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, NamedTuple

from .endpoint import Field, ModelInfo
from .params import format_date

EMPTY_EXTRAS: Mapping[str, Any] = MappingProxyType({})
BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Formats that datetime.fromisoformat reads exactly (about 60x faster than strptime).
_ISO_DATETIME_FORMATS = frozenset({"%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"})


class FieldError(Exception):
    """A value that contradicts its field's declared type (wrapped in ResponseDecodeError or
    recorded as an odd value, never shown to callers as is)."""

    def __init__(self, field: str | None, value: object, expected: str) -> None:
        super().__init__(field, value, expected)
        self.field = field
        self.value = value
        self.expected = expected


class OddValue(NamedTuple):
    """A value the spec's types could not hold: where it was, what it was, what was expected."""

    model: str
    row: int
    field: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.model} row {self.row}: {self.field} = {self.value!r}, expected {self.expected}"


Report = Callable[[str, object, str], None]  # (wire field, raw value, expected) of one odd value


def parse_date(value: str, fmt: str) -> dt.date:
    """A date in the API's wire format (``%Y-%m-%d`` is read as ISO: exactly ``YYYY-MM-DD``)."""
    if fmt == "%Y-%m-%d" and _ISO_DATE.match(value):
        return dt.date.fromisoformat(value)
    reader = fixed_reader(fmt)
    if reader is not None:
        found = reader(value)
        if found is not None:
            return found.date()
    return dt.datetime.strptime(value, fmt).date()


def parse_datetime(value: str, fmt: str) -> dt.datetime:
    """A timestamp in the API's wire format, e.g. NBIA's ``2000-01-01 00:00:00.0``."""
    if fmt in _ISO_DATETIME_FORMATS:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass  # older Pythons read fewer ISO variants; strptime decides
    reader = fixed_reader(fmt)
    if reader is not None:
        found = reader(value)
        if found is not None:
            return found
    return dt.datetime.strptime(value, fmt)


# Directives a fixed-width reader handles, with their width and position in datetime()'s arguments.
_FIXED = {"%Y": (4, 0), "%m": (2, 1), "%d": (2, 2), "%H": (2, 3), "%M": (2, 4), "%S": (2, 5)}
_READERS: dict[str, Callable[[str], dt.datetime | None] | None] = {}


def fixed_reader(fmt: str) -> Callable[[str], dt.datetime | None] | None:
    """A reader of ``fmt``'s texts in their canonical fixed width (``%m-%d-%Y``: ``MM-DD-YYYY``),
    about 5x faster than strptime; None for formats with other directives.

    The reader gives the datetime of a text of exactly that shape (ASCII digits
    where the directives are, the literal characters in between), and None for any other text,
    which strptime then decides (it also reads ``1-5-2020``). On a text of that shape both agree:
    strptime tries the two-digit alternative of each directive first, and out-of-range values raise
    ValueError from ``datetime()`` in both.
    """
    if fmt in _READERS:
        return _READERS[fmt]
    reader = _compile_fixed(fmt)
    _READERS[fmt] = reader
    return reader


def _compile_fixed(fmt: str) -> Callable[[str], dt.datetime | None] | None:
    pattern: list[str] = []
    args: list[int] = []  # the datetime() argument of each group, in the order of the text
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            fixed = _FIXED.get(fmt[i : i + 2])
            if fixed is None:
                return None
            width, arg = fixed
            pattern.append(f"([0-9]{{{width}}})")
            args.append(arg)
            i += 2
        else:
            if fmt[i].isspace():
                return None  # strptime reads a space in the format as any run of whitespace
            pattern.append(re.escape(fmt[i]))
            i += 1
    if sorted(args)[:3] != [0, 1, 2] or len(set(args)) != len(args):
        return None  # no year, month and day, or a directive twice: strptime's defaults decide
    match = re.compile("".join(pattern)).fullmatch
    # the group (1-based) of each datetime() argument; 0: absent (hours, minutes, seconds: 0)
    group = [args.index(arg) + 1 if arg in args else 0 for arg in range(6)]
    y, m, d, hh, mm, ss = group

    if not (hh or mm or ss):

        def read(text: str) -> dt.datetime | None:
            found = match(text)
            if found is None:
                return None
            return dt.datetime(int(found[y]), int(found[m]), int(found[d]))

        return read

    def read_time(text: str) -> dt.datetime | None:
        found = match(text)
        if found is None:
            return None
        hour, minute, second = (int(found[g]) if g else 0 for g in (hh, mm, ss))
        return dt.datetime(int(found[y]), int(found[m]), int(found[d]), hour, minute, second)

    return read_time


def text_int(text: str) -> int:
    """An integer from its text, DECIMAL forms included (``"500.000000"``); ValueError if none."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(text)
    return int(number)


def text_float(text: str) -> float:
    value = float(text)  # "nan" and "inf" parse; they are numbers the server may hold
    return value


_EXPECTED = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}


def expected(field: Field) -> str:
    if field.type in _EXPECTED:
        what = _EXPECTED[field.type]
        return what + (" (or a string holding one)" if field.coerce_from_string else "")
    if field.type in ("date", "datetime"):
        return f"a {field.type} in the format {field.date_format}"
    if field.type == "map":
        return f"an object of {field.items} values"
    if field.type == "json":
        return "any JSON value"
    if field.type == "list":
        joined = f" or one string joined by {field.separator!r}" if field.separator else ""
        return f"a list of {field.items}{joined}"
    return f"a {field.model} object"


def convert_scalar(field: Field, kind: str, value: object, from_text: bool) -> object:
    """``value`` as the scalar type ``kind`` of ``field``, or FieldError."""
    coerce = field.coerce_from_string or from_text
    tv = type(value)
    if kind == "str":
        if tv is str:
            return value
    elif kind == "int":
        if tv is int:
            return value
        if coerce and tv is str:
            try:
                return text_int(value)  # type: ignore[arg-type]
            except ValueError:
                pass
    elif kind == "float":
        if tv is float:
            return value
        if tv is int:
            return float(value)  # type: ignore[arg-type]
        if coerce and tv is str:
            try:
                return text_float(value)  # type: ignore[arg-type]
            except ValueError:
                pass
    elif kind == "bool":
        if tv is bool:
            return value
        if coerce and tv is str and value.lower() in BOOL_WORDS:  # type: ignore[attr-defined]
            return BOOL_WORDS[value.lower()]  # type: ignore[attr-defined]
        if field.coerce_from_string and tv is int and value in (0, 1):
            return bool(value)  # native SQL booleans may arrive as 0/1
    elif kind in ("date", "datetime") and tv is str:
        assert field.date_format is not None
        try:
            if kind == "date":
                return parse_date(value, field.date_format)  # type: ignore[arg-type]
            return parse_datetime(value, field.date_format)  # type: ignore[arg-type]
        except ValueError:
            pass
    raise FieldError(field.wire, value, expected(field))


def convert(
    field: Field, value: object, registry: Mapping[str, ModelInfo], from_text: bool, report: Report
) -> object:
    """``value`` (not None) as ``field`` declares it; FieldError if it cannot be."""
    if field.type == "model":
        assert field.model is not None
        if not isinstance(value, dict):
            raise FieldError(field.wire, value, expected(field))
        return structure_row(registry[field.model], value, _nested(report, field.wire), from_text=False)
    if field.type == "json":
        return value
    if field.type == "map":
        assert field.items is not None
        if not isinstance(value, dict):
            raise FieldError(field.wire, value, expected(field))
        try:
            return {
                str(k): convert_scalar(field, field.items, v, False)
                for k, v in value.items()
                if v is not None
            }
        except FieldError:
            raise FieldError(field.wire, value, expected(field)) from None
    if field.type == "list":
        assert field.items is not None
        items: Sequence[object]
        if isinstance(value, str) and field.separator is not None:
            items = [part.strip() for part in value.split(field.separator.strip() or field.separator)]
            text = True
        elif isinstance(value, list):
            items, text = value, from_text
        else:
            raise FieldError(field.wire, value, expected(field))
        out = []
        for item in items:
            if item is None:
                raise FieldError(field.wire, value, expected(field))
            if field.items in registry:
                if not isinstance(item, dict):
                    raise FieldError(field.wire, value, expected(field))
                out.append(structure_row(registry[field.items], item, _nested(report, field.wire)))
                continue
            try:
                out.append(convert_scalar(field, field.items, item, text))
            except FieldError:
                raise FieldError(field.wire, value, expected(field)) from None
        return tuple(out)
    return convert_scalar(field, field.type, value, from_text)


def _nested(report: Report, prefix: str) -> Report:
    """Odd values inside a nested object are named by their path (``studies.StudyDate``)."""
    if report is _strict:
        return report
    return lambda field, value, what: report(f"{prefix}.{field}", value, what)


def field_value(field: Field, row: Mapping[str, Any]) -> tuple[object, str | None]:
    """The row's value for ``field`` and the key it was found under (canonical name first)."""
    if field.wire in row:
        return row[field.wire], field.wire
    for alias in field.aliases:
        if alias in row:
            return row[alias], alias
    return None, None


def structure_row(
    model: ModelInfo, row: Mapping[str, Any], report: Report | None, *, from_text: bool = False
) -> Any:
    """One row as ``model``: conversions the spec allows, unknown keys kept, odd values reported.

    ``report`` None: strict, the first odd value raises FieldError. ``from_text``: a CSV row, whose
    values are strings and whose empty cells are NULLs.
    """
    values: list[object] = []
    used: set[str] = set()
    extras: dict[str, Any] = {}
    for field in model.fields:
        value, key = field_value(field, row)
        if key is not None:
            used.add(key)
        if from_text and value == "":
            value = None
        if value is None:
            values.append(None)
            continue
        try:
            values.append(convert(field, value, model.registry, from_text, report or _strict))
        except FieldError as exc:
            if report is None:
                raise
            report(field.wire, value, exc.expected if exc.field == field.wire else expected(field))
            extras[field.wire] = value
            values.append(None)
    for key, value in row.items():
        if key not in used and not (from_text and value == ""):
            extras[key] = value
    return model.cls(*values, MappingProxyType(extras) if extras else EMPTY_EXTRAS)


def _strict(field: str, value: object, expected: str) -> None:
    raise FieldError(field, value, expected)


def odd_values(row: Any) -> dict[str, Any]:
    """The values of ``row`` (a model) that did not fit their declared types, by wire name.

    Outside strict mode such a value is kept as received in ``additional_properties`` and the
    attribute is None; this tells them apart from keys the spec does not know.
    """
    import attrs

    declared = {f.metadata["wire"] for f in attrs.fields(type(row)) if "wire" in f.metadata}
    extras: Mapping[str, Any] = getattr(row, "additional_properties", EMPTY_EXTRAS)
    return {k: v for k, v in extras.items() if k in declared}


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
        out[a.metadata["wire"]] = _wire_value(value, a.metadata)
    out.update(getattr(obj, "additional_properties", EMPTY_EXTRAS))
    return out


def _wire_value(value: Any, meta: Mapping[str, Any]) -> Any:
    fmt = meta.get("date_format")
    if fmt is not None and isinstance(value, dt.date):
        return format_date(value, fmt)
    if isinstance(value, tuple):
        items = [unstructure(v) if _is_model(v) else _wire_value(v, meta) for v in value]
        separator = meta.get("separator")
        if separator is not None:  # the server sends these joined into one string
            return separator.join(str(v) for v in items)
        return items
    if _is_model(value):
        return unstructure(value)
    return value


def _is_model(value: Any) -> bool:
    return hasattr(type(value), "__attrs_attrs__")
