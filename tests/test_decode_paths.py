"""The compiled fast path and the reference path decode every body alike.

Bodies are generated from each model's own fields, for every model of every API version: valid wire
values, the spec's string forms, near misses ("1_000", "13-01-2020", " 5"), arbitrary JSON values
in any field, nulls, missing keys, aliases (alone and beside the canonical name), unknown keys,
duplicate keys, ``{}`` rows; CSV with empty cells, joined lists, renamed, missing, unknown and
duplicate columns. Each body is decoded by the SDK (fast path first, the reference path for what it
declines) and by the reference path alone, in lenient and in strict mode; both must give identical
models (types included, ``additional_properties`` included), identical odd-value reports and
identical errors. A body the fast path accepts on its own must be one the reference path decodes to
the same rows without a single odd value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcia_sdk.nbia_advanced
import tcia_sdk.nbia_v1
import tcia_sdk.nbia_v2
import tcia_sdk.nbia_v4
import tcia_sdk.v3
from tcia_sdk import ResponseDecodeError
from tcia_sdk._runtime import decode, wire
from tcia_sdk._runtime.decode import DecodeContext, decode_json_result
from tcia_sdk._runtime.endpoint import Endpoint, Field, ModelInfo
from tcia_sdk._runtime.redact import Redactor
from tcia_sdk._runtime.structure import fixed_reader, parse_date, parse_datetime

PACKAGES = (tcia_sdk.v3, tcia_sdk.nbia_v1, tcia_sdk.nbia_v2, tcia_sdk.nbia_v4, tcia_sdk.nbia_advanced)
MODELS = [(pkg, name) for pkg in PACKAGES for name in pkg.MODELS]
IDS = [f"{pkg.__name__.rsplit('.', 1)[-1]}.{name}" for pkg, name in MODELS]
UNKNOWN_KEYS = ["SeriesUIDHash", "Extra Column", "ünïcode", "Modality ", "x0", ""]
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# -- comparing results ----------------------------------------------------------------------------
def canon(value: Any) -> Any:
    """A value with its types spelled out (1, 1.0 and True differ) and NaN equal to itself."""
    if attrs.has(type(value)):
        fields = [canon(getattr(value, a.name)) for a in attrs.fields(type(value))]
        return (type(value).__qualname__, *fields)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, *map(canon, value))
    if isinstance(value, dict) or hasattr(value, "keys"):
        return ("map", *sorted((k, canon(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def outcome(run: Callable[[], Any], ctx: DecodeContext) -> Any:
    """What a decode gave: its rows and odd values, or its error, in comparable form."""
    try:
        result = run()
    except ResponseDecodeError as exc:
        return ("error", str(exc), exc.field, exc.row, canon(exc.value))
    odd = [(o.model, o.row, o.field, canon(o.value), o.expected) for o in ctx.odd]
    return ("rows", canon(list(result) if isinstance(result, list) else result), odd)


@contextmanager
def reference_only() -> Iterator[None]:
    """Decoding with the fast path switched off: the reference semantics alone."""
    saved = decode._fast
    decode._fast = lambda model: None
    try:
        yield
    finally:
        decode._fast = saved


def endpoint_for(pkg: Any, name: str, body: str = "json") -> Endpoint:
    """An endpoint answering rows of ``name`` (only its name and API appear in errors)."""
    endpoints = [e for e in pkg.ENDPOINTS if e.model_name == name]
    exact = [e for e in endpoints if e.body == body and e.result == "rows"]
    chosen = (exact or endpoints)[0] if endpoints else next(e for e in pkg.ENDPOINTS if e.model_name)
    return chosen._replace(model_name=name, result="rows", body=body)


def context(
    endpoint: Endpoint, body: bytes, *, strict: bool, ctype: str = "application/json"
) -> DecodeContext:
    url = f"https://example.org/{endpoint.path}"
    response = httpx.Response(
        200, content=body, headers={"content-type": ctype}, request=httpx.Request("GET", url)
    )
    return DecodeContext(endpoint, "GET", url, Redactor(), response, strict=strict)


def fresh(model: ModelInfo) -> None:
    """Forget the key sets the fast path learned (else 16 variants fill up and it stops learning)."""
    assert model.decoders is not None
    fast = model.decoders()[model.name]
    fast._current = fast._canonical
    fast._variants.clear()


# -- wire values ----------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=False),
    st.text(max_size=12),
)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
NEAR_NUMBERS = [
    " 5",
    "5 ",
    "1_000",
    "+5",
    "-0",
    "-12",
    "٣",
    "5.5",
    "5.000000",
    "1e3",
    "nan",
    "inf",
    "",
    "0x10",
    "007",
]
NEAR_BOOLS = ["true", "false", "TRUE", "False", "yes", "NO", "1", "0", "2", "", "t", " true"]
NEAR_DATES = [
    "13-01-2020",
    "1-5-2020",
    "02-30-2020",
    "00-10-2020",
    "05-27-0000",
    " 5-27-2015",
    "05-27-2015\n",
]


def date_texts(fmt: str, *, clean: bool = False) -> st.SearchStrategy[str]:
    good = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        lambda d: d.strftime(fmt)
    )
    if clean:
        return good
    return st.one_of(good, st.sampled_from(NEAR_DATES), st.text(alphabet="0123456789-/: .T", max_size=24))


def scalar_values(kind: str, field: Field, *, text: bool, clean: bool = False) -> st.SearchStrategy[Any]:
    """Values of one scalar ``kind`` as a server may send them (JSON, or CSV cells with ``text``);
    ``clean``: only the forms the spec allows, else near misses too."""
    coerce = text or field.coerce_from_string
    if kind == "str":
        return st.text(max_size=12)
    if kind in ("date", "datetime"):
        assert field.date_format is not None
        return date_texts(field.date_format, clean=clean)
    if kind == "int":
        numbers = st.integers(min_value=-(2**66), max_value=2**66)
        forms = st.one_of(numbers.map(str), numbers.map(lambda i: f"{i}.000000"))
        if clean:
            return forms if text else (st.one_of(numbers, forms) if coerce else numbers)
        texts = st.one_of(forms, st.sampled_from(NEAR_NUMBERS))
        return texts if text else st.one_of(numbers, texts)
    if kind == "float":
        numbers = st.floats(allow_nan=False, allow_infinity=False)
        forms = st.one_of(numbers.map(repr), st.integers().map(str))
        if clean:
            return forms if text else (st.one_of(numbers, st.integers(), forms) if coerce else numbers)
        texts = st.one_of(forms, st.sampled_from(NEAR_NUMBERS))
        return texts if text else st.one_of(numbers, st.integers(), texts)
    assert kind == "bool"
    if clean:
        words = st.sampled_from(["true", "false", "TRUE", "No", "yes", "1", "0"])
        return (
            words
            if text
            else (st.one_of(st.booleans(), words, st.sampled_from([0, 1])) if coerce else st.booleans())
        )
    words = st.sampled_from(NEAR_BOOLS)
    return words if text else st.one_of(st.booleans(), st.sampled_from([0, 1, 2]), words)


def field_values(field: Field, registry: Any, depth: int = 0, clean: bool = False) -> st.SearchStrategy[Any]:
    """A JSON value for ``field``: mostly the spec's forms, sometimes (unless ``clean``) anything."""
    if field.type == "model":
        assert field.model is not None
        typed: st.SearchStrategy[Any] = (
            rows(registry[field.model], depth + 1, clean).map(dict) if depth < 2 else st.just({})
        )
    elif field.type == "list":
        assert field.items is not None
        if field.items in registry:
            item = rows(registry[field.items], depth + 1, clean).map(dict) if depth < 2 else st.just({})
        else:
            item = scalar_values(field.items, field, text=False, clean=clean)
        typed = st.lists(st.one_of(item, st.none()) if depth and not clean else item, max_size=3)
        if field.separator is not None and field.items not in registry:
            texts = st.lists(
                scalar_values(field.items, field, text=True, clean=clean), min_size=1, max_size=3
            )
            typed = st.one_of(typed, texts.map(field.separator.join))
    elif field.type == "map":
        assert field.items is not None
        value = scalar_values(field.items, field, text=False, clean=clean)
        typed = st.dictionaries(st.text(max_size=5), value, max_size=3)
    elif field.type == "json":
        typed = any_json
    else:
        typed = scalar_values(field.type, field, text=False, clean=clean)
    if clean:
        return st.one_of(typed, typed, st.none())
    return st.one_of(typed, typed, typed, st.none(), any_json)


@st.composite
def rows(draw: st.DrawFn, model: ModelInfo, depth: int = 0, clean: bool = False) -> list[tuple[str, Any]]:
    """One row as (key, value) pairs: any key may be missing, aliased, doubled or unknown (a
    ``clean`` row: values of the spec's forms, each field under one name)."""
    pairs: list[tuple[str, Any]] = []
    spellings = ["canonical", "canonical", "missing", "alias"] + ([] if clean else ["both"])
    for field in model.fields:
        spelling = draw(st.sampled_from(spellings))
        keys = {
            "canonical": [field.wire],
            "missing": [],
            "alias": list(field.aliases[:1]) or [field.wire],
            "both": [field.wire, *field.aliases[:1]],
        }[spelling]
        for key in keys:
            pairs.append((key, draw(field_values(field, model.registry, depth, clean))))
    if draw(st.booleans()):
        pool = st.sampled_from(UNKNOWN_KEYS) if clean else st.sampled_from(UNKNOWN_KEYS) | st.text(max_size=6)
        declared = {k for f in model.fields for k in (f.wire, *f.aliases)}
        unknown = [k for k in draw(st.lists(pool, max_size=3, unique=True)) if k not in declared]
        pairs += [(key, draw(any_json)) for key in unknown]
    if not clean and draw(st.integers(0, 9)) == 0 and pairs:
        pairs.append(draw(st.sampled_from(pairs)))  # a key twice: the last one counts
    order = draw(st.permutations(pairs)) if draw(st.booleans()) else pairs
    return list(order)


def encode_row(pairs: list[tuple[str, Any]], *, ascii_only: bool) -> str:
    """An object written member by member, so that a key may appear twice."""
    members = [
        json.dumps(key, ensure_ascii=ascii_only) + ":" + json.dumps(value, ensure_ascii=ascii_only)
        for key, value in pairs
    ]
    return "{" + ",".join(members) + "}"


@st.composite
def json_bodies(draw: st.DrawFn, model: ModelInfo) -> bytes:
    """A JSON array of rows (``{}`` rows included), as json.dumps or Jettison (``\\/``) writes it."""
    clean = draw(st.booleans())
    items = draw(st.lists(st.one_of(rows(model, clean=clean), st.just([])), max_size=4))
    ascii_only = draw(st.booleans())
    text = "[" + ",".join(encode_row(pairs, ascii_only=ascii_only) for pairs in items) + "]"
    if draw(st.booleans()):
        text = text.replace("/", "\\/")
    return text.encode()


# -- JSON -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("pkg", "name"), MODELS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_json_fast_and_reference_paths_agree(pkg: Any, name: str, data: st.DataObject) -> None:
    model: ModelInfo = pkg.MODELS[name]
    endpoint = endpoint_for(pkg, name)
    body = data.draw(json_bodies(model))
    if data.draw(st.booleans()):
        fresh(model)
    for strict in (False, True):
        ctx = context(endpoint, body, strict=strict)
        fast = outcome(lambda ctx=ctx: decode_json_result(ctx), ctx)
        with reference_only():
            ref_ctx = context(endpoint, body, strict=strict)
            reference = outcome(lambda ref_ctx=ref_ctx: decode_json_result(ref_ctx), ref_ctx)
        assert fast == reference, f"strict={strict}"


@pytest.mark.parametrize(("pkg", "name"), MODELS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_what_the_fast_path_accepts_alone_is_what_the_reference_gives(
    pkg: Any, name: str, data: st.DataObject
) -> None:
    model: ModelInfo = pkg.MODELS[name]
    assert model.decoders is not None
    body = data.draw(json_bodies(model))
    fresh(model)
    try:
        fast_rows = model.decoders()[name].decode_rows(body)
    except wire.Fallback:
        return
    with reference_only():
        ctx = context(endpoint_for(pkg, name), body, strict=False)
        reference = decode_json_result(ctx)
    assert canon(fast_rows) == canon(list(reference))
    assert ctx.odd == []  # the fast path never keeps a value the reference would call odd


@pytest.mark.parametrize(("pkg", "name"), MODELS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_value_in_any_field_never_sinks_a_lenient_decode(
    pkg: Any, name: str, data: st.DataObject
) -> None:
    model: ModelInfo = pkg.MODELS[name]
    keys = [k for f in model.fields for k in (f.wire, *f.aliases)]
    row = data.draw(st.fixed_dictionaries({}, optional={k: any_json for k in keys}))
    body = json.dumps([row, {}]).encode()
    ctx = context(endpoint_for(pkg, name), body, strict=False)
    result = decode_json_result(ctx)
    assert len(result) == 2
    for odd in ctx.odd:  # every odd value stays reachable under its wire name
        assert odd.field.split(".")[0] in result[odd.row].additional_properties


# -- CSV ------------------------------------------------------------------------------------------
def cell_values(field: Field) -> st.SearchStrategy[str]:
    if field.type == "list" and field.separator is not None and field.items is not None:
        items = st.lists(scalar_values(field.items, field, text=True), min_size=1, max_size=3)
        typed = items.map(field.separator.join)
    elif field.type in ("model", "list", "map", "json"):
        typed = st.just("")
    else:
        typed = scalar_values(field.type, field, text=True)
    return st.one_of(typed, typed, st.just(""), st.text(max_size=8))


@st.composite
def csv_bodies(draw: st.DrawFn, model: ModelInfo) -> bytes:
    columns: list[tuple[str, Field | None]] = []
    for field in model.fields:
        spelling = draw(st.sampled_from(["canonical", "canonical", "canonical", "missing", "alias", "both"]))
        names = {
            "canonical": [field.wire],
            "missing": [],
            "alias": list(field.aliases[:1]) or [field.wire],
            "both": [field.wire, *field.aliases[:1]],
        }[spelling]
        columns += [(n, field) for n in names]
    if not columns:
        columns.append((model.fields[0].wire, model.fields[0]))
    columns += [(n, None) for n in draw(st.lists(st.sampled_from(UNKNOWN_KEYS[:3]), max_size=2))]
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        cells = [draw(cell_values(f)) if f is not None else draw(st.text(max_size=6)) for _, f in columns]
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]  # a short row: the rest are NULLs
        lines.append(cells)
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if draw(st.booleans()) else csv.QUOTE_MINIMAL
    writer = csv.writer(out, lineterminator="\n", quoting=quoting)
    writer.writerow([n for n, _ in columns])
    writer.writerows(lines)
    return out.getvalue().encode()


@pytest.mark.parametrize(("pkg", "name"), MODELS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_csv_fast_and_reference_paths_agree(pkg: Any, name: str, data: st.DataObject) -> None:
    model: ModelInfo = pkg.MODELS[name]
    endpoint = endpoint_for(pkg, name, body="csv")
    body = data.draw(csv_bodies(model))
    for strict in (False, True):
        ctx = context(endpoint, body, strict=strict, ctype="text/csv")
        fast = outcome(lambda ctx=ctx: decode.decode_csv_result(ctx), ctx)
        with reference_only():
            ref_ctx = context(endpoint, body, strict=strict, ctype="text/csv")
            reference = outcome(lambda ref_ctx=ref_ctx: decode.decode_csv_result(ref_ctx), ref_ctx)
        assert fast == reference, f"strict={strict}"


# -- the shapes the fast path is for ---------------------------------------------------------------
def test_the_fast_path_takes_the_live_shapes_itself() -> None:
    """Real v4 rows, their text-number form, an unknown column and v3 rows never leave the fast path."""
    from tests.benchmarks import _rows
    from tests.benchmarks.decode import encode, series_rows

    cases = [
        (tcia_sdk.nbia_v4, _rows.jettison(_rows.v4_series_rows(300))),
        (tcia_sdk.nbia_v4, _rows.jettison(_rows.v4_series_rows(300, numbers="text"))),
        (tcia_sdk.nbia_v4, _rows.jettison(_rows.with_unknown_key(_rows.v4_series_rows(300)))),
        (tcia_sdk.v3, encode(series_rows(300))),
        (tcia_sdk.v3, encode(_rows.with_unknown_key(series_rows(300)))),
    ]
    for pkg, body in cases:
        model = pkg.MODELS["Series"]
        fresh(model)
        fast_rows = model.decoders()["Series"].decode_rows(body)  # raises Fallback if declined
        with reference_only():
            ctx = context(endpoint_for(pkg, "Series"), body, strict=True)
            assert canon(fast_rows) == canon(list(decode_json_result(ctx)))
    text = _rows.metadata_csv(200)
    model = tcia_sdk.nbia_v4.MODELS["SeriesMetadata"]
    fast = model.decoders()["SeriesMetadata"]
    reader = csv.reader(io.StringIO(text))
    next(reader)
    assert all(fast.text(cells).pixel_spacing_row_mm for cells in reader)  # no Fallback


# -- dates ----------------------------------------------------------------------------------------
FORMATS = [
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%Y-%m-%d/%H:%M:%S",
    "%Y%m%d",
    "%d.%m.%Y %H",
    "%m-%d-%Y:%S",
    "%Y-%m-%dT%H:%M:%S",
]


@settings(max_examples=400, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    text=st.one_of(
        st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda d: d.strftime("%m-%d-%Y")),
        st.text(alphabet="0123456789-/:.T ٣", max_size=20),
        st.sampled_from(NEAR_DATES),
        st.datetimes().flatmap(lambda d: st.sampled_from([d.strftime(f) for f in FORMATS])),
    ),
)
def test_the_compiled_date_readers_agree_with_strptime(fmt: str, text: str) -> None:
    def strptime() -> Any:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            return ValueError

    def ours(parse: Callable[[str, str], Any]) -> Any:
        try:
            return parse(text, fmt)
        except ValueError:
            return ValueError

    expected = strptime()
    reader = fixed_reader(fmt)
    if reader is not None:  # the reader alone: strptime's answer, or None (strptime decides)
        assert ours(lambda text, fmt: reader(text)) in (expected, None)
    if fmt.startswith("%Y-%m-%dT"):
        return  # parse_datetime reads this ISO form with fromisoformat first, which is wider
    assert ours(parse_datetime) == expected
    assert ours(parse_date) == (expected if expected is ValueError else expected.date())


def test_formats_the_readers_leave_to_strptime() -> None:
    assert fixed_reader("%m-%d-%Y") is not None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%b %d %Y", "%m-%d", "%Y %m %d", "%Y-%m-%Y"):
        assert fixed_reader(fmt) is None
