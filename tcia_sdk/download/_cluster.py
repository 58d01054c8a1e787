"""Bulk downloads on a Dask cluster: the driver plans once, the workers run the engine on shards.

Dask schedules, retries and re-runs; nothing here is a scheduler. The driver (the caller's
process) locks and opens the destination, decides what is committed already (skipped, or moved
to this layout), fetches the metadata of the rest, and gives every series its folder (collisions
resolved in input order, as on one machine). It splits the series into size-balanced shards, one
per worker, and submits one task per shard. Each task builds its own client from the driver's
`ClientRecipe`, opens the shared destination (an object store, or a file system all workers
mount) for its shard only, and runs the same `_Run` as a one-machine download, with the driver's
folders fixed. The results come back as one `DownloadReport` in input order.

* **Secrets** never enter a task: the credentials (the client's auth and secret headers, the
  store's secret options) reach the workers in a worker plugin registered for the run, and are
  looked up there by run id. Task arguments, keys and dashboards see the recipe only.
* **A cluster-wide cap** on requests to TCIA: every request of every worker (and of the driver)
  takes a lease of one `distributed.Semaphore` named after the server, through the client's
  request gate. Adding machines adds speed only until the cap binds.
* **Faults.** A worker killed mid-shard: Dask runs the shard again elsewhere; its series committed
  before the kill are skipped by their records (never verified twice), the others are fetched.
  One series failing fails that series only. The driver killed: its tasks stop starting new
  series once Dask releases them, and a rerun of the same call resumes from the records.
* **Progress**: each shard reports (``log_event``, throttled); the driver sums the latest report
  of each shard's latest attempt into one `Progress`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import attrs
import distributed

from .._runtime.client import AsyncAPIClient, SyncAPIClient
from .._runtime.endpoint import DownloadInfo
from .._runtime.recipe import ClientRecipe, Credentials, build_async, recipe_of
from ..errors import ConfigurationError, DownloadError, TCIAError
from ._destination import Destination, Record, destination_for
from ._engine import (
    DownloadReport,
    Progress,
    SeriesResult,
    Wanted,
    _as_download_error,
    _info,
    _parse_int,
    _Run,
    no_metadata,
)
from ._layout import needs_header
from ._objectstore import StoreSpec

log = logging.getLogger("tcia_sdk.download")

# How often a shard reports its bytes (series are reported as they end).
PROGRESS_INTERVAL = 0.25
# How often a shard checks that the driver still wants it (a killed driver's tasks stop).
WATCH_INTERVAL = 0.5


@attrs.frozen
class ShardItem:
    """One series of a shard: its metadata fields, and the folder the driver gave it (None: the
    layout reads DICOM headers, so the worker decides it after extraction)."""

    uid: str
    fields: Mapping[str, Any]
    folder: str | None


@attrs.frozen
class ShardJob:
    """What a shard task gets besides its series: settings only, never a secret."""

    run_id: str
    shard: int
    recipe: ClientRecipe
    dest: Path | str
    storage_options: Mapping[str, str]
    layout: str
    workers: int
    retries: int
    verify_md5: bool
    force: bool
    fail_fast: bool
    max_series_bytes: int
    semaphore: str
    max_requests: int
    topic: str


# -- secrets, by worker plugin ---------------------------------------------------------------
_SECRETS: dict[str, tuple[Credentials, dict[str, str]]] = {}
_SECRETS_LOCK = threading.Lock()


class RunSecrets(distributed.WorkerPlugin):
    """The credentials of one run, installed on every worker (joining ones too) and removed at the
    end of the run; shown nowhere."""

    def __init__(self, run_id: str, credentials: Credentials, store_secrets: Mapping[str, str]) -> None:
        self.run_id = run_id
        self.name = f"tcia-secrets-{run_id}"
        self._credentials = credentials
        self._store_secrets = dict(store_secrets)

    def __repr__(self) -> str:
        return f"RunSecrets({self.run_id}, <redacted>)"

    def setup(self, worker: distributed.Worker) -> None:
        with _SECRETS_LOCK:
            _SECRETS[self.run_id] = (self._credentials, self._store_secrets)

    def teardown(self, worker: distributed.Worker) -> None:
        with _SECRETS_LOCK:
            _SECRETS.pop(self.run_id, None)


# -- the cluster-wide cap --------------------------------------------------------------------
class SemaphoreGate:
    """A `RequestGate` over a `distributed.Semaphore`: one lease per request in flight.

    Asking the scheduler for a lease is a round trip, and a download's next request follows its
    last at once; so leases are handed within the process: a request giving one back passes it to a
    request of this process that is waiting, else keeps it idle for ``LINGER`` seconds for the next
    one. A lease goes back to the scheduler when no request of this process took it in time, or
    after ``REUSE`` requests, so that other processes get their turn when the cap binds. A request
    that finds none asks the scheduler; whichever lease comes first (its own, or one handed over)
    serves it, and the other waits idle for the next request. The semaphore's calls block, so they
    run on a few threads of their own, never on the event loop. One event loop uses a gate.
    """

    LINGER = 0.05
    REUSE = 32

    def __init__(self, semaphore: distributed.Semaphore, threads: int) -> None:
        self._semaphore = semaphore
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tcia-lease")
        self._idle: list[list[int]] = []  # leases held and free: [uses]
        self._waiting: collections.deque[asyncio.Future[list[int]]] = collections.deque()
        # Leases this process holds, counted where they are granted and released (on the lease
        # threads), so that `close` gives back every one, even one granted after the loop ended.
        self._held = 0
        self._wanting = 0  # requests of this process waiting for a lease (read by the lease threads)
        self._count = threading.Lock()
        self._closing = threading.Event()

    def _acquire(self) -> bool:
        """One lease from the scheduler; False once no request of this process waits for one (a
        waiter served by a lease handed over must not leave its ask behind, hoarding leases other
        processes wait for), or the gate closed."""
        while not self._closing.is_set() and self._wanting > 0:
            if self._semaphore.acquire(timeout=0.1):
                with self._count:
                    self._held += 1
                return True
        return False

    def _release(self) -> None:
        with self._count:
            if self._held == 0:
                return
            self._held -= 1
        try:
            self._semaphore.release()
        except Exception as exc:  # the lease timed out meanwhile: the scheduler took it back
            log.debug("releasing a request lease: %s", exc)

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        if not self._acquire():
            raise RuntimeError("the request gate is closed")
        try:
            yield
        finally:
            self._threads.submit(self._release)

    # -- on the event loop -------------------------------------------------------------------
    def _hand(self, lease: list[int], loop: asyncio.AbstractEventLoop) -> None:
        """A free lease: to the first request waiting, else idle for LINGER, else back."""
        if lease[0] >= self.REUSE:
            self._threads.submit(self._release)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self._wanting -= 1
                waiter.set_result(lease)
                return
        self._idle.append(lease)
        loop.call_later(self.LINGER, self._expire, lease)

    def _expire(self, lease: list[int]) -> None:
        if lease in self._idle:  # nobody took it in time
            self._idle.remove(lease)
            self._threads.submit(self._release)

    def _granted(self, done: asyncio.Future[bool], loop: asyncio.AbstractEventLoop) -> None:
        if not done.cancelled() and done.exception() is None and done.result():
            self._hand([0], loop)

    @contextlib.asynccontextmanager
    async def async_(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lease = self._idle.pop() if self._idle else None
        if lease is None:
            waiter: asyncio.Future[list[int]] = loop.create_future()
            self._waiting.append(waiter)
            self._wanting += 1
            asking = loop.run_in_executor(self._threads, self._acquire)
            asking.add_done_callback(lambda done: self._granted(done, loop))
            try:
                lease = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed a lease just now: pass it on
                    self._hand(waiter.result(), loop)
                else:
                    self._wanting -= 1
                raise
        try:
            yield
        finally:
            lease[0] += 1
            if loop.is_closed():
                self._threads.submit(self._release)
            else:
                self._hand(lease, loop)

    def close(self) -> None:
        """Give back every lease this process holds (call it once the loop is done)."""
        self._closing.set()
        self._idle = []
        self._threads.shutdown(wait=True)
        while self._held:
            self._release()


def semaphore_name(base_url: str, max_requests: int) -> str:
    """One cap per TCIA host (and cap), shared by every run on the cluster."""
    return f"tcia-requests-{urlsplit(base_url).netloc}-{max_requests}"


# -- shards ----------------------------------------------------------------------------------
def balance(items: Sequence[ShardItem], sizes: Mapping[str, int], shards: int) -> list[list[ShardItem]]:
    """Split ``items`` into ``shards`` lists of about equal bytes (largest first, each to the
    lightest shard), each kept in input order."""
    count = max(1, min(shards, len(items)))
    loads = [0] * count
    chosen: list[list[int]] = [[] for _ in range(count)]
    order = sorted(range(len(items)), key=lambda i: -sizes[items[i].uid])
    for index in order:
        lightest = min(range(count), key=lambda s: (loads[s], len(chosen[s])))
        chosen[lightest].append(index)
        loads[lightest] += sizes[items[index].uid]
    return [[items[i] for i in sorted(indexes)] for indexes in chosen if indexes]


class _Reporter:
    """A shard's Progress, sent to the driver: bytes at most every PROGRESS_INTERVAL, series always."""

    def __init__(self, worker: distributed.Worker, job: ShardJob) -> None:
        self._worker = worker
        self._topic = job.topic
        self._shard = job.shard
        self._attempt = uuid.uuid4().hex
        self._last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.event == "bytes" and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        self._worker.log_event(
            self._topic,
            {
                "shard": self._shard,
                "attempt": self._attempt,
                "event": progress.event,
                "uid": progress.series_instance_uid,
                "series_done": progress.series_done,
                "bytes_done": progress.bytes_done,
            },
        )


@attrs.frozen
class ShardOutcome:
    """A shard's results, and the records of its committed series (the driver writes
    ``metadata.csv`` from them without reading the destination again)."""

    results: list[SeriesResult]
    records: dict[str, Record]


def run_shard(job: ShardJob, items: list[ShardItem]) -> ShardOutcome:
    """A shard task, on a worker: the engine on these series, into the shared destination."""
    worker = distributed.get_worker()
    with _SECRETS_LOCK:
        secrets = _SECRETS.get(job.run_id)
    if secrets is None:
        raise DownloadError(f"the credentials of run {job.run_id} did not reach worker {worker.address}")
    credentials, store_secrets = secrets
    key = distributed.get_worker().get_current_task()
    semaphore = distributed.Semaphore(max_leases=job.max_requests, name=job.semaphore)
    gate = SemaphoreGate(semaphore, threads=job.workers + 2)
    try:
        return asyncio.run(_shard(job, items, credentials, store_secrets, gate, worker, key))
    finally:
        gate.close()


def _abandoned(worker: distributed.Worker, key: Any) -> bool:
    """Whether the scheduler let go of this task (its driver is gone, or cancelled it)."""
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


async def _shard(
    job: ShardJob,
    items: list[ShardItem],
    credentials: Credentials,
    store_secrets: Mapping[str, str],
    gate: SemaphoreGate,
    worker: distributed.Worker,
    key: Any,
) -> ShardOutcome:
    client = build_async(job.recipe, credentials)
    client._in_flight.gate = gate
    target = destination_for(job.dest, {**job.storage_options, **store_secrets})
    await asyncio.to_thread(target.open, [item.uid for item in items])
    try:
        async with client:
            run = _Run(
                client,
                client,
                _info(client),
                target,
                layout=job.layout,
                retries=job.retries,
                verify_md5=job.verify_md5,
                force=job.force,
                fail_fast=job.fail_fast,
                workers=job.workers,
                max_series_bytes=job.max_series_bytes,
                progress=_Reporter(worker, job),
                planned={i.uid: PurePosixPath(i.folder) for i in items if i.folder is not None},
                count_skipped_bytes=True,
            )

            async def watch() -> None:
                while not run.stop:
                    await asyncio.sleep(WATCH_INTERVAL)
                    if _abandoned(worker, key):
                        log.warning("shard %s of run %s was released; stopping", job.shard, job.run_id)
                        run.stop = True

            watcher = asyncio.create_task(watch())
            try:
                results = await run.run([(item.uid, item.fields) for item in items])
            finally:
                watcher.cancel()
                await asyncio.to_thread(run.close)
            mine = {item.uid for item in items}
            return ShardOutcome(results, {u: r for u, r in target.records().items() if u in mine})
    finally:
        await asyncio.to_thread(target.close)


# -- the driver ------------------------------------------------------------------------------
class _Aggregate:
    """One Progress for the run: the driver's own (series skipped, moved or failed in planning)
    plus the latest report of the latest attempt of each shard; delivered on the driver's loop."""

    def __init__(
        self, callback: Callable[[Progress], None] | None, loop: asyncio.AbstractEventLoop, total: int
    ) -> None:
        self.callback = callback
        self.loop = loop
        self.total = total
        self.bytes_expected: int | None = None
        self._driver = 0
        self._shards: dict[int, tuple[str, int, int]] = {}

    def driver(self, progress: Progress) -> None:
        self._driver = progress.series_done
        self._emit(progress.event, progress.series_instance_uid)

    def on_event(self, event: tuple[float, Any]) -> None:  # on the Dask client's thread
        with contextlib.suppress(RuntimeError):  # the loop closed: the run is over
            self.loop.call_soon_threadsafe(self._shard, event[1])

    def _shard(self, msg: Mapping[str, Any]) -> None:
        shard, attempt = int(msg["shard"]), str(msg["attempt"])
        current = self._shards.get(shard)
        done, done_bytes = int(msg["series_done"]), int(msg["bytes_done"])
        if current is not None and current[0] == attempt:
            done, done_bytes = max(done, current[1]), max(done_bytes, current[2])
        self._shards[shard] = (attempt, done, done_bytes)
        self._emit("series" if msg["event"] == "series" else "bytes", str(msg["uid"]))

    def _emit(self, event: Any, uid: str) -> None:
        if self.callback is None:
            return
        done = self._driver + sum(s[1] for s in self._shards.values())
        done_bytes = sum(s[2] for s in self._shards.values())
        if self.bytes_expected is not None:
            done_bytes = min(done_bytes, self.bytes_expected)
        done = min(done, self.total)
        self.callback(Progress(event, uid, done, self.total, done_bytes, self.bytes_expected))


def _check_cluster(cluster: Any, max_requests: object) -> None:
    if not isinstance(cluster, distributed.Client):
        raise TypeError(f"cluster must be a dask.distributed.Client, got {type(cluster).__name__}")
    if cluster.asynchronous:
        raise TypeError("cluster must be a synchronous dask.distributed.Client (asynchronous=False)")
    if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
        raise ValueError(f"cluster_max_requests must be an int >= 1, got {max_requests!r}")


def _split_store_options(
    dest: Path | str, options: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """(public, secret) store options: the secret ones travel with the credentials."""
    if isinstance(dest, Path) or not options:
        return dict(options or {}), {}
    public = dict(StoreSpec(dest, options=dict(options)).public().options)
    return public, {k: v for k, v in options.items() if k not in public}


async def download_on_cluster(
    cluster: Any,
    client: AsyncAPIClient | SyncAPIClient,
    wanted: Wanted,
    destination: Path | str,
    *,
    storage_options: Mapping[str, str] | None,
    layout: str,
    workers: int,
    retries: int,
    verify_md5: bool,
    force: bool,
    fail_fast: bool,
    progress: Callable[[Progress], None] | None,
    wait: bool,
    max_series_bytes: int,
    max_requests: int,
) -> DownloadReport:
    """`adownload_series` with ``cluster=``: see the module docstring."""
    _check_cluster(cluster, max_requests)
    info = _info(client)
    recipe, credentials = recipe_of(client)
    public_options, store_secrets = _split_store_options(destination, storage_options)
    run_id = uuid.uuid4().hex[:12]
    name = semaphore_name(recipe.base_url, max_requests)
    target = destination_for(destination, storage_options)
    locked = target.locked(wait)
    seen: dict[str, Record] = {}  # every record, once each shard has reported; emptied if one did not
    complete = [False]
    await asyncio.to_thread(locked.__enter__)
    try:
        await asyncio.to_thread(target.open)
        try:
            results = await _drive(
                cluster,
                client,
                info,
                recipe,
                credentials,
                target,
                wanted,
                destination,
                public_options,
                store_secrets,
                run_id=run_id,
                semaphore=name,
                layout=layout,
                workers=workers,
                retries=retries,
                verify_md5=verify_md5,
                force=force,
                fail_fast=fail_fast,
                progress=progress,
                max_series_bytes=max_series_bytes,
                max_requests=max_requests,
                seen=seen,
                complete=complete,
            )
        finally:
            try:
                if not complete[0]:  # a shard did not report its records: read them all again
                    await asyncio.to_thread(target.close)
                    await asyncio.to_thread(target.open)
                    seen = target.records()
                await asyncio.to_thread(target.write_metadata_csv, seen.values())
            except DownloadError as exc:
                log.warning("%s", exc)
    finally:
        try:
            await asyncio.to_thread(target.close)
        finally:
            await asyncio.to_thread(locked.__exit__, None, None, None)
    return DownloadReport(tuple(results[uid] for uid, _ in wanted), destination)


async def _drive(
    cluster: distributed.Client,
    client: AsyncAPIClient | SyncAPIClient,
    info: DownloadInfo,
    recipe: ClientRecipe,
    credentials: Credentials,
    target: Destination,
    wanted: Wanted,
    destination: Path | str,
    public_options: Mapping[str, str],
    store_secrets: Mapping[str, str],
    *,
    run_id: str,
    semaphore: str,
    layout: str,
    workers: int,
    retries: int,
    verify_md5: bool,
    force: bool,
    fail_fast: bool,
    progress: Callable[[Progress], None] | None,
    max_series_bytes: int,
    max_requests: int,
    seen: dict[str, Record],
    complete: list[bool],
) -> dict[str, SeriesResult]:
    loop = asyncio.get_running_loop()
    unique_count = len(dict.fromkeys(uid for uid, _ in wanted))
    aggregate = _Aggregate(progress, loop, unique_count)
    # The driver's own requests (series metadata) count against the cap too.
    driver_gate = SemaphoreGate(
        distributed.Semaphore(
            max_leases=max_requests, name=semaphore, scheduler_rpc=cluster.scheduler, loop=cluster.loop
        ),
        threads=workers + 2,
    )
    aclient = build_async(recipe, credentials)
    aclient._in_flight.gate = driver_gate
    try:
        async with aclient:
            run = _Run(
                aclient,
                client,
                info,
                target,
                layout=layout,
                retries=retries,
                verify_md5=verify_md5,
                force=force,
                fail_fast=fail_fast,
                workers=workers,
                max_series_bytes=max_series_bytes,
                progress=aggregate.driver,
            )
            try:
                unique, fetch = await run.plan(wanted)
                try:
                    items = await _plan_items(run, unique, fetch)
                finally:
                    await run.metadata.close()
            finally:
                await asyncio.to_thread(run.close)
    finally:
        driver_gate.close()
    results = run.results
    seen.update(target.records())
    if not items:
        complete[0] = True
        return results
    sizes = {i.uid: _parse_int(i.fields, info.size_field)[0] for i in items}
    known = [s for s in sizes.values() if s is not None]
    aggregate.bytes_expected = sum(known) if len(known) == len(sizes) else None
    typical = int(statistics.median(known)) if known else 1
    weights = {uid: size if size is not None else typical for uid, size in sizes.items()}
    addresses = list((await asyncio.to_thread(cluster.scheduler_info))["workers"])
    if not addresses:
        raise ConfigurationError("the Dask cluster has no workers")
    shards = balance(items, weights, len(addresses))
    topic = f"tcia-progress-{run_id}"
    jobs = [
        ShardJob(
            run_id=run_id,
            shard=index,
            recipe=recipe,
            dest=destination,
            storage_options=public_options,
            layout=layout,
            workers=workers,
            retries=retries,
            verify_md5=verify_md5,
            force=force,
            fail_fast=fail_fast,
            max_series_bytes=max_series_bytes,
            semaphore=semaphore,
            max_requests=max_requests,
            topic=topic,
        )
        for index in range(len(shards))
    ]
    plugin = RunSecrets(run_id, credentials, store_secrets)
    await asyncio.to_thread(cluster.register_plugin, plugin)
    cluster.subscribe_topic(topic, aggregate.on_event)
    futures: list[distributed.Future[ShardOutcome]] = []
    try:
        for job, shard in zip(jobs, shards, strict=True):
            futures.append(
                await asyncio.to_thread(
                    cluster.submit,
                    run_shard,
                    job,
                    shard,
                    key=f"tcia-download-{run_id}-shard-{job.shard}",
                    workers=[addresses[job.shard % len(addresses)]],
                    allow_other_workers=True,
                    pure=False,
                )
            )
        await asyncio.to_thread(distributed.wait, futures)
        reported = 0
        for future, shard in zip(futures, shards, strict=True):
            try:
                outcome = await asyncio.to_thread(future.result)
            except Exception as exc:
                # The shard itself failed (its workers died again and again, or a fault of the
                # destination): each of its series says so; the other shards stand.
                error = _as_download_error(exc, shard[0].uid, "the cluster could not run this series' shard")
                for item in shard:
                    results[item.uid] = SeriesResult(item.uid, "failed", error=_for_series(error, item.uid))
                continue
            for result in outcome.results:
                results[result.series_instance_uid] = result
            seen.update(outcome.records)
            reported += 1
        complete[0] = reported == len(shards)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            await asyncio.to_thread(cluster.cancel, pending)
        cluster.unsubscribe_topic(topic)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(cluster.unregister_worker_plugin, plugin.name)
    return results


def _for_series(error: TCIAError, uid: str) -> TCIAError:
    if isinstance(error, DownloadError) and error.series_instance_uid != uid:
        copy = DownloadError(str(error), series_instance_uid=uid)
        copy.__cause__ = error.__cause__
        return copy
    return error


async def _plan_items(
    run: _Run, unique: Mapping[str, Mapping[str, Any] | None], fetch: list[str]
) -> list[ShardItem]:
    """The metadata and folder of every series to fetch; those that fail here are results."""
    info = run.info

    async def fields_of(uid: str) -> Mapping[str, Any] | TCIAError:
        given = unique[uid]
        if given is not None:
            return given
        try:
            found = await run.metadata.get(uid)
        except TCIAError as exc:
            return exc
        except Exception as exc:
            return _as_download_error(exc, uid, "its metadata could not be read")
        if found is None:
            return no_metadata(run.client, uid)
        return found

    found = dict(zip(fetch, await asyncio.gather(*(fields_of(uid) for uid in fetch)), strict=True))
    for uid in fetch:  # proposals in input order; a layout reading headers is left to the worker
        fields = found[uid]
        if isinstance(fields, TCIAError):
            run.planner.propose(uid, None)
            continue
        run.meter.expect(uid, _parse_int(fields, info.size_field)[0])
        run._propose_from_fields(uid, fields)
        if not run.planner.proposed(uid):
            run.planner.propose(uid, None)
    items: list[ShardItem] = []
    for uid in fetch:
        fields = found[uid]
        if isinstance(fields, TCIAError):
            run.results[uid] = SeriesResult(uid, "failed", error=fields)
            run.meter.finish(uid, None)
            continue
        folder: str | None = None
        if not needs_header(run.layout, {**fields, "SeriesInstanceUID": uid}):
            try:
                folder = (await run.planner.folder(uid)).as_posix()
            except DownloadError as exc:
                run.results[uid] = SeriesResult(uid, "failed", error=exc)
                run.meter.finish(uid, None)
                continue
        items.append(ShardItem(uid, dict(fields), folder))
    return items


# -- for the CLI -----------------------------------------------------------------------------
@contextlib.contextmanager
def connect(address: str) -> Iterator[distributed.Client]:
    """A Dask client for ``address``: ``tcp://host:8786`` (any scheduler), or ``local:N`` for a
    LocalCluster of N worker processes on this machine (one thread each), closed at the end."""
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--dask local:N needs a number of workers >= 1, got {address!r}")
        with (
            distributed.LocalCluster(
                n_workers=int(count), threads_per_worker=1, processes=True, dashboard_address=None
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client
        return
    with distributed.Client(address, timeout=30) as client:
        yield client
