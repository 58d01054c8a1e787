"""decode: 100k getSeries rows to typed models, side by side with untyped parsers and the peer.

Cases: NBIA v4 getSeries with the server's real JSON types, the same with numbers sent as strings,
TCIA v3 getSeries, and each of these with a column the spec does not know in every row. For each
case five contenders decode the same bytes, taking turns at going first in every repetition:

* ``json``: ``json.loads`` (the baseline of every ratio), ``orjson``: ``orjson.loads``;
* ``msgspec``: hand-written msgspec Structs (`_structs.py`: JSON types only, no date parsing,
  unknown keys dropped);
* ``peer``: the openapi-python-client client generated from our OpenAPI export (``json.loads``,
  then ``Series.from_dict`` per row);
* ``sdk``: the SDK's real path, `decode_json_result` over the endpoint's `DecodeContext`, *cold*: its
  memo tables and learned key sets are emptied before every repetition, as in a fresh process;
* ``reference`` (v4 and v3 only): ``json.loads`` and the reference path alone (`reference_rows`,
  pure Python): what typed decoding costs without msgspec.

The cyclic GC is paused for every contender (the SDK pauses it itself on large bodies; pausing it
for all compares parsing work, not collector luck). Before timing, the SDK's rows are checked
against the reference path (`reference_rows`) on the whole body: same models, same odd values.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tcia_sdk._runtime import wire
from tcia_sdk._runtime.decode import DecodeContext, decode_json_result, reference_rows
from tcia_sdk._runtime.endpoint import Endpoint
from tcia_sdk._runtime.redact import Redactor
from tcia_sdk.nbia_v4._endpoints import GET_SERIES as V4_GET_SERIES
from tcia_sdk.v3._endpoints import GET_SERIES as V3_GET_SERIES

from . import _peer, _rows, _structs
from ._common import Config, Figure, Target, progress, rotated, timed

NAME = "decode"
URL = "https://nbia.cancerimagingarchive.net/nbia-api/services/v4/getSeries?Collection=X"
CONTENDERS = ("json", "orjson", "msgspec", "peer", "sdk", "reference")

# (collection, body part, modality, protocols, descriptions)
_STUDIES = [
    (
        "TCGA-BRCA",
        "BREAST",
        "MR",
        ["VIBRANT BREAST/", "BREAST BILAT"],
        ["VIBRANT", "(16139/8/216)-(16139/8/100)"],
    ),
    ("TCGA-GBM", "BRAIN", "MR", ["BRAIN ROUTINE", "3D T1 MPRAGE"], ["AX T1 POST GD", "t2_tse_tra_320_p2"]),
    (
        "TCGA-LUAD",
        "CHEST",
        "CT",
        ["CHEST W/O CONTRAST", "5.1 CT Chest"],
        ["Recon 2: CHEST 1.25mm", "LUNG 3.0  B70f"],
    ),
    ("LIDC-IDRI", "CHEST", "CT", ["CHEST/ABD/PELVIS", "THORAX 1.0"], ["Chest 1.25mm STND", "1.25mm LUNG"]),
    ("CPTAC-PDA", "ABDOMEN", "PT", ["PET WB CTAC", "WB FDG"], ["PET WB AC", "CTAC 3.75 Thick"]),
]
_EQUIPMENT = [
    ("GE MEDICAL SYSTEMS", "SIGNA EXCITE", "11"),
    ("SIEMENS", "Avanto", "syngo MR B17"),
    ("Philips Medical Systems", "Ingenia", "5.1.7\\5.1.7.2"),
    ("TOSHIBA", "Aquilion ONE", "V4.51ER010"),
]


def _uid(rng: random.Random) -> str:
    return (
        f"1.3.6.1.4.1.14519.5.2.1.{rng.randint(1000, 9999)}.{rng.randint(1000, 9999)}.{rng.getrandbits(100)}"
    )


def series_rows(n: int, seed: int = 1411) -> list[dict[str, Any]]:
    """``n`` rows shaped like the reference v3 getSeries sample: NULL columns left out, SeriesNumber
    a DECIMAL string ("102.000000"), SeriesDate ``YYYY-MM-DD``, ImageCount an integer."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    study = _uid(rng)
    for index in range(n):
        if index % 6 == 0:
            study = _uid(rng)
        collection, body_part, modality, protocols, descriptions = rng.choice(_STUDIES)
        manufacturer, model, software = rng.choice(_EQUIPMENT)
        row: dict[str, Any] = {
            "SeriesInstanceUID": _uid(rng),
            "StudyInstanceUID": study,
            "Modality": modality,
            "ProtocolName": rng.choice(protocols),
            "SeriesDate": f"{rng.randint(1995, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "SeriesDescription": rng.choice(descriptions),
            "BodyPartExamined": body_part,
            "SeriesNumber": f"{rng.randint(1, 1200)}.000000",
            "Collection": collection,
            "PatientID": f"{collection[:4]}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            "Manufacturer": manufacturer,
            "ManufacturerModelName": model,
            "SoftwareVersions": software,
            "ImageCount": rng.randint(1, 600),
        }
        for key, share in (("ProtocolName", 0.1), ("BodyPartExamined", 0.1), ("PatientID", 0.3)):
            if rng.random() < share:
                del row[key]  # NULL columns are left out of v3 rows
        if rng.random() < 0.4:
            del row["SoftwareVersions"]
        rows.append(row)
    return rows


def encode(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    endpoint: Endpoint
    rows: Callable[[int], list[dict[str, Any]]]
    encode: Callable[[list[dict[str, Any]]], bytes]
    structs: str  # key of _structs.DECODERS
    spec: str  # the peer's spec
    target: Target
    reference: bool = False  # also time the reference path alone (what decoding costs without msgspec)


CASES = (
    Case(
        "decode v4",
        "NBIA v4 getSeries, the server's JSON types (numbers native, AnnotationsFlag text, MM-DD-YYYY, \\/)",
        V4_GET_SERIES,
        _rows.v4_series_rows,
        _rows.jettison,
        "native",
        "nbia-v4",
        Target("<=", 1.0),
        reference=True,
    ),
    Case(
        "decode v4 text numbers",
        "the same rows with every number sent as a string",
        V4_GET_SERIES,
        lambda n: _rows.v4_series_rows(n, numbers="text"),
        _rows.jettison,
        "text",
        "nbia-v4",
        Target("<=", 1.2),
    ),
    Case(
        "decode v3",
        "TCIA v3 getSeries",
        V3_GET_SERIES,
        series_rows,
        encode,
        "v3",
        "tcia-v3",
        Target("<=", 1.0),
        reference=True,
    ),
    Case(
        "decode v4 + unknown key",
        "decode v4 plus a column the spec does not know in every row",
        V4_GET_SERIES,
        lambda n: _rows.with_unknown_key(_rows.v4_series_rows(n)),
        _rows.jettison,
        "native",
        "nbia-v4",
        Target("<=", 1.3),
    ),
    Case(
        "decode v4 text + unknown key",
        "decode v4 text numbers plus a column the spec does not know in every row",
        V4_GET_SERIES,
        lambda n: _rows.with_unknown_key(_rows.v4_series_rows(n, numbers="text")),
        _rows.jettison,
        "text",
        "nbia-v4",
        Target("<=", 1.3),
    ),
    Case(
        "decode v3 + unknown key",
        "decode v3 plus a column the spec does not know in every row",
        V3_GET_SERIES,
        lambda n: _rows.with_unknown_key(series_rows(n)),
        encode,
        "v3",
        "tcia-v3",
        Target("<=", 1.3),
    ),
)


def rows_label(n: int) -> str:
    """``100k rows``, ``1M rows``."""
    return f"{n / 1e6:g}M rows" if n >= 1_000_000 else f"{n / 1000:g}k rows"


def context(endpoint: Endpoint, body: bytes, content_type: str = "application/json") -> DecodeContext:
    """The `DecodeContext` the client builds for a 200 answer of ``endpoint`` with ``body``."""
    request = httpx.Request(endpoint.method, URL)
    response = httpx.Response(200, content=body, headers={"Content-Type": content_type}, request=request)
    return DecodeContext(endpoint, endpoint.method, URL, Redactor(), response)


def forget() -> None:
    """Empty the fast path's process-wide state (memo tables, learned key sets): a cold start."""
    for memo in (wire.TEXT_INT, wire.TEXT_FLOAT, wire.BOOLISH, *wire._DATES.values(), *wire._SPLITS.values()):
        memo.clear()
    for endpoint in (V4_GET_SERIES, V3_GET_SERIES):
        model = endpoint.model
        assert model is not None
        assert model.decoders is not None
        for fast in model.decoders().values():
            fast._current = fast._canonical
            fast._variants.clear()


def sdk_decoder(endpoint: Endpoint, body: bytes) -> Callable[[], list[Any]]:
    ctx = context(endpoint, body)

    def decode() -> list[Any]:
        rows: list[Any] = decode_json_result(ctx)
        return rows

    return decode


def reference_only(endpoint: Endpoint, body: bytes) -> list[Any]:
    """The reference path alone: json.loads, then `structure_row` per row (no msgspec)."""
    model = endpoint.model
    assert model is not None
    return reference_rows(context(endpoint, body), model, json.loads(body))


def peer_rows(from_dict: Callable[[Any], Any], body: bytes) -> list[Any]:
    """The peer's way: json.loads, then its model's ``from_dict`` per row."""
    return [from_dict(row) for row in json.loads(body)]


def check_sdk(case: Case, body: bytes, n: int) -> None:
    """The SDK's rows equal the reference path's on the whole body, with no odd value."""
    forget()
    ctx = context(case.endpoint, body)
    fast = decode_json_result(ctx)
    model = case.endpoint.model
    assert model is not None
    ref_ctx = context(case.endpoint, body)
    reference = reference_rows(ref_ctx, model, json.loads(body))
    if len(fast) != n or list(fast) != list(reference):
        raise RuntimeError(f"{case.name}: the SDK's rows differ from the reference path's")
    if ctx.odd or ref_ctx.odd:
        raise RuntimeError(f"{case.name}: odd values in benchmark rows: {(ctx.odd or ref_ctx.odd)[:3]}")
    if "unknown" in case.name and "SeriesUIDHash" not in fast[-1].additional_properties:
        raise RuntimeError(f"{case.name}: the unknown key was not kept")


def ratio_note(name: str, times: dict[str, list[float]], baseline: str = "json.loads") -> str:
    """``json.loads 0.412 s, orjson 0.71x [0.68-0.74], ...``: each contender's median ratio to the
    baseline (timed under the key ``json``), with min and max."""
    parts = [f"{baseline} {statistics.median(times['json']):.3f} s"]
    for contender, values in times.items():
        if contender == "json" or not values:
            continue
        ratios = [v / j for v, j in zip(values, times["json"], strict=True)]
        parts.append(f"{contender} {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]")
    return f"{name}: " + ", ".join(parts)


def run(config: Config) -> list[Figure]:
    import orjson

    n = config.pick(100_000, 10_000)
    reps = config.pick(7, 3)
    figures: list[Figure] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tcia-bench-peer-") as tmp:
        peers: dict[str, tuple[Any, str | None]] = {}
        for case in CASES:
            body = case.encode(case.rows(n))
            size = f"{rows_label(n)}, {len(body) / 1e6:.0f} MB, {len(body) / n:.0f} B/row"
            check_sdk(case, body, n)
            structs = _structs.DECODERS[case.structs]
            if case.spec not in peers:
                peers[case.spec] = _peer.series_model(Path(tmp), case.spec)
            peer_cls, reason = peers[case.spec]
            runners: dict[str, Callable[[], object]] = {
                "json": partial(json.loads, body),
                "orjson": partial(orjson.loads, body),
                "msgspec": partial(structs.decode, body),
                "sdk": sdk_decoder(case.endpoint, body),
            }
            if peer_cls is not None:
                runners["peer"] = partial(peer_rows, peer_cls.from_dict, body)
            if case.reference:
                runners["reference"] = partial(reference_only, case.endpoint, body)
            times: dict[str, list[float]] = {name: [] for name in CONTENDERS if name in runners}
            for rep in range(reps):
                for name in rotated(list(times), rep):
                    if name == "sdk":
                        forget()
                    elapsed, result = timed(runners[name], pause_gc=True)
                    del result
                    times[name].append(elapsed)
                progress(f"{case.name} ({size}): repetition {rep + 1}/{reps}: " + ratio_note("", times))
            ratios = tuple(s / j for s, j in zip(times["sdk"], times["json"], strict=True))
            what = f"{case.what} ({size}): SDK typed rows ÷ json.loads, GC paused for all"
            case_notes = [ratio_note("contenders ÷ json.loads", times)]
            if peer_cls is None:
                case_notes.append(f"peer not measured: {reason}")
            figures.append(Figure(case.name, what, ratios, case.target, notes=tuple(case_notes)))
            del runners, body
    peer_note = f"peer: {_peer.PACKAGE} {_peer.version()}, generated at run time from our OpenAPI export"
    notes.append(peer_note)
    if figures:
        figures[0] = Figure(
            figures[0].name,
            figures[0].what,
            figures[0].values,
            figures[0].target,
            notes=(*figures[0].notes, *notes),
        )
    return figures
