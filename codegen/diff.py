"""What changed between two API specs, judged by a client written against the old one.

``python -m codegen diff OLD.yaml NEW.yaml [--markdown OUT.md]`` compares two intermediate models
(`ApiIR`) and lists every `Change`, one line each; the exit code is 1 when any change is breaking,
0 when none is, 2 when a spec cannot be loaded.

Matching rules:

* Endpoints are matched by wire name (the URL path segment); there is no endpoint rename detection.
* Parameters and model fields are matched by exact wire name. A removed and an added one on the
  same endpoint are paired as one rename when their names are equal ignoring case or give the same
  snake_case Python name; failing that, two date parameters are paired, and two fields listed in
  `KNOWN_FIELD_RENAMES`.
* Fields are compared through each endpoint's model (rows and row responses), so a field change of
  a model shared by several endpoints is reported once per endpoint.

A change is breaking when code written against the old spec (a generated client or a hand-written
one) can fail, or silently get something else, against the new API: endpoints, parameters or
fields removed or renamed (the wire name or the Python name), new or newly required parameters,
changed types, date formats, results, methods, paths and base URL, credentials the new API
requires and the old client does not send as expected, a changed empty-result convention, unknown
parameters now rejected, formats withdrawn, named servers removed or moved. Additions and
relaxations are not breaking.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from .diagnostics import SpecError
from .files import load_api
from .ir import ApiIR, AuthIR, EndpointIR, FieldIR, ModelIR, ParamIR, ServerIR
from .naming import snake_case

# Field renames between TCIA API versions that no naming rule detects, as (old, new) wire names;
# each pair is also recognised in the other direction. Keep this to documented renames only.
KNOWN_FIELD_RENAMES: tuple[tuple[str, str], ...] = (
    ("TimeStamp", "MaxSubmissionTimestamp"),  # v3 series rows -> NBIA v4 series rows
    ("CollectionURI", "DataDescriptionURI"),  # v3 collection descriptions -> NBIA v4
)

# AuthIR attributes whose values are not printed in change details.
_SECRET_AUTH_ATTRIBUTES = frozenset({"client_secret"})

_Named = TypeVar("_Named", ParamIR, FieldIR)


@attrs.frozen
class Change:
    """One difference between two specs.

    ``kind`` is a short stable identifier ("param-renamed", ...); ``endpoint`` the endpoint's wire
    name (None for API-level changes); ``subject`` the parameter's or field's wire name, when the
    change is about one; ``detail`` a sentence for people.
    """

    kind: str
    endpoint: str | None
    subject: str | None
    detail: str
    breaking: bool

    def __str__(self) -> str:
        flag = "BREAKING" if self.breaking else "        "
        return f"{flag} {self.endpoint or '(api)'}: {self.kind}: {self.detail}"


# -- the whole API ------------------------------------------------------------------------------


def diff_apis(old: ApiIR, new: ApiIR) -> list[Change]:
    """Every change from ``old`` to ``new``: API-level first, then per endpoint in spec order."""
    changes = _api_changes(old, new)
    new_endpoints = {e.wire: e for e in new.endpoints}
    old_wires = {e.wire for e in old.endpoints}
    for endpoint in old.endpoints:
        counterpart = new_endpoints.get(endpoint.wire)
        if counterpart is None:
            detail = f"{endpoint.wire} ({endpoint.python}) was removed"
            changes.append(Change("endpoint-removed", endpoint.wire, None, detail, True))
        else:
            changes.extend(_endpoint_changes(old, new, endpoint, counterpart))
    for endpoint in new.endpoints:
        if endpoint.wire not in old_wires:
            detail = f"{endpoint.wire} ({endpoint.python}) was added"
            changes.append(Change("endpoint-added", endpoint.wire, None, detail, False))
    return changes


def _api_changes(old: ApiIR, new: ApiIR) -> list[Change]:
    changes: list[Change] = []
    if old.base_url != new.base_url:
        detail = f"{old.base_url} -> {new.base_url}"
        changes.append(Change("base-url-changed", None, None, detail, True))
    auth = _auth_change(old.auth, new.auth)
    if auth is not None:
        changes.append(auth)
    if old.empty_result != new.empty_result:
        detail = f"no results are now answered as {new.empty_result} (was {old.empty_result})"
        changes.append(Change("empty-result-changed", None, None, detail, True))
    if old.unknown_params != new.unknown_params:
        detail = f"unknown parameters: {old.unknown_params} -> {new.unknown_params}"
        rejected = new.unknown_params == "reject"
        changes.append(Change("unknown-params-changed", None, None, detail, rejected))
    if old.error_style != new.error_style:
        detail = f"error bodies: {old.error_style} -> {new.error_style} (errors are still raised)"
        changes.append(Change("error-style-changed", None, None, detail, False))
    formats = _formats_change(None, old.format_param, old.format_values, new.format_param, new.format_values)
    if formats is not None:
        changes.append(formats)
    changes.extend(_servers_changes(old, new))
    return changes


def _servers_changes(old: ApiIR, new: ApiIR) -> list[Change]:
    """The named servers (``server="nlst"``), matched by name.

    A removed server breaks code that names it, and a moved one sends an old client elsewhere (as a
    changed base URL does); an added one, or other collections held only by one, breaks nothing.
    """
    changes: list[Change] = []
    old_servers = {s.name: s for s in old.servers}
    new_servers = {s.name: s for s in new.servers}
    for name, server in old_servers.items():
        counterpart = new_servers.get(name)
        if counterpart is None:
            detail = f"server {name} ({server.url}) was removed"
            changes.append(Change("server-removed", None, name, detail, True))
            continue
        if server.url != counterpart.url:
            detail = f"server {name}: {server.url} -> {counterpart.url}"
            changes.append(Change("server-url-changed", None, name, detail, True))
        if server.exclusive != counterpart.exclusive:
            detail = (
                f"server {name}: only it holds {_show_exclusive(server)} -> {_show_exclusive(counterpart)}"
            )
            changes.append(Change("server-exclusive-changed", None, name, detail, False))
    for name, server in new_servers.items():
        if name not in old_servers:
            exclusive = f"; only it holds {_show_exclusive(server)}" if server.exclusive else ""
            detail = f"server {name} ({server.url}) was added{exclusive}"
            changes.append(Change("server-added", None, name, detail, False))
    return changes


def _show_exclusive(server: ServerIR) -> str:
    if not server.exclusive:
        return "nothing"
    return "; ".join(f"{field}: {', '.join(values)}" for field, values in server.exclusive)


def _auth_change(old: AuthIR, new: AuthIR) -> Change | None:
    """One change listing every auth attribute that differs.

    Breaking when the new API requires credentials: an old client then sends none, or sends them
    differently (another kind, header, token URL or client, or read from another variable).
    Loosening (to no auth, or to optional credentials) is not breaking.
    """
    differences = [
        _auth_difference(a.name, getattr(old, a.name), getattr(new, a.name))
        for a in attrs.fields(AuthIR)
        if getattr(old, a.name) != getattr(new, a.name)
    ]
    if not differences:
        return None
    breaking = new.kind != "none" and new.required
    return Change("auth-changed", None, None, "; ".join(differences), breaking)


def _auth_difference(name: str, old: object, new: object) -> str:
    if name in _SECRET_AUTH_ATTRIBUTES:
        return f"{name} changed"
    return f"{name}: {_show(old)} -> {_show(new)}"


def _formats_change(
    endpoint: str | None,
    old_param: str | None,
    old_values: Sequence[str],
    new_param: str | None,
    new_values: Sequence[str],
) -> Change | None:
    """Withdrawn values, another default (typed) format or another parameter name break clients."""
    if (old_param, tuple(old_values)) == (new_param, tuple(new_values)):
        return None
    parts: list[str] = []
    if old_param != new_param:
        parts.append(f"format parameter {_show(old_param)} -> {_show(new_param)}")
    if tuple(old_values) != tuple(new_values):
        parts.append(f"formats [{', '.join(old_values)}] -> [{', '.join(new_values)}]")
    withdrawn = [v for v in old_values if v not in new_values]
    if withdrawn:
        parts.append(f"withdrawn: {', '.join(withdrawn)}")
    default_changed = bool(old_values) and old_values[:1] != new_values[:1]
    param_changed = old_param is not None and old_param != new_param
    breaking = bool(withdrawn) or default_changed or param_changed
    return Change("format-values-changed", endpoint, new_param or old_param, "; ".join(parts), breaking)


# -- one endpoint -------------------------------------------------------------------------------


def _endpoint_changes(old_api: ApiIR, new_api: ApiIR, old: EndpointIR, new: EndpointIR) -> list[Change]:
    wire = old.wire
    changes: list[Change] = []
    if old.python != new.python:
        detail = f"Python method {old.python} -> {new.python} (wire name unchanged)"
        changes.append(Change("endpoint-renamed", wire, None, detail, True))
    if old.method != new.method:
        changes.append(Change("method-changed", wire, None, f"{old.method} -> {new.method}", True))
    if old.path != new.path:
        changes.append(Change("path-changed", wire, None, f"{old.path} -> {new.path}", True))
    changes.extend(_result_changes(old, new))
    if old.kind == new.kind and _endpoint_formats_differ(old_api, new_api, old, new):
        fmt = _formats_change(wire, old_api.format_param, old.formats, new_api.format_param, new.formats)
        if fmt is not None:
            changes.append(fmt)
    changes.extend(_param_changes(wire, old.params, new.params, compare_location=old.method == new.method))
    old_model, new_model = _model(old_api, old), _model(new_api, new)
    if old_model is not None and new_model is not None:
        changes.extend(_field_changes(wire, old_model, new_model))
    return changes


def _describe_result(endpoint: EndpointIR) -> str:
    if endpoint.kind in ("rows", "row"):
        return f"{endpoint.kind} of {endpoint.model}"
    if endpoint.kind == "values":
        return f"values of {endpoint.value_field}"
    if endpoint.kind == "binary":
        return f"binary {endpoint.media_type}"
    return endpoint.kind


def _result_changes(old: EndpointIR, new: EndpointIR) -> list[Change]:
    wire = old.wire
    changes: list[Change] = []
    before, after = _describe_result(old), _describe_result(new)
    if before != after:
        changes.append(Change("result-changed", wire, None, f"{before} -> {after}", True))
    if old.body != new.body:
        detail = f"rows arrive as {new.body} (was {old.body})"
        changes.append(Change("result-changed", wire, None, detail, True))
    if old.kind == new.kind == "binary" and old.in_memory != new.in_memory:
        detail = "can now return bytes" if new.in_memory else "can no longer return bytes (needs to=)"
        changes.append(Change("result-changed", wire, None, detail, old.in_memory))
    return changes


def _endpoint_formats_differ(old_api: ApiIR, new_api: ApiIR, old: EndpointIR, new: EndpointIR) -> bool:
    """Whether the endpoint's formats changed other than as the API-level formats did."""
    if old.formats == new.formats:
        return False
    return (old.formats, new.formats) != (old_api.format_values, new_api.format_values)


def _model(api: ApiIR, endpoint: EndpointIR) -> ModelIR | None:
    if endpoint.kind not in ("rows", "row"):
        return None
    return next((m for m in api.models if m.name == endpoint.model), None)


# -- pairing parameters and fields --------------------------------------------------------------


def _same_name(old: _Named, new: _Named) -> bool:
    return (
        old.wire.casefold() == new.wire.casefold()
        or old.python == new.python
        or snake_case(old.wire) == snake_case(new.wire)
    )


def _both_dates(old: ParamIR, new: ParamIR) -> bool:
    return old.type == new.type == "date"


def _known_rename(old: FieldIR, new: FieldIR) -> bool:
    pair = (old.wire, new.wire)
    return pair in KNOWN_FIELD_RENAMES or pair[::-1] in KNOWN_FIELD_RENAMES


def _match(
    old: Sequence[_Named], new: Sequence[_Named], rules: Iterable[Callable[[_Named, _Named], bool]]
) -> tuple[dict[str, _Named], dict[str, _Named], list[_Named]]:
    """(same wire name: new item, renamed: new item, added items), keyed by old wire names.

    Unmatched old and new items are paired by the first rule that holds, rule by rule, in spec order.
    """
    new_wires = {item.wire: item for item in new}
    same = {item.wire: new_wires[item.wire] for item in old if item.wire in new_wires}
    removed = [item for item in old if item.wire not in new_wires]
    unpaired = [item for item in new if item.wire not in same]
    renamed: dict[str, _Named] = {}
    for rule in rules:
        for gone in removed:
            if gone.wire in renamed:
                continue
            found = next((item for item in unpaired if rule(gone, item)), None)
            if found is not None:
                renamed[gone.wire] = found
                unpaired.remove(found)
    return same, renamed, unpaired


def _rename_detail(old: _Named, new: _Named) -> str:
    detail = f"{old.wire} -> {new.wire}"
    if old.python != new.python:
        detail += f" (Python {old.python} -> {new.python})"
    return detail


# -- parameters ---------------------------------------------------------------------------------


def _diffable(params: Sequence[ParamIR]) -> list[ParamIR]:
    """The parameters callers see, criteria named by their kind (they share wire keys like value{i})."""
    out = []
    for param in params:
        if param.internal or param.paging == "start":
            continue  # not a keyword argument
        if param.criterion is not None:
            param = attrs.evolve(param, wire=f"{param.type_key}={param.criterion}")
        out.append(param)
    return out


def _param_changes(
    endpoint: str, old: Sequence[ParamIR], new: Sequence[ParamIR], *, compare_location: bool
) -> list[Change]:
    old, new = _diffable(old), _diffable(new)
    same, renamed, added = _match(old, new, (_same_name, _both_dates))
    changes: list[Change] = []
    for param in old:
        if param.wire in same:
            counterpart = same[param.wire]
            if param.python != counterpart.python:
                detail = f"Python name {param.python} -> {counterpart.python} (wire name unchanged)"
                changes.append(Change("param-renamed", endpoint, param.wire, detail, True))
        elif param.wire in renamed:
            counterpart = renamed[param.wire]
            detail = _rename_detail(param, counterpart)
            changes.append(Change("param-renamed", endpoint, param.wire, detail, True))
        else:
            detail = f"parameter {param.wire} was removed"
            changes.append(Change("param-removed", endpoint, param.wire, detail, True))
            continue
        changes.extend(_param_attribute_changes(endpoint, param, counterpart, compare_location))
    for param in added:
        status = "required" if param.required else "optional"
        detail = f"new {status} parameter {param.wire} ({param.python}: {param.annotation})"
        changes.append(Change("param-added", endpoint, param.wire, detail, param.required))
    return changes


def _param_attribute_changes(
    endpoint: str, old: ParamIR, new: ParamIR, compare_location: bool
) -> list[Change]:
    subject = new.wire
    changes: list[Change] = []
    if new.required and not old.required:
        changes.append(Change("param-now-required", endpoint, subject, f"{subject} is now required", True))
    if old.required and not new.required:
        detail = f"{subject} is no longer required"
        changes.append(Change("param-no-longer-required", endpoint, subject, detail, False))
    if old.type != new.type or old.repeated != new.repeated:
        detail = f"{subject}: {old.annotation} -> {new.annotation}"
        changes.append(Change("param-type-changed", endpoint, subject, detail, True))
    elif old.type == "enum" and old.enum != new.enum:
        changes.append(_enum_change(endpoint, subject, old.enum, new.enum))
    elif old.type == "date" and old.date_format != new.date_format:
        detail = f"{subject} is sent as {new.date_format} (was {old.date_format})"
        changes.append(Change("param-date-format-changed", endpoint, subject, detail, True))
    if compare_location and old.location != new.location:
        detail = f"{subject} is sent in the {new.location} (was the {old.location})"
        changes.append(Change("param-location-changed", endpoint, subject, detail, True))
    if old.repeated and new.repeated and old.explode != new.explode:
        style = "one comma-joined value" if not new.explode else "one key=value pair per item"
        changes.append(
            Change("param-style-changed", endpoint, subject, f"{subject} is sent as {style}", False)
        )
    if old.type == new.type == "bool" and (old.wire_true, old.wire_false) != (new.wire_true, new.wire_false):
        now, was = f"{new.wire_true!r}/{new.wire_false!r}", f"{old.wire_true!r}/{old.wire_false!r}"
        detail = f"{subject} is sent as {now} (was {was})"
        changes.append(Change("param-wire-values-changed", endpoint, subject, detail, False))
    return changes


def _enum_change(endpoint: str, subject: str, old: Sequence[str], new: Sequence[str]) -> Change:
    withdrawn = [v for v in old if v not in new]
    detail = f"{subject} values [{', '.join(old)}] -> [{', '.join(new)}]"
    if withdrawn:
        detail += f"; withdrawn: {', '.join(withdrawn)}"
    return Change("param-enum-changed", endpoint, subject, detail, bool(withdrawn))


# -- model fields -------------------------------------------------------------------------------


def _field_changes(endpoint: str, old: ModelIR, new: ModelIR) -> list[Change]:
    same, renamed, added = _match(old.fields, new.fields, (_same_name, _known_rename))
    changes: list[Change] = []
    for field in old.fields:
        if field.wire in same:
            counterpart = same[field.wire]
            if field.python != counterpart.python:
                detail = f"attribute {field.python} -> {counterpart.python} (wire name unchanged)"
                changes.append(Change("field-renamed", endpoint, field.wire, detail, True))
        elif field.wire in renamed:
            counterpart = renamed[field.wire]
            detail = f"{_rename_detail(field, counterpart)} in {new.name}"
            changes.append(Change("field-renamed", endpoint, field.wire, detail, True))
        else:
            detail = f"{old.name}.{field.wire} was removed"
            changes.append(Change("field-removed", endpoint, field.wire, detail, True))
            continue
        changes.extend(_field_attribute_changes(endpoint, new.name, field, counterpart))
    for field in added:
        detail = f"{new.name}.{field.wire} was added ({field.python}: {field.annotation})"
        changes.append(Change("field-added", endpoint, field.wire, detail, False))
    return changes


def _field_attribute_changes(endpoint: str, model: str, old: FieldIR, new: FieldIR) -> list[Change]:
    """Type, date format, and strings now accepted for numbers (old clients reject those)."""
    subject = new.wire
    where = f"{model}.{subject}"
    if old.type != new.type:
        detail = f"{where}: {old.annotation} -> {new.annotation}"
        return [Change("field-type-changed", endpoint, subject, detail, True)]
    if old.date_format != new.date_format:
        detail = f"{where} arrives as {new.date_format} (was {old.date_format})"
        return [Change("field-type-changed", endpoint, subject, detail, True)]
    if old.coerced != new.coerced:
        if new.coerced:
            detail = f"{where} may now arrive as a string holding the {new.annotation}"
        else:
            detail = f"{where} no longer arrives as a string"
        return [Change("field-type-changed", endpoint, subject, detail, new.coerced)]
    if old.aliases != new.aliases:
        detail = f"{where} is also read from {', '.join(new.aliases) or 'no other name'}"
        return [Change("field-aliases-changed", endpoint, subject, detail, False)]
    return []


# -- reports ------------------------------------------------------------------------------------


def summary(changes: Sequence[Change]) -> str:
    """``"2 breaking, 3 non-breaking"``."""
    breaking = sum(1 for c in changes if c.breaking)
    return f"{breaking} breaking, {len(changes) - breaking} non-breaking"


def render_markdown(old: ApiIR, new: ApiIR, changes: list[Change]) -> str:
    """A Markdown report: title, summary, then a section per endpoint, breaking changes first."""
    lines = [
        f"# API diff: {_escape(old.name)} (`{old.spec_file}`) -> {_escape(new.name)} (`{new.spec_file}`)",
        "",
        f"Changes: **{summary(changes)}**.",
    ]
    if not changes:
        lines += ["", "No changes."]
    for title, group in _sections(old, new, changes):
        lines += ["", f"## {title}", ""]
        ordered = sorted(group, key=lambda c: not c.breaking)
        lines += [_markdown_item(change) for change in ordered]
    return "\n".join(lines) + "\n"


def _sections(old: ApiIR, new: ApiIR, changes: Sequence[Change]) -> list[tuple[str, list[Change]]]:
    """("API", ...) first, then endpoints in the old spec's order followed by new endpoints."""
    python_names = {e.wire: e.python for e in (*new.endpoints, *old.endpoints)}
    order = [e.wire for e in old.endpoints]
    order += [e.wire for e in new.endpoints if e.wire not in order]
    order += sorted({c.endpoint for c in changes if c.endpoint is not None} - set(order))
    sections: list[tuple[str, list[Change]]] = []
    api_level = [c for c in changes if c.endpoint is None]
    if api_level:
        sections.append(("API", api_level))
    for wire in order:
        group = [c for c in changes if c.endpoint == wire]
        if group:
            python = python_names.get(wire)
            title = f"`{wire}` (`{python}`)" if python else f"`{wire}`"
            sections.append((title, group))
    return sections


def _markdown_item(change: Change) -> str:
    flag = "**BREAKING** " if change.breaking else ""
    subject = f" {_code(change.subject)}" if change.subject is not None else ""
    return f"- {flag}`{change.kind}`{subject}: {_escape(change.detail)}"


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape(text: str) -> str:
    for char in "\\`*_[]<":
        text = text.replace(char, "\\" + char)
    return text


def _show(value: object) -> str:
    return "none" if value is None else str(value)


# -- command line -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen diff",
        description="List the changes from one API spec to another; exit 1 if any is breaking.",
    )
    parser.add_argument("old", type=Path, help="the old spec (YAML)")
    parser.add_argument("new", type=Path, help="the new spec (YAML)")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write a Markdown report")
    return parser


def _load(path: Path) -> ApiIR | None:
    """The spec's model, or None after printing why it cannot be loaded."""
    try:
        return load_api(path)
    except SpecError as exc:
        print(exc, file=sys.stderr)
    except OSError as exc:
        print(f"{path}: cannot read the spec: {exc.strerror}", file=sys.stderr)
    except UnicodeDecodeError:
        print(f"{path}: cannot read the spec: not UTF-8 text", file=sys.stderr)
    return None


def run(argv: list[str]) -> int:
    """``python -m codegen diff OLD NEW [--markdown OUT.md]``; ``argv`` is what follows ``diff``.

    Returns 1 if any change is breaking, 0 if none is, 2 on a spec or usage error.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2  # argparse exits with an int
    old, new = _load(args.old), _load(args.new)
    if old is None or new is None:
        return 2
    changes = diff_apis(old, new)
    for change in changes:
        print(change)
    print(f"{old.spec_file} -> {new.spec_file}: {summary(changes)}")
    if args.markdown is not None:
        try:
            args.markdown.write_text(render_markdown(old, new, changes), encoding="utf-8", newline="\n")
        except OSError as exc:
            print(f"{args.markdown}: cannot write the report: {exc.strerror}", file=sys.stderr)
            return 2
    return 1 if any(c.breaking for c in changes) else 0
