"""bulk: many small series through `download_series`, with 50 ms of latency on every request.

The server process answers the series metadata and getImage for any SeriesInstanceUID (one tiny
valid series zip) and delays every response by 50 ms. The run is made on both shapes of metadata:
TCIA v3, whose getSeries names one series per call, and NBIA v4, the live API, whose
getSeriesMetadata takes 1,000 series in one comma-joined value. The ideal wall time is the minimal
one: the zip requests the server counted during the run x 50 ms ÷ workers (a series needs at least
its zip; its metadata call can overlap it). The figure is the measured wall time over that ideal.
Beside it, in the same run, the peer: raw httpx fetching the same zips ``workers`` at a time and
nothing else (no metadata, no verification, no disk), the floor any client reaches on this machine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from tcia_sdk import download_series, nbia_v4, v3
from tcia_sdk.testing import DEFAULT_API_KEY

from ._common import Config, Figure, Target, progress, timed
from ._procs import ServerProcess

NAME = "bulk"
TARGET = Target("<=", 1.1)
LATENCY = 0.05
WORKERS = 8


class Shape(NamedTuple):
    """One API's bulk run: its server kind, its client and its getImage request."""

    label: str  # the row's name after "bulk download"
    kind: str  # the benchmark server's kind
    metadata: str  # how the metadata is asked, for the row's text
    client: Callable[[str], Any]  # server URL -> an SDK client
    image_path: str
    image_params: dict[str, str]
    headers: dict[str, str]


SHAPES = (
    Shape(
        "",
        "bulk",
        "TCIA v3: one getSeries per series",
        lambda url: v3.Client(api_key=DEFAULT_API_KEY, base_url=url + "/services/v3"),
        "/services/v3/TCIA/query/getImage",
        {},
        {"api_key": DEFAULT_API_KEY},
    ),
    Shape(
        " NBIA v4",
        "bulk4",
        "NBIA v4: one getSeriesMetadata for all",
        lambda url: nbia_v4.Client(base_url=url + "/nbia-api/services/v4"),
        "/nbia-api/services/v4/getImage",
        {"IncludeMD5": "yes"},
        {},
    ),
)


def counts(server_url: str) -> Counter[str]:
    with urllib.request.urlopen(f"{server_url}/_bench/counts", timeout=30) as answer:  # loopback only
        return Counter(json.loads(answer.read()))


def uids(n: int) -> list[str]:
    return [f"1.2.826.0.1.3680043.10.1411.77.{i + 1}" for i in range(n)]


def _one(shape: Shape, server_url: str, dest: Path, n: int) -> tuple[float, float, Counter[str]]:
    """One bulk download into ``dest``: its wall time, the ideal, and the requests the server counted."""
    before = counts(server_url)
    with shape.client(server_url) as tcia:
        wall, report = timed(lambda: download_series(tcia, uids(n), dest, layout="flat", workers=WORKERS))
    requested = counts(server_url) - before
    requested.pop("counts", None)
    if report.failed or len(report.downloaded) != n:
        first = report.failed[0].error if report.failed else "?"
        raise RuntimeError(f"{len(report.failed)} of {n} series failed; first: {first}")
    return wall, requested["getImage"] * LATENCY / WORKERS, requested


def _raw(shape: Shape, server_url: str, n: int) -> float:
    """The peer: the same zips with raw httpx, ``WORKERS`` at a time, read into memory."""

    async def main() -> None:
        slots = asyncio.Semaphore(WORKERS)
        async with httpx.AsyncClient(base_url=server_url, timeout=60, headers=shape.headers) as client:

            async def one(uid: str) -> None:
                async with slots:
                    params = {"SeriesInstanceUID": uid, **shape.image_params}
                    answer = await client.get(shape.image_path, params=params)
                    answer.raise_for_status()

            await asyncio.gather(*(one(uid) for uid in uids(n)))

    began = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - began


def _measure(shape: Shape, n: int, reps: int) -> list[Figure]:
    ratios: list[float] = []
    walls: list[float] = []
    ideals: list[float] = []
    raws: list[float] = []
    requested: Counter[str] = Counter()
    with (
        ServerProcess(shape.kind, "--latency", str(LATENCY)) as server,
        tempfile.TemporaryDirectory(prefix="tcia-bench-bulk-") as tmp,
    ):
        for rep in range(reps):
            wall, ideal, requested = _one(shape, server.url, Path(tmp) / f"run-{rep}", n)
            raw = _raw(shape, server.url, n)
            ratios.append(wall / ideal)
            walls.append(wall)
            ideals.append(ideal)
            raws.append(raw)
            progress(
                f"bulk{shape.label}: repetition {rep + 1}/{reps}: {wall:.2f} s, raw httpx {raw:.2f} s, "
                f"ideal {ideal:.2f} s, {dict(requested)}"
            )
    name = f"bulk download{shape.label}"
    what = (
        f"download_series of {n} tiny series ({shape.metadata}), workers={WORKERS}, "
        f"{LATENCY * 1000:.0f} ms latency per request: wall ÷ (zip requests counted x latency ÷ workers)"
    )
    note = (
        f"median wall {statistics.median(walls):.2f} s, ideal {statistics.median(ideals):.2f} s; "
        f"requests per run: {', '.join(f'{k} {v}' for k, v in sorted(requested.items()))}; "
        f"peer raw httpx (zips only): {statistics.median(raws):.2f} s, "
        f"{statistics.median(raws) / statistics.median(ideals):.3f} of the ideal"
    )
    peer = (
        f"the same run's wall ÷ raw httpx fetching the same {n} zips {WORKERS} at a time into memory "
        "(no metadata, no verification, no disk)"
    )
    return [
        Figure(name, what, tuple(ratios), TARGET, notes=(note,)),
        Figure(
            f"{name} ÷ raw httpx",
            peer,
            tuple(w / r for w, r in zip(walls, raws, strict=True)),
            Target(None),
        ),
    ]


def run(config: Config) -> list[Figure]:
    n = config.pick(200, 40)
    reps = config.pick(5, 2)
    return [figure for shape in SHAPES for figure in _measure(shape, n, reps)]
