"""YAML -> plain data, remembering the line of every path and refusing duplicate keys.

Spec files are trusted less than the code that reads them: what a spec never needs and a hostile
file would use is refused at the node where it appears, as a diagnostic, never expanded.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import attrs
import yaml
from yaml.reader import ReaderError

from .diagnostics import Diagnostic, Locator, PathPart, SpecError, YamlPath

# Bounds that keep a hostile file under about a second (PyYAML's parser is pure Python);
# the largest real spec (nbia-v4.yaml) has about 4,000 nodes: 10,000 leave room and parse in ~0.5 s.
MAX_SPEC_CHARS = 1_000_000
MAX_NODES = 10_000
# Real specs nest 7 levels; PyYAML's composer and the converter recurse once per level.
MAX_DEPTH = 64
# A spec's numbers are counts and versions; 32 characters hold any 64-bit integer or double.
MAX_NUMBER_CHARS = 32
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
# What PyYAML reads plain scalars as when they are not text (the tags its resolver gives them).
READ_AS = {
    f"tag:yaml.org,2002:{tag}": what
    for tag, what in [
        ("null", "null"),
        ("bool", "a boolean"),
        ("int", "an integer"),
        ("float", "a number"),
        ("timestamp", "a date"),
    ]
}
ANCHORS = "anchors and aliases (&x / *x) are not supported, expected plain values"
TAGS = "tags (!x / !!x) are not supported, expected plain values"
UNTAGGED = (None, "!")  # what the parser gives a node written without a tag (or with a bare !)


@attrs.frozen
class LoadedSpec:
    data: Any
    locator: Locator
    text: str


def load_spec_text(text: str, file: str) -> LoadedSpec:
    """Parse one spec; raise SpecError listing every YAML-level problem."""
    if len(text) > MAX_SPEC_CHARS:
        message = f"the spec is larger than {MAX_SPEC_CHARS:,} characters, expected a smaller file"
        raise SpecError([Diagnostic(file, 1, (), message)])
    try:
        loader = _Composer(text, file)  # the reader checks every character first
    except ReaderError as exc:
        raise SpecError([_unreadable(exc, text, file)]) from None
    problems = loader.problems
    try:
        node = loader.compose_spec()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        invalid = Diagnostic(file, line, (), f"invalid YAML: {problem}, expected well-formed YAML")
        raise SpecError([*problems, invalid]) from None
    except yaml.YAMLError as exc:
        raise SpecError([*problems, Diagnostic(file, 1, (), f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None or node.tag == NULL_TAG:
        raise SpecError([*problems, Diagnostic(file, 1, (), "empty spec, expected a mapping")])
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        message = f"the spec is {kind}, expected a mapping (spec_version: 1, api: ...)"
        raise SpecError([*problems, Diagnostic(file, node.start_mark.line + 1, (), message)])
    lines: dict[YamlPath, int] = {}
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
        self.nodes = 0
        self.problems: list[Diagnostic] = []
        self._refused: set[str] = set()

    def save_possible_simple_key(self) -> None:
        # PyYAML rescans every open flow level's possible key for each token: 100,000 "[" took
        # seconds. Deeper than MAX_DEPTH the spec is refused when composed anyway (it cannot get
        # there sooner), so no key is kept for those levels and that rescan stays short.
        if self.flow_level <= MAX_DEPTH:
            super().save_possible_simple_key()

    def compose_spec(self) -> yaml.Node | None:
        """The root node of the file's document; a second document is refused, not read."""
        self.get_event()  # type: ignore[no-untyped-call]  # the stream's start
        node = None if self.check_event(yaml.StreamEndEvent) else self.compose_document()
        if not self.check_event(yaml.StreamEndEvent):
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
            assert isinstance(event.start_mark, yaml.Mark)
            self.refuse(event.start_mark, "a second YAML document (---) follows, expected one per spec")
        return node

    def stop(self, mark: yaml.Mark, message: str) -> NoReturn:
        problem = Diagnostic(self.file, mark.line + 1, tuple(self.path), message)
        raise SpecError([*self.problems, problem])

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
        self.nodes += 1
        if self.nodes > MAX_NODES:
            # Every node costs the converter, the schema check and build some microseconds.
            self.stop(mark, f"more than {MAX_NODES:,} keys and values, expected a smaller spec")
        if isinstance(event, yaml.AliasEvent):
            # Never looked up: expanding aliases is how a small file becomes a huge document.
            self.get_event()  # type: ignore[no-untyped-call]
            self.refuse(mark, ANCHORS)
            node: yaml.Node | None = yaml.ScalarNode(NULL_TAG, "", mark, mark)
        else:
            if self.depth == MAX_DEPTH:
                # Stop here, before Python's recursion limit does, without reading further.
                self.stop(mark, f"nested more than {MAX_DEPTH} levels deep, expected a flatter spec")
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                self.refuse(mark, ANCHORS)
                event.anchor = None  # composed as a plain node, so never registered for aliases
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and event.tag not in UNTAGGED:
                # !!python/..., !!binary, !foo: nothing a spec needs; !!int abc cannot even be built.
                self.refuse(mark, TAGS)
                event.tag = None  # composed (and resolved) as if untagged
            self.depth += 1
            # (the stub types index as int; PyYAML passes the key node for a mapping value)
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
            self.depth -= 1
        if isinstance(part, (str, int)):
            self.path.pop()
        return node


MERGED_BY_NAME = ("resources", "parameters", "models", "endpoints", "excluded")


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
            refused = _key_problem(key_node)
            if refused is not None:
                problems.append(Diagnostic(file, line, path, refused))
                continue
            key: str = _scalar(key_node, path, problems, file, constructor)
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


def _key_problem(node: yaml.Node) -> str | None:
    """Why a mapping key is not a string key, if it is not."""
    if node.tag == MERGE_TAG:  # an unquoted <<, which PyYAML cannot construct alone
        return "merge keys (<<) are not supported, expected plain keys"
    if isinstance(node, yaml.CollectionNode):
        kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
        return f"a {kind} as a key, expected a string key"
    if node.tag in READ_AS:
        # `1:`, `yes:` and `~:` would quietly become the keys "1", "True" and "None".
        shown = node.value or "(empty)"
        return f"key {shown} is read as {READ_AS[node.tag]}, expected a string key (quote it)"
    return None


def _scalar(
    node: yaml.Node, path: YamlPath, problems: list[Diagnostic], file: str, constructor: yaml.SafeLoader
) -> Any:
    if node.tag not in READ_AS:  # text, and a << or = that is not a key
        return _text(node, path, problems, file)
    if node.tag in NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
        # Refused before int()/float() see it: 5,000 digits pass Python's int-string conversion
        # limit (ValueError), 0xfff... cannot be printed in a message, 200 base-60 parts overflow.
        message = (
            f"a number of {len(node.value)} characters is too long, "
            f"expected at most {MAX_NUMBER_CHARS} (quote it if it is text)"
        )
        problems.append(Diagnostic(file, node.start_mark.line + 1, path, message))
        return None
    try:
        return constructor.construct_object(node)
    except ValueError as exc:  # a timestamp that is no date: 2001-13-45
        message = (
            f"{node.value} is read as {READ_AS[node.tag]} but is not valid ({exc}), "
            "expected a valid value or quoted text"
        )
        problems.append(Diagnostic(file, node.start_mark.line + 1, path, message))
        return None


def _text(node: yaml.Node, path: YamlPath, problems: list[Diagnostic], file: str) -> str:
    value: str = node.value
    if surrogate := LONE_SURROGATE.search(value):
        # A YAML escape ("\\ud800") makes one; no file can hold it, so generating would fail.
        message = (
            f"character U+{ord(surrogate.group()):04X} (a lone surrogate) cannot be written as UTF-8, "
            "expected UTF-8 text"
        )
        problems.append(Diagnostic(file, node.start_mark.line + 1, path, message))
    return value
