"""Python names from wire names: snake_case with DICOM acronyms kept whole (SOP, UID, MD5, ...)."""

from __future__ import annotations

import keyword
import re

# An acronym run (optionally a plural "s") ends where a capitalised word starts: "SOPInstance" ->
# "SOP", "Instance"; "UIDs" stays one word; digits stick to their word ("MD5Hash" -> "MD5", "Hash").
_WORD = re.compile(r"[A-Z0-9]+s?(?=[A-Z][a-z]|[^A-Za-z0-9]|$)|[A-Z0-9]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SNAKE = re.compile(r"^[a-z_][a-z0-9_]*$")


def snake_case(wire: str) -> str:
    """``getSOPInstanceUIDs`` -> ``get_sop_instance_uids``; ``Date Released`` -> ``date_released``."""
    return "_".join(word.lower() for word in _WORD.findall(wire))


# Names generated modules use in annotations and bodies; a parameter with such a name would
# shadow them inside its method.
SHADOWED = frozenset(
    {
        "Any",
        "Destination",
        "Download",
        "Literal",
        "Mapping",
        "RawResponse",
        "Sequence",
        "TimeoutTypes",
        "bool",
        "bytes",
        "cast",
        "datetime",
        "dict",
        "float",
        "functools",
        "httpx",
        "int",
        "list",
        "object",
        "overload",
        "raw",
        "set",
        "str",
        "tuple",
        "type",
    }
)


def python_identifier(name: str) -> str:
    """A derived name made safe: keywords and shadowing names get a trailing underscore (PEP 8)."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in SHADOWED:
        return f"{name}_"
    return name


def is_snake_identifier(name: str) -> bool:
    return bool(_SNAKE.match(name)) and not keyword.iskeyword(name) and name not in SHADOWED


def is_class_name(name: str) -> bool:
    return bool(_IDENTIFIER.match(name)) and name[:1].isupper() and not keyword.iskeyword(name)


def constant_name(python_name: str) -> str:
    return python_name.upper().strip("_")
