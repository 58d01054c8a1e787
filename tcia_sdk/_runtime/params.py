"""Turning Python call arguments into wire parameters, as each `Param` declares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from .endpoint import Endpoint, Param

WireParams = list[tuple[str, str]]


def format_date(value: dt.date, fmt: str) -> str:
    """Write a date or datetime in the API's own format (v3 ``%Y-%m-%d``, NBIA v4 ``%m-%d-%Y``).

    The year is written with four digits first: strftime pads years below 1000 differently across
    platforms, and PATHFINDER's "all dates" trick sends 0001-01-01.
    """
    return value.strftime(fmt.replace("%Y", f"{value.year:04d}"))


def _encode_one(endpoint: Endpoint, param: Param, value: object) -> str:
    kind = param.type
    if kind == "date":
        if not isinstance(value, dt.date):
            raise TypeError(
                f"{endpoint.python_name}(): {param.python} must be a datetime.date, "
                f"not {type(value).__name__}"
            )
        assert param.date_format is not None
        return format_date(value, param.date_format)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{endpoint.python_name}(): {param.python} must be a bool")
        return "true" if value else "false"
    if kind == "enum":
        text = str(value)
        if text not in param.enum:
            raise ValueError(
                f"{endpoint.python_name}(): {param.python} must be one of "
                f"{', '.join(param.enum)}; got {text!r}"
            )
        return text
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{endpoint.python_name}(): {param.python} must be an int")
    return str(value)


def encode_params(endpoint: Endpoint, values: Mapping[str, object]) -> WireParams:
    """Encode the call's arguments (keyed by wire name) into ordered wire pairs; None means absent."""
    out: WireParams = []
    for param in endpoint.params:
        value = values.get(param.wire)
        if value is None:
            if param.required:
                raise TypeError(f"{endpoint.python_name}(): {param.python} is required")
            continue
        if param.repeated and not isinstance(value, str) and isinstance(value, Iterable):
            items = [_encode_one(endpoint, param, item) for item in value]
            if not items and param.required:
                raise ValueError(f"{endpoint.python_name}(): {param.python} must not be empty")
            out.extend((param.wire, item) for item in items)
        else:
            out.append((param.wire, _encode_one(endpoint, param, value)))
    return out
