"""Checking spec data against spec/spec.schema.json, the documented spec format."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Locator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "spec" / "spec.schema.json"


@functools.cache
def _validator() -> Any:
    import jsonschema  # imported here: only `validate`/`generate` need it

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_schema(data: Any, locator: Locator) -> list[Diagnostic]:
    """Every schema violation, each at the deepest path the validator can name."""
    from jsonschema.exceptions import best_match

    out: list[Diagnostic] = []
    for found in _validator().iter_errors(data):
        # oneOf/anyOf: report the branch that came closest
        error = best_match(found.context) if found.context else found
        path = tuple(error.absolute_path)
        out.append(locator.at(path, _message(error)))
    return out


def _message(error: Any) -> str:
    validator = error.validator
    if validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        return f"unknown key(s) {', '.join(map(repr, extra))}, expected one of: {', '.join(known)}"
    if validator == "required":
        return f"{error.message}, expected it to be given"
    if validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{error.instance!r} is not allowed, expected one of: {allowed}"
    if validator == "type":
        return f"{error.instance!r} has the wrong type, expected {error.validator_value}"
    return error.message  # type: ignore[no-any-return]
