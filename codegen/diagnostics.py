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
    """Maps YAML paths to line numbers so later stages can report where a problem is.

    A spec that ``extends`` another gets a locator with a ``base``: paths written in the child
    file are reported there, inherited ones in the base file.
    """

    def __init__(self, file: str, lines: dict[YamlPath, int], base: Locator | None = None) -> None:
        self.file = file
        self._lines = lines
        self.base = base

    def _own_depth(self, path: YamlPath) -> int:
        """How many leading parts of ``path`` this file itself wrote (-1: not even the root)."""
        for end in range(len(path), -1, -1):
            if tuple(path[:end]) in self._lines:
                return end
        return -1

    def line(self, path: YamlPath) -> int:
        return self._where(path)[1]

    def _where(self, path: YamlPath) -> tuple[str, int]:
        depth = self._own_depth(path)
        if self.base is not None and self.base._own_depth(path) > depth:
            return self.base._where(path)
        if depth < 0:
            return self.file, 1
        return self.file, self._lines[tuple(path[:depth])]

    def at(self, path: YamlPath, message: str) -> Diagnostic:
        file, line = self._where(path)
        return Diagnostic(file, line, tuple(path), message)
