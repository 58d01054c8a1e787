"""Downloading many series: bounded concurrency (asyncio underneath), verification, layout, resume.

A run: validate every input before any request (UIDs, layout and its keywords, parameters); lock
the destination; read its records; move series recorded under another layout into this one; then
fetch the rest with ``workers`` at a time. Per series: the zip streams into a staging folder while
its metadata is asked (one call per series, or bulk chunks fetched ahead), is verified and
extracted there, gets a folder that no other series holds (input order decides), and is committed
(files moved into place, then its record written: the commit point). Any failure leaves nothing
at the series' destination. The endpoints, parameters and fields come from the API's spec
(``DownloadInfo``), so every API version with a series-zip endpoint is served by this one engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar, overload

import attrs

from .._runtime.client import AsyncAPIClient, BaseAPIClient, SyncAPIClient
from .._runtime.endpoint import DownloadInfo, Endpoint
from .._runtime.params import from_wire
from .._runtime.structure import unstructure
from ..errors import (
    APIConnectionError,
    BadRequestError,
    ConfigurationError,
    DownloadError,
    RateLimitError,
    ServerError,
    TCIAError,
)
from ._archive import Verified, extract_verified, size_margin
from ._destination import Destination, Record, destination_for, local_or_store, safe_relative
from ._layout import (
    LAYOUTS,
    Claims,
    check_layout,
    header_reader,
    needs_header,
    series_path,
    unique_folder,
)
from ._manifest import is_uid, read_manifest

log = logging.getLogger("tcia_sdk.download")

Status = Literal["downloaded", "skipped", "failed"]
SeriesInput = str | os.PathLike[str] | Iterable[Any]
# Errors worth another attempt of the whole series, after the transport's own retries.
RETRYABLE = (DownloadError, APIConnectionError, RateLimitError, ServerError)
# Exceptions that are bugs of this code, not faults of a series: they propagate.
BUGS = (TypeError, AttributeError, NameError, AssertionError, KeyError, IndexError, UnboundLocalError)
DEFAULT_MAX_SERIES_BYTES = 50 << 30  # 50 GiB: above any TCIA series
STAGED_FACTOR = 2  # series staged (asked, downloading or being verified) per worker
# Requests to one TCIA host in flight across a whole cluster run: the NBIA Data Retriever's own
# limit of connections per host (see the README's Scaling section).
DEFAULT_CLUSTER_MAX_REQUESTS = 8
T = TypeVar("T")


@attrs.frozen
class SeriesResult:
    """One series of a download: where it went and how it ended.

    ``paths`` and ``directory`` are the local files and folder (empty and None in an object
    store); ``location`` is the folder as text in every destination: a path, or the store URL
    (``s3://bucket/prefix/...``). ``moved_from``: the folder a rerun with another layout moved it
    from (status "skipped": not downloaded again). ``note``: anything worth saying about a series
    that did not fail (its folder was taken by another series, or it could not be moved to the new
    layout, and why).
    """

    series_instance_uid: str
    status: Status
    paths: tuple[Path, ...] = ()
    directory: Path | None = None
    error: TCIAError | None = None
    instances: int = 0
    dicom_bytes: int = 0
    attempts: int = 0
    moved_from: Path | str | None = None
    note: str | None = None
    location: str | None = None


@attrs.frozen
class DownloadReport(Sequence[SeriesResult]):
    """One result per requested series, in input order."""

    results: tuple[SeriesResult, ...]
    destination: Path | str  # a folder, or an object-store URL

    @overload
    def __getitem__(self, index: int) -> SeriesResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[SeriesResult]: ...
    def __getitem__(self, index: int | slice) -> SeriesResult | Sequence[SeriesResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[SeriesResult]:
        return iter(self.results)

    @property
    def failed(self) -> list[SeriesResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def downloaded(self) -> list[SeriesResult]:
        return [r for r in self.results if r.status == "downloaded"]

    @property
    def skipped(self) -> list[SeriesResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def paths(self) -> list[Path]:
        """Every DICOM file of the downloaded and skipped series."""
        return [p for r in self.results for p in r.paths]

    def raise_for_failures(self) -> None:
        if self.failed:
            first = self.failed[0]
            raise DownloadError(
                f"{len(self.failed)} of {len(self.results)} series failed; first: "
                f"{first.series_instance_uid}: {first.error}",
                series_instance_uid=first.series_instance_uid,
            )


@attrs.frozen
class Progress:
    """Passed to the ``progress`` callback: totals so far, and what just happened.

    ``bytes_done`` and ``bytes_expected`` count DICOM bytes (the metadata's FileSize units):
    ``bytes_expected`` is the sum of the expected sizes of the series to fetch (None while any is
    unknown); ``bytes_done`` the verified DICOM bytes of finished series plus the zip bytes received
    for series in flight, each capped at that series' expected size (a series of unknown size counts
    when it is verified), so the bar ends exactly at ``bytes_expected``. Skipped series count in
    ``series_done``, not in bytes. ``bytes_done`` never decreases, except when a retry (or a
    failure) discards the bytes of an attempt.
    """

    event: Literal["bytes", "series"]
    series_instance_uid: str
    series_done: int
    series_total: int
    bytes_done: int
    bytes_expected: int | None


@attrs.frozen
class Estimate:
    """What a download would fetch, from the series metadata alone (a dry run)."""

    series: int
    instances: int
    dicom_bytes: int | None
    unknown_size: tuple[str, ...]
    unknown_series: tuple[str, ...]


Wanted = list[tuple[str, Mapping[str, Any] | None]]


# -- inputs ----------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    """None, NaN, pandas' NA/NaT: a cell without a value."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA: its comparison has no truth value
        return True


def _clean(fields: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in fields.items() if not _missing(v)}


def _checked_uid(value: Any, where: str) -> str:
    if _missing(value) or value == "":
        raise ValueError(f"{where} has no SeriesInstanceUID")
    if not is_uid(value):
        raise ValueError(f"{where}: {value!r} is not a DICOM UID (digits and dots, at most 64 characters)")
    return str(value)


def _frame(series: Any) -> list[Mapping[str, Any]] | None:
    """The rows of a DataFrame-like object (``columns`` and ``to_dict``), None for anything else."""
    columns = getattr(series, "columns", None)
    if columns is None or not callable(getattr(series, "to_dict", None)) or isinstance(series, Mapping):
        return None
    names = [str(c) for c in columns]
    if "SeriesInstanceUID" not in names:
        raise ValueError(
            f"the DataFrame has no SeriesInstanceUID column (its columns: {', '.join(names[:12])})"
        )
    rows: list[Mapping[str, Any]] = series.to_dict("records")
    return rows


def _inputs(series: SeriesInput) -> Wanted:
    """(UID, wire fields or None) per input series, each UID checked before it can touch a path."""
    if isinstance(series, bytes | bytearray):
        raise TypeError("series must be UIDs, series rows, a DataFrame or a manifest path, not bytes")
    if isinstance(series, str):
        if is_uid(series):
            return [(series, None)]
        if not series or not Path(series).is_file():
            raise ValueError(
                f"{series!r} is neither a SeriesInstanceUID (digits and dots, at most 64 characters) "
                "nor an existing manifest file"
            )
        return [(uid, None) for uid in read_manifest(Path(series))]
    if isinstance(series, os.PathLike):
        path = Path(series)
        if not path.is_file():
            raise ValueError(f"the manifest {path} does not exist or is not a file")
        return [(uid, None) for uid in read_manifest(path)]
    if isinstance(series, Mapping):
        raise TypeError("series must be a list of rows, not one row: wrap it in a list")
    rows = _frame(series)
    items: Iterable[Any] = rows if rows is not None else series
    out: Wanted = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            out.append((_checked_uid(item, f"series {index}"), None))
        elif isinstance(item, Mapping):
            fields = _clean(item)
            uid = _checked_uid(fields.get("SeriesInstanceUID"), f"series row {index}")
            out.append((uid, fields))
        elif attrs.has(type(item)) and hasattr(item, "series_instance_uid"):
            uid = _checked_uid(item.series_instance_uid, f"series row {index} ({type(item).__name__})")
            out.append((uid, unstructure(item)))
        else:
            raise TypeError(
                f"cannot download {item!r}: pass SeriesInstanceUIDs, series rows, a DataFrame with a "
                "SeriesInstanceUID column, or a manifest path"
            )
    return out


def _check_options(
    dest: object, workers: object, retries: object, max_series_bytes: object, storage_options: object
) -> Path | str:
    """The destination as a local folder, or an object-store URL; ValueError/TypeError for
    anything that cannot work, before any request."""
    for name, value, least in (("workers", workers, 1), ("retries", retries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if isinstance(max_series_bytes, bool) or not isinstance(max_series_bytes, int) or max_series_bytes < 1:
        raise ValueError(f"max_series_bytes must be an int >= 1, got {max_series_bytes!r}")
    if not isinstance(dest, str | os.PathLike):
        raise TypeError(f"dest must be a path or an object-store URL, got {type(dest).__name__}")
    if not os.fspath(dest) or not str(os.fspath(dest)).strip():
        raise ValueError("dest must name a folder, got an empty path")
    if storage_options is not None and (
        not isinstance(storage_options, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in storage_options.items())
    ):
        raise TypeError("storage_options must map option names to strings")
    if isinstance(dest, str):
        return local_or_store(dest)
    return Path(dest)


def _info(client: BaseAPIClient) -> DownloadInfo:
    info = client._download_info
    if info is None:
        raise ConfigurationError(f"{client._api.name} has no series-zip endpoint to download from")
    return info


def _layout_fields(info: DownloadInfo) -> tuple[set[str], str]:
    """The wire names a layout template may use without DICOM headers, and where they come from."""
    names = {"SeriesInstanceUID"}
    models: list[str] = []
    for endpoint in (info.metadata, info.query):
        model = endpoint.model if endpoint is not None else None
        if model is not None and model.name not in models:
            models.append(model.name)
            for field in model.fields:
                names.add(field.wire)
                names.update(field.aliases)
    return names, f"the {info.metadata.api.name} series metadata ({', '.join(models)})"


def _parse_int(fields: Mapping[str, Any], name: str | None) -> tuple[int | None, str]:
    """A count or size field: (value, "verified") when usable, else (None, why it is unknown)."""
    if name is None:
        return None, "unknown: the API gives no size"
    value = fields.get(name)
    if value is None or value == "":
        return None, f"unknown: the metadata has no {name}"
    if isinstance(value, bool):
        return None, f"unknown: {name} {value!r} is not a number"
    try:
        number = int(value)
    except (TypeError, ValueError):
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            return None, f"unknown: {name} {value!r} is not a number"
        if not as_float.is_integer():
            return None, f"unknown: {name} {value!r} is not a whole number"
        number = int(as_float)
    if number < 0:
        return None, f"unknown: {name} {value!r} is negative"
    return number, "verified"


def _int_or_none(value: Any) -> int | None:
    return _parse_int({"v": value}, "v")[0]


# -- metadata --------------------------------------------------------------------------------
class _Metadata:
    """Series metadata on demand: bulk chunks fetched in order ahead of the downloads where the API
    takes a list (the first zips start after the first chunk), else one call per series, which the
    series' worker starts together with its zip."""

    def __init__(self, client: AsyncAPIClient, info: DownloadInfo, bulk: list[str], workers: int) -> None:
        self.client = client
        self.info = info
        self._slots = asyncio.Semaphore(workers)  # calls of one series each, at once
        self._results: dict[str, Mapping[str, Any] | TCIAError | None] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        if info.metadata_list_param and bulk:
            chunks = [bulk[i : i + info.metadata_chunk] for i in range(0, len(bulk), info.metadata_chunk)]
            for chunk in chunks:
                event = asyncio.Event()
                self._ready.update(dict.fromkeys(chunk, event))
            self._task = asyncio.create_task(self._fetch_chunks(chunks))

    async def _fetch_chunks(self, chunks: list[list[str]]) -> None:
        param = self.info.metadata_list_param
        assert param is not None
        try:
            for chunk in chunks:
                await self._fetch_chunk(param, chunk)
        finally:
            for event in self._ready.values():
                event.set()  # never leave a series waiting (a bug here surfaces in get())

    async def _fetch_chunk(self, param: str, chunk: list[str]) -> None:
        try:
            rows = (await self.client._call(self.info.metadata, {param: chunk})).parse()
            wanted = set(chunk)
            for row in rows:
                fields = _clean(unstructure(row))
                uid = fields.get("SeriesInstanceUID")
                if isinstance(uid, str) and uid in wanted and uid not in self._results:
                    self._results[uid] = fields
        except BUGS:
            raise
        except Exception as exc:  # the chunk's series fail with it; the next chunk is asked
            error = _as_download_error(exc, chunk[0], "the series metadata could not be read")
            self._results.update(dict.fromkeys(chunk, error))
        finally:
            self._ready[chunk[0]].set()

    async def get(self, uid: str) -> Mapping[str, Any] | None:
        """The series' wire fields; None when the API has none (unknown, or not public)."""
        event = self._ready.get(uid)
        if event is not None:
            await event.wait()
            if uid not in self._results and self._task is not None and self._task.done():
                self._task.result()  # the chunk task failed: its exception, here
            found = self._results.get(uid)
            if isinstance(found, TCIAError):
                raise found
            return found
        async with self._slots:
            if self.info.metadata_list_param:
                param = self.info.metadata_list_param
                rows = (await self.client._call(self.info.metadata, {param: [uid]})).parse()
            else:
                by = self.info.metadata_by
                assert by is not None
                rows = (await self.client._call(self.info.metadata, {by: uid})).parse()
        for row in rows:
            fields = _clean(unstructure(row))
            named = fields.get("SeriesInstanceUID", uid)
            if named == uid:
                return fields
            if not self.info.metadata_list_param:
                raise DownloadError(
                    f"the API's metadata for this series names another series, {named!r}",
                    series_instance_uid=uid,
                )
        return None

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# -- folders ---------------------------------------------------------------------------------
class _Planner:
    """Gives each series to fetch a folder no other series holds, in input order.

    A series proposes the folder its layout gives as soon as it is known (before any request for
    rows given with their fields; when its metadata arrives; after extraction when the layout
    reads DICOM headers), or None when it failed first. Assignment waits for the proposals of the
    series before it, so the result does not depend on timing: recorded series keep their folders;
    a later series whose folder is taken gets ``_<SeriesInstanceUID>`` on its last component.
    """

    def __init__(self, order: list[str], claims: Claims, fixed: Mapping[str, PurePosixPath]) -> None:
        self.order = order
        self.index = {uid: i for i, uid in enumerate(order)}
        self.claims = claims
        self.fixed = fixed
        self._proposed: dict[str, PurePosixPath | None] = {}
        self._events = {uid: asyncio.Event() for uid in order}
        self._assigned: dict[str, PurePosixPath | str] = {}  # folder, or why there is none
        self.notes: dict[str, str] = {}
        self._next = 0

    def propose(self, uid: str, folder: PurePosixPath | None) -> None:
        if uid in self._proposed:
            return
        self._proposed[uid] = self.fixed.get(uid, folder) if folder is not None else None
        self._events[uid].set()
        self._resolve()

    def proposed(self, uid: str) -> bool:
        return uid in self._proposed

    def _resolve(self) -> None:
        while self._next < len(self.order) and self.order[self._next] in self._proposed:
            uid = self.order[self._next]
            self._next += 1
            wanted = self._proposed[uid]
            if wanted is None:
                self._assigned[uid] = "it failed before its folder was known"
                continue
            if uid in self.fixed:  # recorded: it keeps its folder (claimed already)
                self._assigned[uid] = wanted
                continue
            try:
                folder, other = unique_folder(self.claims, wanted, uid)
            except ValueError as exc:
                self._assigned[uid] = str(exc)
                continue
            if other is not None:
                note = f"its folder {wanted} belongs to series {other}; placed in {folder}"
                self.notes[uid] = note
                log.warning("series %s: %s", uid, note)
            self.claims.claim(folder, uid)
            self._assigned[uid] = folder

    async def folder(self, uid: str) -> PurePosixPath:
        for before in self.order[: self.index[uid] + 1]:
            await self._events[before].wait()
        assigned = self._assigned[uid]
        if isinstance(assigned, str):
            raise DownloadError(f"no folder for this series: {assigned}", series_instance_uid=uid)
        return assigned


# -- progress --------------------------------------------------------------------------------
class _Meter:
    """The Progress contract (see `Progress`): DICOM bytes, capped per series, monotone."""

    def __init__(self, callback: Callable[[Progress], None] | None, total: int, fetch: list[str]) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self._expected: dict[str, int | None] = {}
        self._fetch = set(fetch)
        self._unknown = len(self._fetch)  # fetch series whose size is unknown (or not yet known)
        self._sum = 0
        self._finished = 0
        self._received: dict[str, int] = {}
        self._shown: dict[str, int] = {}
        self._shown_sum = 0

    def expect(self, uid: str, size: int | None) -> None:
        if uid not in self._fetch or uid in self._expected:
            return
        self._expected[uid] = size
        if size is not None:
            self._unknown -= 1
            self._sum += size
        self._show(uid)

    @property
    def bytes_done(self) -> int:
        return self._finished + self._shown_sum

    @property
    def bytes_expected(self) -> int | None:
        return self._sum if self._unknown == 0 else None

    def _show(self, uid: str) -> None:
        cap = self._expected.get(uid)
        shown = min(self._received.get(uid, 0), cap) if cap is not None else 0
        self._shown_sum += shown - self._shown.get(uid, 0)
        self._shown[uid] = shown

    def received(self, uid: str, n: int) -> None:
        self._received[uid] = max(0, self._received.get(uid, 0) + n)
        self._show(uid)
        self._emit("bytes", uid)

    def reset(self, uid: str) -> None:
        self._received.pop(uid, None)
        self._show(uid)

    def finish(self, uid: str, dicom_bytes: int | None) -> None:
        self._received.pop(uid, None)
        self._shown_sum -= self._shown.pop(uid, 0)
        if dicom_bytes is not None:
            self._finished += dicom_bytes
        self.done += 1
        self._emit("series", uid)

    def _emit(self, event: Literal["bytes", "series"], uid: str) -> None:
        if self.callback is not None:
            self.callback(Progress(event, uid, self.done, self.total, self.bytes_done, self.bytes_expected))


# -- the zip route (NBIA v4 before IncludeMD5) -----------------------------------------------
_ROUTE_LOCK = threading.Lock()
_ROUTE_ATTR = "_tcia_download_zip_fallback"


def _fallback_active(client: object) -> bool:
    return bool(getattr(client, _ROUTE_ATTR, False))


def _activate_fallback(client: object) -> None:
    with _ROUTE_LOCK:
        setattr(client, _ROUTE_ATTR, True)


class _Failed(Exception):
    """A series' final failure (retrying the series cannot cure it, or its retries are spent)."""

    def __init__(self, error: TCIAError, attempts: int = 1) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


def _retryable(exc: BaseException) -> bool:
    return not isinstance(exc, _Failed) and (isinstance(exc, RETRYABLE) or not isinstance(exc, TCIAError))


def no_metadata(client: BaseAPIClient, uid: str) -> DownloadError:
    """The failure of a series the server does not know, naming the API's other servers that hold
    data of their own: a series of a collection served elsewhere (NLST) is unknown to the main host."""
    others = [s for s in client._api.servers if s.name != client.server and s.exclusive]
    elsewhere = ""
    if others:
        names = ", ".join(f"server={s.name!r}" + (f" ({s.doc.rstrip('.')})" if s.doc else "") for s in others)
        elsewhere = f"; if it is served by another host of this API, pass {names}"
    where = f" on {client.server}" if client.server else ""
    return DownloadError(
        f"the API{where} has no metadata for this series (unknown or not public){elsewhere}",
        series_instance_uid=uid,
    )


def _as_download_error(exc: BaseException, uid: str, doing: str) -> TCIAError:
    if isinstance(exc, TCIAError):
        return exc
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
    error = DownloadError(f"{doing}: {type(exc).__name__}: {reason}", series_instance_uid=uid)
    error.__cause__ = exc
    return error


# -- one run ---------------------------------------------------------------------------------
class _Run:
    def __init__(
        self,
        client: AsyncAPIClient,
        owner: object,
        info: DownloadInfo,
        destination: Destination,
        *,
        layout: str,
        retries: int,
        verify_md5: bool,
        force: bool,
        fail_fast: bool,
        workers: int,
        max_series_bytes: int,
        progress: Callable[[Progress], None] | None,
        planned: Mapping[str, PurePosixPath] | None = None,
        count_skipped_bytes: bool = False,
    ) -> None:
        """``planned``: folders a cluster run's driver gave these series; ``count_skipped_bytes``:
        count committed series' bytes as done (a shard run again after its worker died, so that
        the run's byte total does not fall back)."""
        self.client = client
        self.owner = owner  # the caller's client: it remembers the zip route
        self.info = info
        self.dest = destination
        self.layout = layout
        self.retries = retries
        self.verify_md5 = verify_md5
        self.force = force
        self.fail_fast = fail_fast
        self.workers = workers
        self.max_series_bytes = max_series_bytes
        self.progress = progress
        self.planned: Mapping[str, PurePosixPath] = planned or {}
        self.count_skipped_bytes = count_skipped_bytes
        self.results: dict[str, SeriesResult] = {}
        self.stop = False
        # The run's file and destination work (staging, verification, commits, uploads) gets
        # threads of its own: enough for every staged series, and never queued behind other
        # users of the loop's default executor (a slow store would starve the next download).
        self._pool = ThreadPoolExecutor(
            max_workers=STAGED_FACTOR * workers + 2, thread_name_prefix="tcia-download"
        )

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the run's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- the whole run ------------------------------------------------------------------------
    async def plan(self, wanted: Wanted) -> tuple[dict[str, Mapping[str, Any] | None], list[str]]:
        """Everything before the first zip: which series are committed already (skipped, or moved
        to this layout), which to fetch, and the folder plan of those whose fields are known.
        Returns the unique inputs and the series to fetch; ``self.results`` holds the others."""
        unique: dict[str, Mapping[str, Any] | None] = {}
        for uid, fields in wanted:
            if unique.get(uid) is None:
                unique[uid] = fields
        records = self.dest.records()
        results = self.results
        relay: list[tuple[str, Record]] = []
        fetch: list[str] = []
        fixed: dict[str, PurePosixPath] = {}
        intact = await self._offload(
            self.dest.intact_many, [records[uid] for uid in unique if uid in records]
        )
        for uid, fields in unique.items():
            record = records.get(uid)
            if record is not None and uid in intact and not self.force:
                if self._same_layout(record, fields):
                    results[uid] = self._skipped(record)
                else:
                    relay.append((uid, record))
                continue
            fetch.append(uid)
            if uid in self.planned:
                fixed[uid] = self.planned[uid]
            elif record is not None and self._same_layout(record, fields):
                folder = safe_relative(record.get("dir"))
                if folder is not None:
                    fixed[uid] = folder
        self.meter = _Meter(self.progress, len(unique), fetch)
        for uid in unique:
            if uid in results:
                self.meter.finish(uid, results[uid].dicom_bytes if self.count_skipped_bytes else None)
        # Relayout first, before any request: local moves, recorded series in input order.
        claims = Claims(
            [(PurePosixPath(r["dir"]), uid) for uid, r in records.items() if safe_relative(r.get("dir"))]
            + [(PurePosixPath(d), uid) for d, uid in self.dest.claimed().items() if uid not in records]
        )
        for uid, record in relay:
            results[uid] = await self._offload(self._relay, uid, record, claims)
            self.meter.finish(uid, None)
        self.planner = _Planner(fetch, claims, fixed)
        for uid in fetch:
            fields = unique[uid]
            if fields is not None:
                self.meter.expect(uid, _parse_int(fields, self.info.size_field)[0])
                self._propose_from_fields(uid, fields)
        bulk = [uid for uid in fetch if unique[uid] is None]
        self.metadata = _Metadata(self.client, self.info, bulk, self.workers)
        return unique, fetch

    async def run(self, wanted: Wanted) -> list[SeriesResult]:
        unique, fetch = await self.plan(wanted)
        results = self.results
        # ``workers`` series download at once (self.net); verification and commit run outside
        # that bound, so the next zip starts while the last one is checked; at most twice as
        # many series are staged. Series start strictly in input order (the folder plan waits on
        # earlier series, so none may be starved by later ones).
        self.net = asyncio.Semaphore(self.workers)
        staged = asyncio.Semaphore(STAGED_FACTOR * self.workers)
        tasks: list[asyncio.Task[None]] = []

        async def one(uid: str) -> None:
            try:
                results[uid] = await self.series(uid, unique[uid])
            finally:
                staged.release()

        try:
            for uid in fetch:
                await staged.acquire()
                if self.stop:
                    staged.release()
                    results[uid] = self._not_attempted(uid)
                    continue
                tasks.append(asyncio.create_task(one(uid)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.metadata.close()
        return [results[uid] for uid, _ in wanted]

    def _not_attempted_error(self, uid: str) -> DownloadError:
        return DownloadError("not attempted: an earlier series failed (fail_fast)", series_instance_uid=uid)

    def _not_attempted(self, uid: str) -> SeriesResult:
        self.planner.propose(uid, None)
        self.meter.finish(uid, None)
        return SeriesResult(uid, "failed", error=self._not_attempted_error(uid))

    def _same_layout(self, record: Record, fields: Mapping[str, Any] | None) -> bool:
        recorded = record.get("layout")
        if recorded is not None:
            return bool(recorded == self.layout)
        # A record migrated from journal.jsonl does not say: compare its folder with this layout's.
        metadata = {**(record.get("metadata") or {}), **(fields or {}), "SeriesInstanceUID": record["uid"]}
        first = self._first_file(record, metadata)
        try:
            wanted, _ = series_path(self.layout, metadata, header_reader(first))
        except ValueError:
            return False
        base = PurePosixPath(wanted.as_posix())
        return record["dir"] in (base.as_posix(), base.with_name(f"{base.name}_{record['uid']}").as_posix())

    def _first_file(self, record: Record, metadata: Mapping[str, Any]) -> Path | None:
        """A committed series' first file, fetched only when the layout reads its header."""
        if not record["files"] or not needs_header(self.layout, metadata):
            return None
        return self.dest.fetch_file(record, record["files"][0])

    def _skipped(
        self, record: Record, moved_from: Path | str | None = None, note: str | None = None
    ) -> SeriesResult:
        folder, paths, location = self.dest.locate(record)
        return SeriesResult(
            record["uid"],
            "skipped",
            paths,
            folder,
            instances=int(record.get("instances") or len(record["files"])),
            dicom_bytes=int(record.get("dicom_bytes") or 0),
            moved_from=moved_from,
            note=note,
            location=location,
        )

    def _relay(self, uid: str, record: Record, claims: Claims) -> SeriesResult:
        """Move a recorded series' verified files into this run's layout (no download)."""
        old = PurePosixPath(record["dir"])
        metadata = {**(record.get("metadata") or {}), "SeriesInstanceUID": uid}
        first = self._first_file(record, metadata)
        try:
            wanted_path, from_header = series_path(self.layout, metadata, header_reader(first))
            new, other = unique_folder(claims, PurePosixPath(wanted_path.as_posix()), uid)
        except ValueError as exc:
            note = f"kept in {old} (layout {record.get('layout')!r}): {exc}"
            log.warning("series %s: %s", uid, note)
            return self._skipped(record, note=note)
        updated = {
            **record,
            "layout": self.layout,
            "dir": new.as_posix(),
            "layout_fields_from_dicom": from_header,
            "relaid_from": record["dir"],
        }
        if new == old:  # same folder under the new layout: only the record changes
            try:
                self.dest.update_record(updated)
            except DownloadError as exc:
                log.warning("series %s: %s", uid, exc)
                return self._skipped(record, note=str(exc))
            return self._skipped(updated)
        if self.dest.occupied(new):
            note = f"kept in {old}: {new} is taken by files this SDK did not record"
            log.warning("series %s: %s", uid, note)
            return self._skipped(record, note=note)
        try:
            self.dest.relocate(record, updated)
        except DownloadError as exc:
            log.warning("series %s: %s", uid, exc)
            return self._skipped(record, note=str(exc))
        claims.release(old, uid)
        claims.claim(new, uid)
        clash = f"its folder {wanted_path} belongs to series {other}; placed in {new}" if other else None
        before = self.dest.locate(record)
        return self._skipped(updated, moved_from=before[0] or before[2], note=clash)

    # -- folders ------------------------------------------------------------------------------
    def _path_for(
        self, uid: str, fields: Mapping[str, Any], first: Path | None
    ) -> tuple[PurePosixPath, list[str]]:
        path, from_header = series_path(
            self.layout, {**fields, "SeriesInstanceUID": uid}, header_reader(first)
        )
        return PurePosixPath(path.as_posix()), from_header

    def _propose_from_fields(self, uid: str, fields: Mapping[str, Any]) -> None:
        if not needs_header(self.layout, {**fields, "SeriesInstanceUID": uid}):
            self.planner.propose(uid, self._path_for(uid, fields, None)[0])

    # -- one series ---------------------------------------------------------------------------
    async def series(self, uid: str, given: Mapping[str, Any] | None) -> SeriesResult:
        verified_bytes: int | None = None
        ended = False  # downloaded, skipped or failed: not cut short by a cancellation
        try:
            result = await self._series(uid, given)
            verified_bytes = result.dicom_bytes
            ended = True
            return result
        except _Failed as failed:
            if self.fail_fast:
                self.stop = True
            ended = True
            return SeriesResult(uid, "failed", error=failed.error, attempts=failed.attempts)
        finally:
            self.planner.propose(uid, None)  # a no-op once proposed; else later series would wait
            if ended:  # an interrupted series is not done: Progress counts what finished
                self.meter.finish(uid, verified_bytes)

    async def _series(self, uid: str, given: Mapping[str, Any] | None) -> SeriesResult:
        fields: Mapping[str, Any] | None = given
        known = [given]  # what the zip's size bound reads while the metadata may still be coming
        meta: asyncio.Future[Mapping[str, Any] | None] | None = None
        if fields is None:
            meta = asyncio.ensure_future(self.metadata.get(uid))
            meta.add_done_callback(lambda done: self._metadata_arrived(uid, done, known))
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    staging = await self._offload(self.dest.staging, uid)  # off the loop
                except DownloadError as exc:
                    raise _Failed(exc, attempt) from None
                try:
                    async with self.net:  # only the zip holds a slot: its metadata was asked ahead
                        if self.stop:
                            raise _Failed(self._not_attempted_error(uid), attempt - 1)
                        if meta is not None and meta.done():
                            fields = await self._await_metadata(uid, meta)  # a failure: no zip
                        try:
                            endpoint, zip_bytes = await self._zip(uid, staging / "series.zip", known)
                        except BaseException as exc:
                            if meta is not None and fields is None and isinstance(exc, Exception):
                                await self._await_metadata(uid, meta)  # its failure says more
                            # A final failure stops the others before they take this slot.
                            if self.fail_fast and (attempt > self.retries or not _retryable(exc)):
                                self.stop = True
                            raise
                    if fields is None:
                        assert meta is not None
                        fields = await self._await_metadata(uid, meta)
                    count, count_check = _parse_int(fields, self.info.count_field)
                    size, size_check = _parse_int(fields, self.info.size_field)
                    checks = (count_check, size_check)
                    if self.planner.proposed(uid) and not needs_header(
                        self.layout, {**fields, "SeriesInstanceUID": uid}
                    ):  # the folder is known: verify and commit in one thread hop
                        try:
                            folder = await self.planner.folder(uid)
                        except DownloadError as exc:
                            raise _Failed(exc, attempt) from None
                        return await self._offload(
                            self._verify_and_commit,
                            uid,
                            fields,
                            staging,
                            folder,
                            endpoint,
                            zip_bytes,
                            (count, size),
                            checks,
                            attempt,
                        )
                    verified = await self._offload(self._verify, uid, staging, count, size)
                except BaseException as exc:
                    await self._offload(self.dest.discard, staging)
                    self.meter.reset(uid)
                    if isinstance(exc, _Failed):
                        exc.attempts = attempt
                        raise
                    if isinstance(exc, BUGS) or not isinstance(exc, Exception):
                        raise
                    error = _as_download_error(exc, uid, "the series could not be downloaded")
                    if isinstance(error, RETRYABLE) and attempt <= self.retries and not self.stop:
                        await asyncio.sleep(self.client.retry_policy.delay(attempt - 1))
                        continue
                    raise _Failed(error, attempt) from None
                break
            try:
                return await self._place(uid, fields, staging, verified, endpoint, zip_bytes, checks, attempt)
            except _Failed as failed:
                failed.attempts = attempt
                raise
            finally:
                if os.path.lexists(staging):  # a commit discards it itself
                    await self._offload(self.dest.discard, staging)
        finally:
            if meta is not None and not meta.done():
                meta.cancel()
                await asyncio.gather(meta, return_exceptions=True)

    def _commit(self, staging: Path, extracted: Path, record: Record) -> None:
        try:
            self.dest.commit(extracted, record)
        finally:
            self.dest.discard(staging)

    def _verify(self, uid: str, staging: Path, count: int | None, size: int | None) -> Verified:
        """Extract the staged zip into ``staging/series`` and verify it; the zip is then deleted."""
        extracted = staging / "series"
        extracted.mkdir()
        verified = extract_verified(
            staging / "series.zip",
            extracted,
            uid=uid,
            expected_count=count,
            expected_bytes=size,
            md5_file=self.info.md5_file,
            md5_required=self.verify_md5 and self.info.md5_file is not None,
            max_bytes=self._limit(size),
        )
        (staging / "series.zip").unlink()
        return verified

    async def _await_metadata(
        self, uid: str, meta: asyncio.Future[Mapping[str, Any] | None]
    ) -> Mapping[str, Any]:
        try:
            fields = await asyncio.shield(meta)
        except BaseException as exc:
            if isinstance(exc, BUGS) or not isinstance(exc, Exception):
                raise
            raise _Failed(_as_download_error(exc, uid, "its metadata could not be read")) from None
        if fields is None:
            raise _Failed(no_metadata(self.client, uid))
        return fields

    def _metadata_arrived(
        self, uid: str, meta: asyncio.Future[Mapping[str, Any] | None], known: list[Mapping[str, Any] | None]
    ) -> None:
        """As soon as a series' metadata is in: its size (progress, the zip's bound), its folder."""
        if meta.cancelled() or meta.exception() is not None:
            return
        fields = meta.result()
        if fields is None:
            return
        known[0] = fields
        self.meter.expect(uid, _parse_int(fields, self.info.size_field)[0])
        self._propose_from_fields(uid, fields)

    def _limit(self, size: int | None) -> int:
        return size + size_margin(size) if size is not None else self.max_series_bytes

    async def _zip(
        self, uid: str, path: Path, fields: list[Mapping[str, Any] | None]
    ) -> tuple[Endpoint, int]:
        """Stream the series zip to ``path``: the spec's zip endpoint, or its fallback once the
        server has refused the former's parameters (remembered on the caller's client)."""
        received = 0

        def on_bytes(n: int) -> None:
            nonlocal received
            received += n
            known = fields[0]
            size = _parse_int(known, self.info.size_field)[0] if known is not None else None
            limit = self._limit(size)
            if received > limit:
                raise DownloadError(
                    f"the zip is larger than the {limit} bytes allowed for this series (max_series_bytes, "
                    "or the metadata's size plus a margin)",
                    series_instance_uid=uid,
                )
            self.meter.received(uid, n)

        info = self.info
        endpoint = info.zip
        if info.zip_fallback is not None and _fallback_active(self.owner):
            endpoint = info.zip_fallback
        try:
            await self._download(endpoint, uid, path, on_bytes)
        except BadRequestError as exc:
            if endpoint is not info.zip or not self._is_fallback_answer(exc):
                raise
            assert info.zip_fallback is not None
            _activate_fallback(self.owner)
            log.warning(
                "%s refused %s (%s): using %s for the rest of this client's life",
                self.client.base_url,
                ", ".join(info.zip_params),
                exc.server_message,
                info.zip_fallback.name,
            )
            endpoint = info.zip_fallback
            received = 0
            self.meter.reset(uid)
            await self._download(endpoint, uid, path, on_bytes)
        return endpoint, received

    def _is_fallback_answer(self, exc: BadRequestError) -> bool:
        info = self.info
        if info.zip_fallback is None or exc.status_code != info.fallback_status:
            return False
        said = f"{exc.server_message}\n{exc.body_excerpt}".lower()
        return info.fallback_message is None or info.fallback_message.lower() in said

    async def _download(
        self, endpoint: Endpoint, uid: str, path: Path, on_bytes: Callable[[int], None]
    ) -> None:
        params = {k: v for k, v in self.info.zip_params.items() if any(p.wire == k for p in endpoint.params)}
        await self.client._download(
            endpoint,
            {"SeriesInstanceUID": uid, **from_wire(endpoint, params)},
            path,
            progress=on_bytes,
            durable=False,  # verified and deleted right away; the extracted files are what stays
        )

    async def _place(
        self,
        uid: str,
        fields: Mapping[str, Any],
        staging: Path,
        verified: Verified,
        endpoint: Endpoint,
        zip_bytes: int,
        checks: tuple[str, str],
        attempts: int,
    ) -> SeriesResult:
        """Give a verified series its folder (reading DICOM headers if the layout needs them),
        then commit it."""
        first = staging / "series" / verified.files[0]
        from_header: list[str] = []
        try:
            if not self.planner.proposed(uid):
                path, from_header = await self._offload(self._path_for, uid, fields, first)
                self.planner.propose(uid, path)
            elif needs_header(self.layout, {**fields, "SeriesInstanceUID": uid}):
                from_header = (await self._offload(self._path_for, uid, fields, first))[1]
            folder = await self.planner.folder(uid)
        except DownloadError as exc:
            raise _Failed(exc) from None
        record = self._record(uid, fields, folder, verified, endpoint, zip_bytes, checks, from_header)
        return await self._offload(self._commit_result, staging, record, verified, attempts)

    def _verify_and_commit(
        self,
        uid: str,
        fields: Mapping[str, Any],
        staging: Path,
        folder: PurePosixPath,
        endpoint: Endpoint,
        zip_bytes: int,
        expected: tuple[int | None, int | None],
        checks: tuple[str, str],
        attempts: int,
    ) -> SeriesResult:
        """Both steps in one thread hop, when the folder is known before extraction."""
        verified = self._verify(uid, staging, *expected)
        record = self._record(uid, fields, folder, verified, endpoint, zip_bytes, checks, [])
        return self._commit_result(staging, record, verified, attempts)

    def _record(
        self,
        uid: str,
        fields: Mapping[str, Any],
        folder: PurePosixPath,
        verified: Verified,
        endpoint: Endpoint,
        zip_bytes: int,
        checks: tuple[str, str],
        from_header: list[str],
    ) -> Record:
        count_check, size_check = checks
        record: Record = {
            "format": 2,
            "uid": uid,
            "layout": self.layout,
            "dir": folder.as_posix(),
            "files": list(verified.files),
            "extra_files": list(verified.extra_files),
            "instances": verified.instances,
            "dicom_bytes": verified.dicom_bytes,
            "zip_bytes": zip_bytes,
            "zip_route": endpoint.name,
            "md5": verified.md5,
            "md5_checked": verified.md5_checked,
            "checks": {
                "zip_crc": "verified",
                "instance_count": "verified" if count_check == "verified" else "unknown",
                "dicom_bytes": "verified" if size_check == "verified" else "unknown",
            },
            # why a check is "unknown": no such field, or a value that is not a number
            "check_notes": {
                name: why.removeprefix("unknown: ")
                for name, why in (("instance_count", count_check), ("dicom_bytes", size_check))
                if why != "verified"
            },
            "layout_fields_from_dicom": from_header,
            "api": self.client._api.name,
            "api_version": self.client._api.api_version,
            "verified_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "metadata": dict(fields),
        }
        note = self.planner.notes.get(uid)
        if note is not None:
            record["note"] = note
        return record

    def _commit_result(
        self, staging: Path, record: Record, verified: Verified, attempts: int
    ) -> SeriesResult:
        """Commit (in a worker thread): a failure here is final, not worth another download."""
        uid = record["uid"]
        try:
            self._commit(staging, staging / "series", record)
        except BUGS:
            raise
        except Exception as exc:
            raise _Failed(_as_download_error(exc, uid, "the series could not be placed"), attempts) from None
        final, paths, location = self.dest.locate(record)
        return SeriesResult(
            uid,
            "downloaded",
            paths,
            final,
            instances=verified.instances,
            dicom_bytes=verified.dicom_bytes,
            attempts=attempts,
            note=record.get("note"),
            location=location,
        )


# -- public entry points ---------------------------------------------------------------------
async def adownload_series(
    client: AsyncAPIClient | SyncAPIClient,
    series: SeriesInput,
    dest: str | os.PathLike[str],
    *,
    layout: str = "classic",
    workers: int = 8,
    retries: int = 2,
    verify_md5: bool = True,
    force: bool = False,
    fail_fast: bool = False,
    progress: Callable[[Progress], None] | None = None,
    wait: bool = False,
    max_series_bytes: int = DEFAULT_MAX_SERIES_BYTES,
    storage_options: Mapping[str, str] | None = None,
    cluster: Any = None,
    cluster_max_requests: int = DEFAULT_CLUSTER_MAX_REQUESTS,
) -> DownloadReport:
    """Download series into ``dest``, verified, laid out, resumable. See `download_series`."""
    destination = _check_options(dest, workers, retries, max_series_bytes, storage_options)
    wanted = _inputs(series)
    check_layout(layout)  # an unknown layout fails before anything is fetched
    info = _info(client)
    check_layout(layout, *_layout_fields(info))
    if cluster is not None:
        from ._cluster import download_on_cluster

        return await download_on_cluster(
            cluster,
            client,
            wanted,
            destination,
            storage_options=storage_options,
            layout=layout,
            workers=workers,
            retries=retries,
            verify_md5=verify_md5,
            force=force,
            fail_fast=fail_fast,
            progress=progress,
            wait=wait,
            max_series_bytes=max_series_bytes,
            max_requests=cluster_max_requests,
        )
    target = destination_for(destination, storage_options)
    locked = target.locked(wait)
    await asyncio.to_thread(locked.__enter__)  # waiting for another run must not stall the loop
    try:
        await asyncio.to_thread(target.open)
        async with _async_client(client) as aclient:
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
                progress=progress,
            )
            try:
                results = await run.run(wanted)
            except BaseException:
                try:
                    await asyncio.to_thread(target.write_metadata_csv, target.records().values())
                except DownloadError as exc:
                    log.warning("%s", exc)
                raise
            finally:
                await asyncio.to_thread(run.close)
            await asyncio.to_thread(target.write_metadata_csv, target.records().values())
    finally:
        try:
            await asyncio.to_thread(target.close)
        finally:
            await asyncio.to_thread(locked.__exit__, None, None, None)
    return DownloadReport(tuple(results), destination)


def download_series(
    client: SyncAPIClient,
    series: SeriesInput,
    dest: str | os.PathLike[str],
    *,
    layout: str = "classic",
    workers: int = 8,
    retries: int = 2,
    verify_md5: bool = True,
    force: bool = False,
    fail_fast: bool = False,
    progress: Callable[[Progress], None] | None = None,
    wait: bool = False,
    max_series_bytes: int = DEFAULT_MAX_SERIES_BYTES,
    storage_options: Mapping[str, str] | None = None,
    cluster: Any = None,
    cluster_max_requests: int = DEFAULT_CLUSTER_MAX_REQUESTS,
) -> DownloadReport:
    """Download series into ``dest`` with ``workers`` at a time; returns one result per series.

    ``series``: SeriesInstanceUIDs, series rows (models or mappings) from ``get_series``, a
    DataFrame with a ``SeriesInstanceUID`` column, or a manifest path (``.tcia``, or any CSV with a
    SeriesInstanceUID or Series UID column). ``layout``: ``flat``, ``classic``, ``descriptive`` or a
    template such as ``"%Collection/%Modality-%SeriesInstanceUID"``. Verified series already in
    ``dest`` are skipped unless ``force`` (moved, not downloaded, when recorded under another
    layout); failures are collected (``report.failed``) unless ``fail_fast``. Another run holding
    ``dest`` makes this one fail with DestinationLockedError, or wait for it with ``wait=True``.
    ``max_series_bytes`` bounds a series whose metadata gives no size.

    ``dest`` may be an object-store URL (``s3://bucket/prefix``, ``gs://``, ``az://``; the
    ``[s3]`` extra): the same layout, records and ``metadata.csv``, each series uploaded only once
    verified, its record object written last. ``storage_options``: ``endpoint_url`` (an
    S3-compatible store; else ``AWS_ENDPOINT_URL``), ``staging_dir`` (local staging, default the
    temp folder), and obstore's store options (``region``, ...); credentials come from the
    store's usual chain. ``cluster``: a ``dask.distributed.Client`` (the ``[dask]`` extra): the
    series are planned here and downloaded by its workers, ``workers`` at a time each, with at
    most ``cluster_max_requests`` requests to TCIA in flight across the cluster.

    Takes a sync ``Client``
    (an ``AsyncClient`` goes to ``await adownload_series(...)``); runs the async engine, from inside
    a running event loop (notebooks) too.
    """
    _sync_only(client, "download_series", "adownload_series")
    return _run_sync(
        adownload_series(
            client,
            series,
            dest,
            layout=layout,
            workers=workers,
            retries=retries,
            verify_md5=verify_md5,
            force=force,
            fail_fast=fail_fast,
            progress=progress,
            wait=wait,
            max_series_bytes=max_series_bytes,
            storage_options=storage_options,
            cluster=cluster,
            cluster_max_requests=cluster_max_requests,
        )
    )


async def aestimate_download(client: AsyncAPIClient | SyncAPIClient, series: SeriesInput) -> Estimate:
    """Count and size what `download_series` would fetch, from series metadata, downloading nothing."""
    wanted = _inputs(series)
    info = _info(client)
    async with _async_client(client) as aclient:
        missing = list(dict.fromkeys(uid for uid, fields in wanted if fields is None))
        source = _Metadata(aclient, info, missing if info.metadata_list_param else [], 8)
        limit = asyncio.Semaphore(8)

        async def one(uid: str) -> Mapping[str, Any] | None:
            async with limit:
                try:
                    return await source.get(uid)
                except TCIAError:
                    return None

        try:
            found = dict(zip(missing, await asyncio.gather(*(one(uid) for uid in missing)), strict=True))
        finally:
            await source.close()
    known: dict[str, Mapping[str, Any]] = {}
    unknown: list[str] = []
    for uid, fields in wanted:
        row = fields if fields is not None else found.get(uid)
        if row is None:
            unknown.append(uid)
        else:
            known[uid] = row
    sizes = {uid: _parse_int(f, info.size_field)[0] for uid, f in known.items()}
    counts = [_parse_int(f, info.count_field)[0] or 0 for f in known.values()]
    return Estimate(
        series=len(known),
        instances=sum(counts),
        dicom_bytes=sum(s for s in sizes.values() if s is not None) if info.size_field else None,
        unknown_size=tuple(uid for uid, size in sizes.items() if size is None),
        unknown_series=tuple(dict.fromkeys(unknown)),
    )


def estimate_download(client: SyncAPIClient, series: SeriesInput) -> Estimate:
    """Synchronous `aestimate_download` (a sync ``Client``; an AsyncClient awaits the other)."""
    _sync_only(client, "estimate_download", "aestimate_download")
    return _run_sync(aestimate_download(client, series))


# -- plumbing --------------------------------------------------------------------------------
def _sync_only(client: object, name: str, async_name: str) -> None:
    if isinstance(client, AsyncAPIClient):
        raise TypeError(
            f"{name}() takes a sync Client; with an AsyncClient use `await {async_name}(...)` "
            "(its event loop must stay the one that runs it)"
        )
    if not isinstance(client, SyncAPIClient):
        raise TypeError(f"{name}() takes a tcia_sdk Client, got {type(client).__name__}")


class _async_client:
    """Use an AsyncAPIClient as is; for a sync client, an async twin with the same settings."""

    def __init__(self, client: AsyncAPIClient | SyncAPIClient) -> None:
        self._given = client
        self._twin: AsyncAPIClient | None = None

    async def __aenter__(self) -> AsyncAPIClient:
        if isinstance(self._given, AsyncAPIClient):
            return self._given
        self._twin = self._given.async_twin()
        return self._twin

    async def __aexit__(self, *exc: object) -> None:
        if self._twin is not None:
            await self._twin.close()


def _run_sync(coro: Awaitable[T]) -> T:
    # Outside the except clause: an error of the run must not carry "no running event loop" along.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(_as_coroutine(coro))
    # Called from inside an event loop (a notebook): run the engine on a thread of its own.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_as_coroutine(coro))
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="tcia-download")
    thread.start()
    thread.join()
    if "error" in box:
        error: BaseException = box.pop("error")
        raise error
    return box["value"]  # type: ignore[no-any-return]


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


__all__ = [
    "LAYOUTS",
    "DownloadReport",
    "Estimate",
    "Progress",
    "SeriesResult",
    "adownload_series",
    "aestimate_download",
    "download_series",
    "estimate_download",
]
