"""Command-line options from a spec's parameters, and their values back as call arguments.

What a caller of the Python method can pass, the command line can say: a list parameter or a
many-valued criterion takes the option several times, a range criterion takes two values
(``--patient-age 40 60``), a bool is a flag. What the SDK sets by itself is not offered: internal
parameters (fixed by the spec) and the page start of a paged search (the pager moves it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from .._runtime.endpoint import Endpoint, Param

DATE_FORMAT = "%Y-%m-%d"


def offered(param: Param) -> bool:
    """Whether the command line offers ``param`` (the SDK sets internal and page-start ones)."""
    return not param.internal and param.paging != "start"


def is_range(param: Param) -> bool:
    return param.criterion is not None and "from" in dict(param.criterion_keys)


def option_name(param: Param) -> str:
    return "--" + param.python.rstrip("_").replace("_", "-")


def _click_type(param: Param) -> click.ParamType[Any]:
    if param.type == "int":
        return click.INT
    if param.type == "float":
        return click.FLOAT
    if param.type == "date":
        return click.DateTime(formats=[DATE_FORMAT])
    if param.type == "enum":
        return click.Choice(list(param.enum))
    return click.STRING


def _help(param: Param) -> str:
    parts = [param.doc]
    if param.type == "date":
        parts.append("(YYYY-MM-DD)")
    if param.repeated or param.many:
        parts.append("Repeat the option for several values.")
    parts.append(f"[criterion: {param.criterion}]" if param.criterion else f"[wire: {param.wire}]")
    if param.default is not None:
        parts.append(f"[default: {param.default}]")  # the client sends it when the option is left out
    return " ".join(p for p in parts if p)


def option_for(param: Param) -> click.Option:
    """The option for one offered parameter; left out, it is not sent (or the spec's default is)."""
    names = [option_name(param), param.python]
    if param.type == "bool":
        if param.false_value is None:
            # Only True has a wire form ("leave it out" is the other): a plain on-switch.
            return click.Option(names, is_flag=True, default=False, help=_help(param))
        no = "--no-" + param.python.rstrip("_").replace("_", "-")
        return click.Option(
            [f"{option_name(param)}/{no}", param.python],
            default=None,
            required=param.required and param.default is None,  # the server fails without it
            help=_help(param),
        )
    if is_range(param):
        return click.Option(
            names,
            type=_click_type(param),
            nargs=2,
            default=None,
            metavar="FROM TO",
            required=param.required,
            help=_help(param),
        )
    return click.Option(
        names,
        type=_click_type(param),
        required=param.required and param.default is None,
        multiple=param.repeated or param.many,
        help=_help(param),
    )


def _date(value: Any) -> Any:
    return value.date() if isinstance(value, dt.datetime) else value


def call_arguments(endpoint: Endpoint, values: dict[str, Any]) -> dict[str, Any]:
    """The method's keyword arguments from the options' values (None: left out)."""
    out: dict[str, Any] = {}
    for param in endpoint.params:
        if not offered(param):
            continue
        value = values.get(param.python)
        if param.type == "bool" and param.false_value is None and value is False:
            value = None  # the switch was not given: nothing to send
        elif is_range(param):
            value = tuple(_date(v) for v in value) if value else None
        elif param.repeated or param.many:
            value = [_date(v) for v in value] if value else None
        else:
            value = _date(value)
        if value is not None:
            out[param.python] = value
        elif param.required and param.default is None:
            # click leaves required on/off flags unchecked; the method would raise a TypeError.
            raise click.UsageError(f"Missing option '{option_name(param)}' (or its --no- form)")
    return out
