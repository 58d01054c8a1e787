"""YAML -> plain data, remembering the line of every path and refusing duplicate keys.

Spec files are trusted less than the code that reads them: what a spec never needs and a hostile
file would use is refused at the node where it appears, as a diagnostic, never expanded.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import yaml
from yaml.reader import ReaderError

from .diagnostics import Diagnostic, Locator, PathPart, SpecError, YamlPath

# Real specs nest 7 levels; PyYAML's composer and the converter recurse once per level.
MAX_DEPTH = 64
# A spec's numbers are counts and versions; 32 characters hold any 64-bit integer or double.
MAX_NUMBER_CHARS = 32
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
ANCHORS = "anchors and aliases (&x / *x) are not supported, expected plain values"


@attrs.frozen
class LoadedSpec:
    data: Any
    locator: Locator
    text: str


def load_spec_text(text: str, file: str) -> LoadedSpec:
    """Parse one spec; raise SpecError listing every YAML-level problem."""
    try:
        loader = _Composer(text, file)  # the reader checks every character first
    except ReaderError as exc:
        raise SpecError([_unreadable(exc, text, file)]) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(
            [Diagnostic(file, line, (), f"invalid YAML: {problem}, expected well-formed YAML")]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(file, 1, (), f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError([Diagnostic(file, 1, (), "empty spec, expected a mapping")])
    lines: dict[YamlPath, int] = {}
    problems = loader.problems
    data = _convert(node, (), lines, problems, file, loader)
    if problems:
        raise SpecError(problems)
    return LoadedSpec(data, Locator(file, lines), text)


def _unreadable(exc: ReaderError, text: str, file: str) -> Diagnostic:
    """The reader's refusal of a character (NUL, a control character, a byte that is not UTF-8)."""
    position: int = exc.position
    code: int = exc.character
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    # files.read_spec keeps bytes that are not UTF-8 as surrogate escapes, U+DC80..U+DCFF.
    if 0xDC80 <= code <= 0xDCFF:
        what = f"byte 0x{code - 0xDC00:02X} is not UTF-8"
    else:
        what = f"character U+{code:04X} is not allowed in YAML"
    message = f"{what} (column {column}, position {position}), expected UTF-8 YAML text"
    return Diagnostic(file, line, (), message)


class _Composer(yaml.SafeLoader):
    """PyYAML's safe loader, composing plain nodes only; problems are kept in ``problems``."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.path: list[PathPart] = []  # of the node being composed, for diagnostics
        self.depth = 0
        self.problems: list[Diagnostic] = []
        self._refused: set[str] = set()

    def refuse(self, mark: yaml.Mark, message: str) -> None:
        # Each kind once: a billion-laughs file would otherwise list every one of its aliases.
        if message not in self._refused:
            self._refused.add(message)
            self.problems.append(Diagnostic(self.file, mark.line + 1, tuple(self.path), message))

    def compose_node(self, parent: yaml.Node | None, index: int | yaml.Node | None) -> yaml.Node | None:
        # index: the key node of a mapping value, the position of a list item, None for a key.
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        if isinstance(part, (str, int)):
            self.path.append(part)
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = event.start_mark
        assert isinstance(mark, yaml.Mark)  # the pure-Python parser marks every event
        if isinstance(event, yaml.AliasEvent):
            # Never looked up: expanding aliases is how a small file becomes a huge document.
            self.get_event()  # type: ignore[no-untyped-call]
            self.refuse(mark, ANCHORS)
            node: yaml.Node | None = yaml.ScalarNode(NULL_TAG, "", mark, mark)
        else:
            if self.depth == MAX_DEPTH:
                # Stop here, before Python's recursion limit does, without reading further.
                too_deep = f"nested more than {MAX_DEPTH} levels deep, expected a flatter spec"
                problem = Diagnostic(self.file, mark.line + 1, tuple(self.path), too_deep)
                raise SpecError([*self.problems, problem])
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                self.refuse(mark, ANCHORS)
                event.anchor = None  # composed as a plain node, so never registered for aliases
            self.depth += 1
            # (the stub types index as int; PyYAML passes the key node for a mapping value)
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
            self.depth -= 1
        if isinstance(part, (str, int)):
            self.path.pop()
        return node


MERGED_BY_NAME = ("resources", "parameters", "models", "endpoints")


def merge_specs(base: LoadedSpec, child: LoadedSpec) -> LoadedSpec:
    """The child spec applied over its base: entries replace or add by name; null removes."""
    data: dict[str, Any] = {k: v for k, v in base.data.items() if k != "extends"}
    for key, value in child.data.items():
        if key == "extends":
            continue
        if key in MERGED_BY_NAME or key in ("api", "download"):
            merged = {**data.get(key, {}), **value}
            data[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            data[key] = value
    locator = Locator(child.locator.file, child.locator._lines, base=base.locator)
    # The hash in generated headers must change when either file does.
    return LoadedSpec(data, locator, base.text + "\n---\n" + child.text)


def _convert(
    node: yaml.Node,
    path: YamlPath,
    lines: dict[YamlPath, int],
    problems: list[Diagnostic],
    file: str,
    constructor: yaml.SafeLoader,
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:  # an unquoted <<, which PyYAML cannot construct alone
                problems.append(
                    Diagnostic(file, line, path, "merge keys (<<) are not supported, expected plain keys")
                )
                continue
            key = _scalar(key_node, path, problems, file, constructor)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                first = lines.get((*path, key), line)
                problems.append(
                    Diagnostic(
                        file,
                        line,
                        (*path, key),
                        f"duplicate key {key!r} (first defined on line {first}), expected each key once",
                    )
                )
                continue
            child: YamlPath = (*path, key)
            lines[child] = line
            out[key] = _convert(value_node, child, lines, problems, file, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), lines, problems, file, constructor)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node, path, problems, file, constructor)


def _scalar(
    node: yaml.Node, path: YamlPath, problems: list[Diagnostic], file: str, constructor: yaml.SafeLoader
) -> Any:
    if node.tag in NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
        # Refused before int()/float() see it: 5,000 digits pass Python's int-string conversion
        # limit (ValueError), 0xfff... cannot be printed in a message, 200 base-60 parts overflow.
        message = (
            f"a number of {len(node.value)} characters is too long, "
            f"expected at most {MAX_NUMBER_CHARS} (quote it if it is text)"
        )
        problems.append(Diagnostic(file, node.start_mark.line + 1, path, message))
        return None
    value = constructor.construct_object(node)
    if isinstance(value, str) and (surrogate := LONE_SURROGATE.search(value)):
        # A YAML escape ("\\ud800") makes one; no file can hold it, so generating would fail.
        message = (
            f"character U+{ord(surrogate.group()):04X} (a lone surrogate) cannot be written as UTF-8, "
            "expected UTF-8 text"
        )
        problems.append(Diagnostic(file, node.start_mark.line + 1, path, message))
    return value
