"""scaling: 200 latency-bound series, one process against Dask LocalClusters of 2 and 4 processes.

The server process is NBIA v4 for any SeriesInstanceUID (``bulk4``): its getImage waits
``ZIP_LATENCY`` before answering a tiny zip, as TCIA builds zips on the fly; metadata answers at
once. Every run downloads the same 200 series with ``workers=8`` per process:

* one process: `download_series` alone (the single-machine engine);
* LocalClusters of 2 and 4 worker processes (one thread each, started and warmed up before the
  clock starts): ``cluster=``, with a global cap (``cluster_max_requests``) of 32, above
  4 x 8, so it does not bind;
* 4 processes with a cap of 16: the cap binds, and the figure is against the cap's bound;
* 4 processes writing to a loopback S3 (moto's server) against the same into a local folder.

Figures: throughput against the ideal (series x latency ÷ concurrency, concurrency = processes x
workers, or the cap when lower), and scaling: (one-process wall ÷ N-process wall) ÷ N, or ÷ the
cap's bound. The server reports the most zips it served at once, to show what bounded each run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tcia_sdk import download_series, nbia_v4

from ._common import Config, Figure, Target, progress, timed
from ._procs import ServerProcess

NAME = "scaling"
SCALING_TARGET = Target(">=", 0.85)
STORE_TARGET = Target(">=", 0.8)
WORKERS = 8
CAP = 32
BINDING_CAP = 16


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:  # loopback only
        return json.loads(answer.read())


def uids(n: int) -> list[str]:
    """Fresh UIDs per run: nothing is ever skipped as downloaded already."""
    tag = int(uuid.uuid4().hex[:8], 16)
    return [f"1.2.826.0.1.3680043.10.1411.78.{tag}.{i + 1}" for i in range(n)]


class Bench:
    def __init__(self, server_url: str, n: int, latency: float) -> None:
        self.url = server_url
        self.n = n
        self.latency = latency

    def one(self, dest: str, cluster: Any = None, cap: int = CAP) -> tuple[float, int]:
        """One download of n fresh series: its wall time and the most zips served at once."""
        series = uids(self.n)
        before = Counter(_get(f"{self.url}/_bench/counts"))
        _get(f"{self.url}/_bench/peak")  # start a fresh peak
        with nbia_v4.Client(base_url=f"{self.url}/nbia-api/services/v4") as client:
            wall, report = timed(
                lambda: download_series(
                    client, series, dest, workers=WORKERS, cluster=cluster, cluster_max_requests=cap
                )
            )
        peak = int(_get(f"{self.url}/_bench/peak"))
        zips = (Counter(_get(f"{self.url}/_bench/counts")) - before)["getImage"]
        if report.failed or zips != self.n:
            first = report.failed[0].error if report.failed else f"{zips} zips for {self.n} series"
            raise RuntimeError(f"{len(report.failed)} of {self.n} series failed; first: {first}")
        return wall, peak

    def ideal(self, concurrency: int) -> float:
        return self.n * self.latency / concurrency


@contextlib.contextmanager
def cluster(processes: int) -> Iterator[Any]:
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=processes,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@contextlib.contextmanager
def loopback_s3() -> Iterator[Callable[[], str]]:
    """moto's S3 server, the standard variables pointing at it (workers started later inherit
    them); yields a maker of fresh buckets (moto lists a prefix by scanning the whole bucket, so
    each run gets its own: what a run costs must not grow with the runs before it)."""
    from tests._s3 import MotoServer, aws_environment, env_patch

    with MotoServer() as moto, contextlib.contextmanager(env_patch)(aws_environment(moto.url)):

        def new_bucket() -> str:
            name = f"tcia-bench-{uuid.uuid4().hex[:10]}"
            moto.boto3().create_bucket(Bucket=name)
            return f"s3://{name}"

        yield new_bucket


def _raw_fetch(url: str, series: list[str], workers: int, start: float, out: Any) -> None:
    """A peer process: raw httpx fetching the zips, ``workers`` at a time, nothing else (no
    metadata, no verification, no disk), from ``start`` (wall clock) on."""
    import asyncio

    import httpx

    async def main() -> None:
        slots = asyncio.Semaphore(workers)
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:

            async def one(uid: str) -> None:
                async with slots:
                    answer = await client.get(
                        "/nbia-api/services/v4/getImage",
                        params={"SeriesInstanceUID": uid, "IncludeMD5": "yes"},
                    )
                    answer.raise_for_status()

            await asyncio.gather(*(one(uid) for uid in series))

    while time.time() < start:
        time.sleep(0.001)
    began = time.perf_counter()
    asyncio.run(main())
    out.put(time.perf_counter() - began)


def raw_processes(url: str, n: int, processes: int) -> float:
    """Wall time of ``processes`` raw-httpx peer processes sharing ``n`` series (the slowest)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    series = uids(n)
    start = time.time() + 2.0  # every process started and imported before the clock
    procs = [
        context.Process(target=_raw_fetch, args=(url, series[i::processes], WORKERS, start, out))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    walls = [float(out.get(timeout=600)) for _ in procs]
    for proc in procs:
        proc.join(60)
    return max(walls)


def run(config: Config) -> list[Figure]:
    n = config.pick(200, 48)
    latency = config.pick(0.5, 0.2)
    reps = config.pick(3, 1)
    walls: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}

    def record(name: str, wall: float, peak: int) -> None:
        walls.setdefault(name, []).append(wall)
        peaks[name] = max(peaks.get(name, 0), peak)

    with (
        ServerProcess("bulk4", "--zip-latency", str(latency)) as server,
        loopback_s3() as new_bucket,
        tempfile.TemporaryDirectory(prefix="tcia-bench-scaling-") as tmp,
    ):
        bench = Bench(server.url, n, latency)
        folder = Path(tmp)
        for rep in range(reps):
            record("1", *bench.one(str(folder / f"one-{rep}")))
            for processes in (1, 2, 4):
                walls.setdefault(f"raw {processes}", []).append(raw_processes(server.url, n, processes))
            progress(
                f"scaling: rep {rep + 1}/{reps}: 1 process {walls['1'][-1]:.2f} s; raw httpx in 1/2/4 "
                f"processes {walls['raw 1'][-1]:.2f}/{walls['raw 2'][-1]:.2f}/{walls['raw 4'][-1]:.2f} s"
            )
        for processes in (2, 4):
            with cluster(processes) as dask:
                warm = Bench(server.url, 4, latency)
                warm.one(str(folder / f"warm-{processes}"), dask)  # imports, pools, the semaphore
                warm.one(f"{new_bucket()}/warm", dask)
                for rep in range(reps):
                    record(str(processes), *bench.one(str(folder / f"c{processes}-{rep}"), dask))
                    if processes == 4:
                        record("4 cap", *bench.one(str(folder / f"cap-{rep}"), dask, cap=BINDING_CAP))
                        record("4 s3", *bench.one(f"{new_bucket()}/c4", dask))
                    progress(
                        f"scaling: rep {rep + 1}/{reps}: {processes} processes "
                        f"{walls[str(processes)][-1]:.2f} s"
                        + (
                            f", cap {walls['4 cap'][-1]:.2f} s, s3 {walls['4 s3'][-1]:.2f} s"
                            if processes == 4
                            else ""
                        )
                    )

    one = statistics.median(walls["1"])
    figures = [
        Figure(
            "scaling 1 process",
            f"{n} series, zips {latency * 1000:.0f} ms each, workers={WORKERS}: throughput ÷ ideal "
            f"({n} x {latency} s ÷ {WORKERS})",
            tuple(bench.ideal(WORKERS) / w for w in walls["1"]),
            Target(None),
            notes=(
                f"median wall {one:.2f} s, ideal {bench.ideal(WORKERS):.2f} s, "
                f"peak zips at once {peaks['1']}; peer raw httpx in one process: "
                f"{statistics.median(walls['raw 1']):.2f} s",
            ),
        )
    ]
    raw_one = statistics.median(walls["raw 1"])
    for processes in (2, 4):
        name = str(processes)
        raw = statistics.median(walls[f"raw {processes}"])
        figures.append(
            Figure(
                f"scaling {processes} processes",
                f"the same on a LocalCluster of {processes} processes, cap {CAP}: (1-process wall ÷ "
                f"wall) ÷ {processes}",
                tuple(one / w / processes for w in walls[name]),
                SCALING_TARGET,
                notes=(
                    f"median wall {statistics.median(walls[name]):.2f} s, throughput ÷ ideal "
                    f"{bench.ideal(processes * WORKERS) / statistics.median(walls[name]):.2f}, "
                    f"peak zips at once {peaks[name]}; peer raw httpx in {processes} processes (zips "
                    f"only): {raw:.2f} s, its scaling {raw_one / raw / processes:.2f}",
                ),
            )
        )
        figures.append(
            Figure(
                f"scaling {processes} processes ÷ raw httpx",
                f"the cluster run's wall ÷ raw httpx in {processes} processes fetching the same zips "
                "(no Dask, no metadata, no verification, no disk)",
                tuple(w / r for w, r in zip(walls[name], walls[f"raw {processes}"], strict=True)),
                Target(None),
            )
        )
    bound = BINDING_CAP / WORKERS
    figures.append(
        Figure(
            "scaling 4 processes, cap binds",
            f"4 processes with cluster_max_requests={BINDING_CAP}: (1-process wall ÷ wall) ÷ {bound:g} "
            "(the speed-up the cap allows)",
            tuple(one / w / bound for w in walls["4 cap"]),
            SCALING_TARGET,
            notes=(
                f"median wall {statistics.median(walls['4 cap']):.2f} s, peak zips at once "
                f"{peaks['4 cap']} (cap {BINDING_CAP})",
            ),
        )
    )
    figures.append(
        Figure(
            "scaling S3 vs disk",
            "4 processes into a loopback S3 (moto's server): throughput ÷ the same into a local folder",
            tuple(d / s for d, s in zip(walls["4"], walls["4 s3"], strict=True)),
            STORE_TARGET,
            notes=(
                f"median wall: disk {statistics.median(walls['4']):.2f} s, "
                f"S3 {statistics.median(walls['4 s3']):.2f} s",
            ),
        )
    )
    return figures
