"""Spec problems as values: file, line, YAML path and a message saying what was expected."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

PathPart = str | int
YamlPath = tuple[PathPart, ...]


def format_path(path: YamlPath) -> str:
    """``("endpoints", "getSeries", "params", 2)`` -> ``endpoints.getSeries.params[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and part[:1].isalpha():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "<root>"


@attrs.frozen(order=True)
class Diagnostic:
    file: str
    line: int
    path: YamlPath = attrs.field(order=False)
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {format_path(self.path)}: {self.message}"


class SpecError(Exception):
    """Raised with every diagnostic of a spec that cannot be generated."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, format_path(d.path)))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class Locator:
    """Maps YAML paths to line numbers so later stages can report where a problem is."""

    def __init__(self, file: str, lines: dict[YamlPath, int]) -> None:
        self.file = file
        self._lines = lines

    def line(self, path: YamlPath) -> int:
        for end in range(len(path), -1, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return 1

    def at(self, path: YamlPath, message: str) -> Diagnostic:
        return Diagnostic(self.file, self.line(path), tuple(path), message)
