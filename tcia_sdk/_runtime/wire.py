"""The compiled fast path of decoding: msgspec wire structs, generated builders, memoised parsers.

For each model the generator emits a msgspec ``Struct`` whose fields carry the wire names
(``rename``) and the exact JSON types the spec allows, plus a builder that turns one struct into the
attrs model and a converter for CSV rows. msgspec parses, type-checks and renames in C; the builder
only converts what needs Python (MM-DD-YYYY dates, numbers sent as text), through memo tables, since
a 100k-row answer repeats the same dates thousands of times.

Anything the fast path does not accept exactly — a value of another type, a nested unknown key, a
row that is not an object — raises `Fallback`, and the body is decoded again by the reference path
(`structure.py`), which decides what the value means. A top-level key the spec does not know is
*learned* instead: a variant struct with that key as an extra field (or with an alias in place of a
canonical name) is built once, cached, and used from then on, so a server that adds a column costs
one extra parse the first time only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from .structure import BOOL_WORDS, parse_date, parse_datetime, text_float, text_int

MEMO_LIMIT = 1 << 16  # distinct texts remembered per converter before the table starts over
MAX_VARIANTS = 16  # learned key sets per model; beyond, the reference path decodes
MAX_LEARN_STEPS = 32  # unknown keys learned per body before giving up on the fast path


class Fallback(Exception):
    """The fast path does not accept this body (or row) exactly: decode it by the reference path."""


class Memo(dict[Any, Any]):
    """A conversion table: ``memo[text]`` converts once, then looks up; a bad text raises Fallback."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, key: Any) -> Any:
        try:
            value = self.convert(key)
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
            raise Fallback from None
        if len(self) >= MEMO_LIMIT:
            self.clear()
        self[key] = value
        return value


_DATES: dict[tuple[str, str], Memo] = {}


def date_memo(kind: str, fmt: str) -> Memo:
    """The shared table of ``kind`` ("date" or "datetime") texts in ``fmt``."""
    memo = _DATES.get((kind, fmt))
    if memo is None:
        if kind == "date":
            memo = Memo(lambda text: parse_date(text, fmt))
        else:
            memo = Memo(lambda text: parse_datetime(text, fmt))
        _DATES[(kind, fmt)] = memo
    return memo


def _boolish(value: Any) -> bool:
    if type(value) is str:
        return BOOL_WORDS[value.lower()]
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise ValueError(value)


def _split(separator: str, item: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    sep = separator.strip() or separator

    def split(text: str) -> tuple[Any, ...]:
        return tuple(item(part.strip()) for part in text.split(sep))

    return split


TEXT_INT = Memo(text_int)
TEXT_FLOAT = Memo(text_float)
BOOLISH = Memo(_boolish)  # "true"/"yes"/"1"/... and the integers 0 and 1
_SPLITS: dict[tuple[str, str], Memo] = {}


def split_memo(separator: str, items: str) -> Memo:
    """The table of joined texts (``"0.7, 0.78"``) split into tuples of ``items``."""
    memo = _SPLITS.get((separator, items))
    if memo is None:
        readers: dict[str, Callable[[str], Any]] = {"int": text_int, "float": text_float, "str": str}
        item = readers[items]
        memo = Memo(_split(separator, item))
        _SPLITS[(separator, items)] = memo
    return memo


def text_unsupported(text: str) -> Any:
    """A CSV cell of a field CSV cannot carry (a nested object): None when empty, else Fallback."""
    if text:
        raise Fallback
    return None


# -- decoding bodies ------------------------------------------------------------------------------
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>.*)` - at `\$\[\d+\]`$", re.DOTALL)


class _Shape:
    """One struct a model's rows decode into: the canonical one, or a learned variant."""

    def __init__(self, struct: type, renames: dict[str, str], extras: tuple[str, ...]) -> None:
        import msgspec

        self.struct = struct
        self.renames = renames  # python name -> the wire key this shape reads it from
        self.extras = extras  # unknown wire keys, read into fields x0, x1, ...
        self.decoder = msgspec.json.Decoder(list[struct])  # type: ignore[valid-type]
        self.get_extras = attrgetter(*[f"x{i}" for i in range(len(extras))]) if extras else None


class FastDecoder:
    """The generated struct, builder and CSV converter of one model, with its learned variants."""

    def __init__(
        self,
        name: str,
        struct: type,
        build: Callable[[Any], Any],
        text: Callable[[Sequence[str]], Any],
        wire: dict[str, str],
        aliases: dict[str, tuple[str, ...]],
    ) -> None:
        self.name = name
        self.build = build
        self.text = text
        self.wire = wire  # python name -> canonical wire name
        self.aliases = aliases  # python name -> other wire names of that field
        self._canonical = _Shape(struct, dict(wire), ())
        self._current = self._canonical
        self._variants: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], _Shape] = {}
        self._lock = threading.Lock()
        self._one: Any = None  # the decoder of a single object, made on first use

    def decode_rows(self, body: bytes) -> list[Any]:
        """Every row of a JSON array body as the model; Fallback if the fast path cannot."""
        import msgspec

        shape = self._current
        for _ in range(MAX_LEARN_STEPS):
            try:
                structs = shape.decoder.decode(body)
            except msgspec.ValidationError as exc:
                match = _UNKNOWN.match(str(exc))
                if match is None:
                    raise Fallback from None
                shape = self._learn(shape, match.group("key"))
                continue
            except (msgspec.DecodeError, RecursionError):
                raise Fallback from None
            break
        else:
            raise Fallback
        self._current = shape
        build = self.build
        rows = list(map(build, structs))
        if shape.get_extras is not None:
            _attach_extras(rows, structs, shape)
        return rows

    def decode_one(self, body: bytes) -> Any:
        """A body holding one JSON object as the model; Fallback if the fast path cannot."""
        import msgspec

        decoder = self._one
        if decoder is None:
            decoder = self._one = msgspec.json.Decoder(self._canonical.struct)
        try:
            struct = decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            raise Fallback from None
        return self.build(struct)

    def _learn(self, shape: _Shape, key: str) -> _Shape:
        """The variant of ``shape`` that also reads ``key``; Fallback when none can."""
        if any(c in '\\"' or c < " " for c in key):
            raise Fallback  # msgspec refuses such names for fields; the reference path keeps the key
        renames = dict(shape.renames)
        extras = list(shape.extras)
        owner = next((py for py, names in self.aliases.items() if key in names), None)
        canonical = next((py for py, wire in self.wire.items() if wire == key), None)
        if canonical is not None:
            # A field read from an alias arrives by its own name again (the server was upgraded):
            # read it so. Rows mixing both spellings oscillate here until the step bound gives up.
            renames[canonical] = key
        elif owner is not None and renames[owner] == self.wire[owner]:
            renames[owner] = key  # an older server's spelling of a field
        elif key in extras:
            raise Fallback
        else:
            extras.append(key)
        signature = (tuple(sorted(renames.items())), tuple(extras))
        with self._lock:
            found = self._variants.get(signature)
            if found is None:
                if len(self._variants) >= MAX_VARIANTS:
                    raise Fallback
                found = self._variant(renames, tuple(extras))
                self._variants[signature] = found
        return found

    def _variant(self, renames: dict[str, str], extras: tuple[str, ...]) -> _Shape:
        import msgspec

        base = self._canonical.struct
        fields: list[Any] = [(f.name, f.type, None) for f in msgspec.structs.fields(base)]
        fields += [(f"x{i}", Any, msgspec.UNSET) for i in range(len(extras))]
        rename = {**renames, **{f"x{i}": key for i, key in enumerate(extras)}}
        struct = msgspec.defstruct(
            f"{base.__name__}Variant",
            fields,
            rename=rename,
            forbid_unknown_fields=True,
            gc=False,
        )
        return _Shape(struct, renames, extras)


def _attach_extras(rows: list[Any], structs: Sequence[Any], shape: _Shape) -> None:
    import msgspec

    unset = msgspec.UNSET
    keys = shape.extras
    get = shape.get_extras
    assert get is not None
    if len(keys) == 1:  # the common case, a server that added one column: no inner loop
        (key,) = keys
        value: Any
        for row, value in zip(rows, map(get, structs), strict=True):
            if value is not unset:
                row.additional_properties = MappingProxyType({key: value})
        return
    for row, values in zip(rows, map(get, structs), strict=True):
        extras = {k: v for k, v in zip(keys, values, strict=True) if v is not unset}
        if extras:
            row.additional_properties = MappingProxyType(extras)
