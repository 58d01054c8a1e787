"""overhead: many small calls through the SDK client against raw httpx, sync and async.

One loopback server process (FakeTCIA(["v3"]) with 20 collections) serves both sides; each
repetition runs the raw and the SDK batch back to back, taking turns at going first. Connections are
opened (one warm-up call) before the clock starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from tcia_sdk.testing import DEFAULT_API_KEY
from tcia_sdk.v3 import AsyncClient, Client

from ._common import Config, Figure, Target, latest, medians, progress, rotated, timed
from ._procs import ServerProcess

NAME = "overhead"
TARGET = Target("<=", 1.10, "<= 1.10")
PREFIX = "/services/v3"
PATH = "TCIA/query/getCollectionValues"
TASKS = 4
ROWS = 20


def _sync_raw(base: str, calls: int) -> float:
    with httpx.Client(base_url=base, headers={"api_key": DEFAULT_API_KEY}) as http:
        if len(http.get(PATH, params={"format": "json"}).json()) != ROWS:
            raise RuntimeError("the server did not answer 20 collections")

        def batch() -> None:
            for _ in range(calls):
                http.get(PATH, params={"format": "json"}).json()

        return timed(batch)[0]


def _sync_sdk(base: str, calls: int) -> float:
    with Client(api_key=DEFAULT_API_KEY, base_url=base) as tcia:
        if len(tcia.get_collection_values()) != ROWS:
            raise RuntimeError("the SDK did not get 20 collections")

        def batch() -> None:
            for _ in range(calls):
                tcia.get_collection_values()

        return timed(batch)[0]


async def _concurrently(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """``calls`` calls made by TASKS tasks, each calling in turn; the wall time."""

    async def task(share: int) -> None:
        for _ in range(share):
            await call()

    shares = [calls // TASKS + (1 if i < calls % TASKS else 0) for i in range(TASKS)]
    started = time.perf_counter()
    await asyncio.gather(*(task(share) for share in shares))
    return time.perf_counter() - started


async def _async_raw(base: str, calls: int) -> float:
    async with httpx.AsyncClient(base_url=base, headers={"api_key": DEFAULT_API_KEY}) as http:

        async def one() -> object:
            return (await http.get(PATH, params={"format": "json"})).json()

        await asyncio.gather(*(one() for _ in range(TASKS)))  # open TASKS connections
        return await _concurrently(one, calls)


async def _async_sdk(base: str, calls: int) -> float:
    async with AsyncClient(api_key=DEFAULT_API_KEY, base_url=base) as tcia:

        async def one() -> object:
            return await tcia.get_collection_values()

        await asyncio.gather(*(one() for _ in range(TASKS)))
        return await _concurrently(one, calls)


def _pairs(
    label: str, reps: int, raw: Callable[[], float], sdk: Callable[[], float]
) -> tuple[tuple[float, ...], str]:
    times: dict[str, list[float]] = {"raw": [], "sdk": []}
    runners = {"raw": raw, "sdk": sdk}
    for rep in range(reps):
        for name in rotated(list(runners), rep):
            times[name].append(runners[name]())
        progress(f"overhead {label}: repetition {rep + 1}/{reps}: {latest(times)}")
    ratios = tuple(s / r for s, r in zip(times["sdk"], times["raw"], strict=True))
    note = f"{label} median seconds: {medians(times)}"
    return ratios, note


def run(config: Config) -> list[Figure]:
    calls = config.pick(2000, 200)
    reps = config.pick(5, 3)
    with ServerProcess("fake") as server:
        base = server.url + PREFIX
        sync, sync_note = _pairs("sync", reps, lambda: _sync_raw(base, calls), lambda: _sync_sdk(base, calls))
        asyn, async_note = _pairs(
            "async",
            reps,
            lambda: asyncio.run(_async_raw(base, calls)),
            lambda: asyncio.run(_async_sdk(base, calls)),
        )
    what = f"{calls} get_collection_values calls ({ROWS} rows each)"
    return [
        Figure(
            "overhead sync",
            f"{what}: SDK Client ÷ httpx.Client.get().json()",
            sync,
            TARGET,
            notes=(sync_note,),
        ),
        Figure(
            "overhead async",
            f"{what}, {TASKS} tasks: SDK AsyncClient ÷ httpx.AsyncClient",
            asyn,
            TARGET,
            notes=(async_note,),
        ),
    ]
