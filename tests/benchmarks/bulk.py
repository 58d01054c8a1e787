"""bulk: many small series through `download_series`, with 50 ms of latency on every request.

The server process answers getSeries and getImage for any SeriesInstanceUID (one tiny valid series
zip) and delays every response by 50 ms. The ideal wall time is the minimal one: the zip requests
the server counted during the run x 50 ms ÷ workers (a series needs at least its zip; its metadata
call can overlap it). The figure is the measured wall time over that ideal.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path

from tcia_sdk import download_series
from tcia_sdk.testing import DEFAULT_API_KEY
from tcia_sdk.v3 import Client

from ._common import Config, Figure, Target, progress, timed
from ._procs import ServerProcess

NAME = "bulk"
TARGET = Target("<=", 1.1)
LATENCY = 0.05
WORKERS = 8


def counts(server_url: str) -> Counter[str]:
    with urllib.request.urlopen(f"{server_url}/_bench/counts", timeout=30) as answer:  # loopback only
        return Counter(json.loads(answer.read()))


def uids(n: int) -> list[str]:
    return [f"1.2.826.0.1.3680043.10.1411.77.{i + 1}" for i in range(n)]


def _one(server_url: str, dest: Path, n: int) -> tuple[float, float, Counter[str]]:
    """One bulk download into ``dest``: its wall time, the ideal, and the requests the server counted."""
    before = counts(server_url)
    with Client(api_key=DEFAULT_API_KEY, base_url=server_url + "/services/v3") as tcia:
        wall, report = timed(lambda: download_series(tcia, uids(n), dest, layout="flat", workers=WORKERS))
    requested = counts(server_url) - before
    requested.pop("counts", None)
    if report.failed or len(report.downloaded) != n:
        first = report.failed[0].error if report.failed else "?"
        raise RuntimeError(f"{len(report.failed)} of {n} series failed; first: {first}")
    return wall, requested["getImage"] * LATENCY / WORKERS, requested


def run(config: Config) -> list[Figure]:
    n = config.pick(200, 40)
    reps = config.pick(5, 2)
    ratios: list[float] = []
    walls: list[float] = []
    ideals: list[float] = []
    requested: Counter[str] = Counter()
    with (
        ServerProcess("bulk", "--latency", str(LATENCY)) as server,
        tempfile.TemporaryDirectory(prefix="tcia-bench-bulk-") as tmp,
    ):
        for rep in range(reps):
            wall, ideal, requested = _one(server.url, Path(tmp) / f"run-{rep}", n)
            ratios.append(wall / ideal)
            walls.append(wall)
            ideals.append(ideal)
            progress(
                f"bulk: repetition {rep + 1}/{reps}: {wall:.2f} s, ideal {ideal:.2f} s, {dict(requested)}"
            )
    what = (
        f"download_series of {n} tiny series, workers={WORKERS}, {LATENCY * 1000:.0f} ms latency per "
        "request: wall ÷ (zip requests counted x latency ÷ workers)"
    )
    note = (
        f"median wall {statistics.median(walls):.2f} s, ideal {statistics.median(ideals):.2f} s; "
        f"requests per run: {', '.join(f'{k} {v}' for k, v in sorted(requested.items()))}"
    )
    return [Figure("bulk download", what, tuple(ratios), TARGET, notes=(note,))]
