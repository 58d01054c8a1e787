"""Checking spec data against spec/spec.schema.json, the documented spec format."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Locator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "spec" / "spec.schema.json"


@functools.cache
def _validator() -> Any:
    import jsonschema  # imported here: only `validate`/`generate` need it

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    strict = {"pattern": _pattern}
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, strict)(schema)  # type: ignore[no-untyped-call]


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's ``pattern``, with ``$`` ending the string as in the ECMA-262 regexes of JSON Schema.

    Python's ``$`` also matches before a final newline: "t\\n" passed ``^[a-z][a-z0-9_]*$`` and
    named the package's directory. Every pattern of the schema ends in such an anchoring ``$``.
    """
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def check_schema(data: Any, locator: Locator) -> list[Diagnostic]:
    """Every schema violation, each at the deepest path the validator can name."""
    from jsonschema.exceptions import best_match

    out: list[Diagnostic] = []
    for found in _validator().iter_errors(data):
        # oneOf/anyOf: report the branch that came closest
        error = best_match(found.context) if found.context else found
        path = tuple(error.absolute_path)
        if "propertyNames" in error.absolute_schema_path:
            path = (*path, error.instance)  # the key itself, reported at its own line
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
    if validator == "pattern" and "expected" in error.schema:
        return f"{error.instance!r} is not allowed, expected {error.schema['expected']}"
    if validator == "type":
        return f"{error.instance!r} has the wrong type, expected {error.validator_value}"
    return error.message  # type: ignore[no-any-return]
