"""Turning Python call arguments into wire parameters, as each `Param` declares.

Arguments are checked against their declared types before anything is sent: a wrong type is a
TypeError and an unusable value (an empty string, an unknown enum value, an empty required list) a
ValueError, each naming the method and the parameter. The type hints already say this to mypy;
these checks say it to callers whose values come from files, DataFrames or user input.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from .endpoint import Endpoint, Param

WireParams = list[tuple[str, str]]


def format_date(value: dt.date, fmt: str) -> str:
    """Write a date or datetime in the API's own format (v3 ``%Y-%m-%d``, NBIA v4 ``%m-%d-%Y``).

    The year is written with four digits first: strftime pads years below 1000 differently across
    platforms, and PATHFINDER's "all dates" trick sends 0001-01-01.
    """
    return value.strftime(fmt.replace("%Y", f"{value.year:04d}"))


def _where(endpoint: Endpoint, param: Param) -> str:
    return f"{endpoint.python_name}(): {param.python}"


def _type_name(value: object) -> str:
    return type(value).__name__


def _encode_one(endpoint: Endpoint, param: Param, value: object) -> str | None:
    """One value on the wire; None: a bool whose wire form for this value is "leave it out"."""
    kind = param.type
    if kind == "date":
        if not isinstance(value, dt.date):
            raise TypeError(f"{_where(endpoint, param)} must be a datetime.date, not {_type_name(value)}")
        assert param.date_format is not None
        return format_date(value, param.date_format)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{_where(endpoint, param)} must be a bool, not {_type_name(value)}")
        return param.true_value if value else param.false_value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{_where(endpoint, param)} must be an int, not {_type_name(value)}")
        return str(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{_where(endpoint, param)} must be a number, not {_type_name(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{_where(endpoint, param)} must be a finite number, got {value!r}")
        return repr(float(value)) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise TypeError(f"{_where(endpoint, param)} must be a str, not {_type_name(value)}")
    if kind == "enum":
        if value not in param.enum:
            allowed = ", ".join(repr(v) for v in param.enum)
            raise ValueError(f"{_where(endpoint, param)} must be one of {allowed}; got {value!r}")
        return value
    if not value.strip():
        # An empty filter is never what a caller meant: NBIA matches nothing, or everything.
        raise ValueError(f"{_where(endpoint, param)} must not be empty or only whitespace")
    if param.repeated and not param.explode and "," in value:
        raise ValueError(
            f"{_where(endpoint, param)} items are sent comma-joined, so an item cannot hold a comma: "
            f"{value!r}"
        )
    return value


def _items(endpoint: Endpoint, param: Param, value: object) -> list[str]:
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(
        value, Sequence | set | frozenset
    ):
        raise TypeError(
            f"{_where(endpoint, param)} must be a list of {param.type} values, not {_type_name(value)}"
        )
    items = [_encode_one(endpoint, param, item) for item in value]
    out = [item for item in items if item is not None]
    if not out and param.required:
        raise ValueError(f"{_where(endpoint, param)} must not be empty")
    return out


def encode_params(endpoint: Endpoint, values: Mapping[str, object]) -> WireParams:
    """Encode the call's arguments into ordered wire pairs; None means absent.

    Arguments are keyed by wire name, and criteria by their Python name (they share wire keys).
    """
    out: WireParams = []
    criteria: list[tuple[Param, object]] = []
    for param in endpoint.params:
        if param.criterion is not None:
            criteria.append((param, values.get(param.python)))
            continue
        value = values.get(param.wire)
        if value is None:
            if param.required and param.default is None:
                raise TypeError(f"{_where(endpoint, param)} is required")
            if param.default is not None:
                out.append((param.wire, param.default))
            continue
        if param.repeated:
            items = _items(endpoint, param, value)
            if param.explode:
                out.extend((param.wire, item) for item in items)
            elif items:
                out.append((param.wire, ",".join(items)))
            continue
        encoded = _encode_one(endpoint, param, value)
        if encoded is not None:
            out.append((param.wire, encoded))
    if criteria:
        out.extend(_encode_criteria(endpoint, criteria))
    return out


def _encode_criteria(endpoint: Endpoint, criteria: list[tuple[Param, object]]) -> WireParams:
    """Indexed criteria: each value its own criterion, numbered 0, 1, 2... with no gap (the server
    stops at the first missing index, so a gap would silently drop the rest)."""
    given = {param.python for param, value in criteria if value is not None}
    out: WireParams = []
    index = 0
    for param, value in criteria:
        if value is None:
            continue
        if param.requires is not None and param.requires not in given:
            raise ValueError(
                f"{_where(endpoint, param)} needs {param.requires} too (the server fails without it)"
            )
        assert param.type_key is not None
        for item in _criterion_values(endpoint, param, value):
            out.append((param.type_key.format(i=index), param.criterion or ""))
            out.extend((key.format(i=index), text) for key, text in item)
            index += 1
    return out


def _criterion_values(endpoint: Endpoint, param: Param, value: object) -> list[list[tuple[str, str]]]:
    """The companion pairs of each criterion ``value`` stands for (one per item when ``many``)."""
    keys = dict(param.criterion_keys)
    if "from" in keys:
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise TypeError(f"{_where(endpoint, param)} must be a (from, to) pair, not {_type_name(value)}")
        low, high = (_criterion_one(endpoint, param, v) for v in value)
        if low is None or high is None:
            raise ValueError(f"{_where(endpoint, param)} needs both ends of the range")
        return [[(keys["from"], low), (keys["to"], high)]]
    items: list[object]
    if param.many and not isinstance(value, str) and isinstance(value, Sequence | set | frozenset):
        items = list(value)
        if not items:
            raise ValueError(f"{_where(endpoint, param)} must not be an empty list")
    else:
        items = [value]
    out = []
    for item in items:
        text = _criterion_one(endpoint, param, item)
        if text is not None:
            out.append([(keys["value"], text)])
    return out


def _criterion_one(endpoint: Endpoint, param: Param, value: object) -> str | None:
    if param.type == "int" and param.offset and isinstance(value, int) and not isinstance(value, bool):
        value = value + param.offset
    text = _encode_one(endpoint, param, value)
    if text is not None and param.upper:
        text = text.upper()
    return text


def chunked_param(endpoint: Endpoint) -> Param | None:
    """The parameter whose list is split into several requests, if the spec caps one."""
    return next((p for p in endpoint.params if p.repeated and p.chunk), None)


def chunks(endpoint: Endpoint, values: Mapping[str, object]) -> list[Mapping[str, object]]:
    """The call's arguments split so that no request carries more than the declared chunk.

    A call within the cap is one request, as before; order is kept, duplicates are kept.
    """
    param = chunked_param(endpoint)
    if param is None or param.chunk is None:
        return [values]
    items = values.get(param.wire)
    if not isinstance(items, Sequence) or isinstance(items, str) or len(items) <= param.chunk:
        return [values]
    size = param.chunk
    return [{**values, param.wire: list(items[i : i + size])} for i in range(0, len(items), size)]


def from_wire(endpoint: Endpoint, values: Mapping[str, str]) -> dict[str, object]:
    """Wire-spelled constants (a spec's ``zip_params: {IncludeMD5: "yes"}``) as call arguments."""
    out: dict[str, object] = {}
    for wire, text in values.items():
        param = next((p for p in endpoint.params if p.wire == wire), None)
        if param is not None and param.type == "bool":
            if text == param.true_value:
                out[wire] = True
                continue
            if text == param.false_value:
                out[wire] = False
                continue
            raise ValueError(f"{endpoint.python_name}(): {text!r} is not a wire value of {param.python}")
        if param is not None and param.type == "int":
            out[wire] = int(text)
            continue
        out[wire] = text
    return out


def location_of(endpoint: Endpoint, wire: str) -> str:
    """Where a wire key goes (query or form), criteria keys (value3, fromDate0) included."""
    for param in endpoint.params:
        if param.wire == wire:
            return param.location
        if param.criterion is not None and _is_criterion_key(param, wire):
            return param.location
    return "query"


def _is_criterion_key(param: Param, wire: str) -> bool:
    templates = [param.type_key or "", *(key for _, key in param.criterion_keys)]
    for template in templates:
        head, _, tail = template.partition("{i}")
        middle = (
            wire[len(head) : len(wire) - len(tail)] if wire.startswith(head) and wire.endswith(tail) else ""
        )
        if middle.isdigit():
            return True
    return False
