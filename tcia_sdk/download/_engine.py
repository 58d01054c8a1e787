"""Downloading many series: bounded concurrency (asyncio underneath), verification, layout, resume.

Per series: stream the zip to ``<dest>/.tcia/tmp``, verify and extract it into a temporary folder
there, rename that folder into place, then journal it. Any failure leaves nothing at the series'
destination. The endpoints, parameters and fields used come from the API's spec (``DownloadInfo``),
so every API version with a series-zip endpoint is served by this one engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import attrs

from .._runtime.client import AsyncAPIClient, BaseAPIClient, SyncAPIClient
from .._runtime.endpoint import DownloadInfo
from .._runtime.params import from_wire
from .._runtime.structure import unstructure
from ..errors import (
    APIConnectionError,
    ConfigurationError,
    DownloadError,
    RateLimitError,
    ServerError,
    TCIAError,
)
from ._archive import extract_verified
from ._journal import Journal
from ._layout import check_layout, header_reader, series_path
from ._manifest import is_uid, read_manifest

Status = Literal["downloaded", "skipped", "failed"]
SeriesInput = str | os.PathLike[str] | Iterable[Any]
# Errors worth another attempt of the whole series, after the transport's own retries.
RETRYABLE = (DownloadError, APIConnectionError, RateLimitError, ServerError)
T = TypeVar("T")


@attrs.frozen
class SeriesResult:
    """One series of a download: where it went and how it ended."""

    series_instance_uid: str
    status: Status
    paths: tuple[Path, ...] = ()
    directory: Path | None = None
    error: TCIAError | None = None
    instances: int = 0
    dicom_bytes: int = 0
    attempts: int = 0


@attrs.frozen
class DownloadReport(Sequence[SeriesResult]):
    """One result per requested series, in input order."""

    results: tuple[SeriesResult, ...]
    destination: Path

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
    """Passed to the ``progress`` callback: totals so far, and what just happened."""

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


@attrs.frozen
class _Job:
    uid: str
    fields: Mapping[str, Any] | None  # wire fields of the series metadata; None: not found
    error: TCIAError | None = None


# -- inputs ----------------------------------------------------------------------------------
def _uids_and_rows(series: SeriesInput) -> list[tuple[str, Mapping[str, Any] | None]]:
    if isinstance(series, str) and is_uid(series):
        return [(series, None)]
    if isinstance(series, str | os.PathLike):
        return [(uid, None) for uid in read_manifest(Path(series))]
    out: list[tuple[str, Mapping[str, Any] | None]] = []
    for item in series:
        if isinstance(item, str):
            if not is_uid(item):
                raise ValueError(f"{item!r} is not a SeriesInstanceUID")
            out.append((item, None))
        elif isinstance(item, Mapping):
            out.append((str(item["SeriesInstanceUID"]), item))
        elif attrs.has(type(item)) and getattr(item, "series_instance_uid", None):
            out.append((item.series_instance_uid, unstructure(item)))
        else:
            raise TypeError(
                f"cannot download {item!r}: pass SeriesInstanceUIDs, series rows or a manifest path"
            )
    return out


def _info(client: BaseAPIClient) -> DownloadInfo:
    info = client._download_info
    if info is None:
        raise ConfigurationError(f"{client._api.name} has no series-zip endpoint to download from")
    return info


async def _metadata(
    client: AsyncAPIClient,
    info: DownloadInfo,
    wanted: list[tuple[str, Mapping[str, Any] | None]],
    workers: int,
) -> list[_Job]:
    """Series metadata for inputs given as UIDs: in bulk where the API allows, else one call each."""
    missing = [uid for uid, fields in wanted if fields is None]
    found: dict[str, Mapping[str, Any]] = {}
    errors: dict[str, TCIAError] = {}
    if missing and info.metadata_list_param:
        for start in range(0, len(missing), info.metadata_chunk):
            chunk = missing[start : start + info.metadata_chunk]
            try:
                rows = (await client._call(info.metadata, {info.metadata_list_param: chunk})).parse()
            except TCIAError as exc:
                errors.update(dict.fromkeys(chunk, exc))
                continue
            for row in rows:
                fields = unstructure(row)
                found[str(fields.get("SeriesInstanceUID"))] = fields
    elif missing:
        by = info.metadata_by
        assert by is not None
        limit = asyncio.Semaphore(workers)

        async def one(uid: str) -> None:
            async with limit:
                try:
                    rows = (await client._call(info.metadata, {by: uid})).parse()
                except TCIAError as exc:
                    errors[uid] = exc
                    return
            if rows:
                found[uid] = unstructure(rows[0])

        await asyncio.gather(*(one(uid) for uid in dict.fromkeys(missing)))
    return [
        _Job(uid, fields if fields is not None else found.get(uid), errors.get(uid)) for uid, fields in wanted
    ]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


# -- one series ------------------------------------------------------------------------------
class _Run:
    def __init__(
        self,
        client: AsyncAPIClient,
        info: DownloadInfo,
        dest: Path,
        *,
        layout: str,
        retries: int,
        verify_md5: bool,
        force: bool,
        progress: Callable[[Progress], None] | None,
        total: int,
        bytes_expected: int | None,
        journal: Journal,
    ) -> None:
        self.client = client
        self.info = info
        self.dest = dest
        self.layout = layout
        self.retries = retries
        self.verify_md5 = verify_md5
        self.force = force
        self.progress = progress
        self.journal = journal
        self.total = total
        self.done = 0
        self.bytes_done = 0
        self.bytes_expected = bytes_expected

    def _report(self, event: Literal["bytes", "series"], uid: str) -> None:
        if self.progress is not None:
            self.progress(Progress(event, uid, self.done, self.total, self.bytes_done, self.bytes_expected))

    async def series(self, job: _Job) -> SeriesResult:
        if not self.force:
            entry = self.journal.verified(job.uid)
            if entry is not None:
                folder = self.dest / entry["dir"]
                self.done += 1
                self._report("series", job.uid)
                return SeriesResult(
                    job.uid,
                    "skipped",
                    tuple(folder / name for name in entry["files"]),
                    folder,
                    instances=entry["instances"],
                    dicom_bytes=entry["dicom_bytes"],
                )
        if job.fields is None and job.error is None and self.info.metadata_by is not None:
            (job,) = await _metadata(self.client, self.info, [(job.uid, None)], 1)
        if job.error is not None or job.fields is None:
            self.done += 1
            self._report("series", job.uid)
            error = job.error or DownloadError(
                "the API has no metadata for this series (unknown or not public)", series_instance_uid=job.uid
            )
            return SeriesResult(job.uid, "failed", error=error)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._attempt(job)
            except RETRYABLE as exc:
                if attempt <= self.retries:
                    await asyncio.sleep(self.client.retry_policy.delay(attempt - 1))
                    continue
                failure: TCIAError = exc
            except TCIAError as exc:
                failure = exc
            else:
                self.done += 1
                self._report("series", job.uid)
                return attrs.evolve(result, attempts=attempt)
            self.done += 1
            self._report("series", job.uid)
            return SeriesResult(job.uid, "failed", error=failure, attempts=attempt)

    async def _attempt(self, job: _Job) -> SeriesResult:
        assert job.fields is not None
        work = Path(tempfile.mkdtemp(prefix=f"{job.uid}-", dir=self.journal.tmp))
        counted = 0

        def on_bytes(n: int) -> None:
            nonlocal counted
            counted += n
            self.bytes_done += n
            self._report("bytes", job.uid)

        try:
            zip_path = work / "series.zip"
            await self.client._download(
                self.info.zip,
                {"SeriesInstanceUID": job.uid, **from_wire(self.info.zip, self.info.zip_params)},
                zip_path,
                progress=on_bytes,
                durable=False,  # verified and deleted right away; the extracted files are what stays
            )
            extracted = work / "series"
            extracted.mkdir()
            verified = await asyncio.to_thread(
                extract_verified,
                zip_path,
                extracted,
                uid=job.uid,
                expected_count=_int_or_none(job.fields.get(self.info.count_field)),
                expected_bytes=_int_or_none(job.fields.get(self.info.size_field))
                if self.info.size_field
                else None,
                md5_file=self.info.md5_file,
                md5_required=self.verify_md5 and self.info.md5_file is not None,
            )
            zip_path.unlink()
            first = extracted / verified.files[0] if verified.files else None
            relative, from_header = series_path(self.layout, job.fields, header_reader(first))
            final = self.dest / relative
            await asyncio.to_thread(_move_into_place, extracted, final, self.journal.tmp)
            entry = {
                "uid": job.uid,
                "dir": relative.as_posix(),
                "files": list(verified.files),
                "sizes": [(final / name).stat().st_size for name in verified.files],
                "extra_files": list(verified.extra_files),
                "instances": verified.instances,
                "dicom_bytes": verified.dicom_bytes,
                "zip_bytes": counted,
                "md5": verified.md5,
                "md5_checked": verified.md5_checked,
                "checks": {
                    "zip_crc": "verified",
                    "instance_count": "verified" if self.info.count_field in job.fields else "unknown",
                    "dicom_bytes": "verified"
                    if self.info.size_field and job.fields.get(self.info.size_field) is not None
                    else "unknown",
                },
                "layout_fields_from_dicom": from_header,
                "api": self.client._api.name,
                "api_version": self.client._api.api_version,
                "verified_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "metadata": dict(job.fields),
            }
            await asyncio.to_thread(self.journal.add, entry)  # its fsync must not stall the loop
            return SeriesResult(
                job.uid,
                "downloaded",
                tuple(final / name for name in verified.files),
                final,
                instances=verified.instances,
                dicom_bytes=verified.dicom_bytes,
            )
        except BaseException:
            self.bytes_done -= counted
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _move_into_place(source: Path, final: Path, tmp: Path) -> None:
    """Rename the verified folder to its destination; an older copy is swapped out first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix="replaced-", dir=tmp))
        os.replace(final, old / "series")
    os.replace(source, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
) -> DownloadReport:
    """Download series into ``dest``, verified, laid out, resumable. See `download_series`."""
    if workers < 1:
        raise ConfigurationError("workers must be >= 1")
    wanted = _uids_and_rows(series)
    destination = Path(dest)
    check_layout(layout)  # an unknown layout fails before anything is fetched
    destination.mkdir(parents=True, exist_ok=True)
    journal = Journal(destination)
    journal.open()
    async with _async_client(client) as aclient:
        info = _info(aclient)
        # Series verified by an earlier run need no metadata: they will be skipped.
        to_fetch = [(uid, f) for uid, f in wanted if force or journal.verified(uid) is None]
        # In bulk where the API allows it; one call per series is left to each series' worker, so
        # metadata and zips overlap instead of waiting for each other.
        prefetch: list[tuple[str, Mapping[str, Any] | None]] = [
            (uid, fields) for uid, fields in to_fetch if info.metadata_list_param or fields is not None
        ]
        fetched = {job.uid: job for job in await _metadata(aclient, info, prefetch, workers)}
        run_jobs = [fetched.get(uid) or _Job(uid, fields) for uid, fields in wanted]
        # The bytes to fetch, when the metadata gives every series' size (progress bars show a total).
        pending = {uid for uid, _ in to_fetch}
        sizes = [
            _int_or_none(job.fields.get(info.size_field)) if job.fields and info.size_field else None
            for job in run_jobs
            if job.uid in pending
        ]
        expected = sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) else None
        run = _Run(
            aclient,
            info,
            destination,
            layout=layout,
            retries=retries,
            verify_md5=verify_md5,
            force=force,
            progress=progress,
            total=len(run_jobs),
            bytes_expected=expected,
            journal=journal,
        )
        limit = asyncio.Semaphore(workers)
        stop = asyncio.Event()

        async def guarded(job: _Job) -> SeriesResult:
            async with limit:
                if stop.is_set():
                    return SeriesResult(
                        job.uid,
                        "failed",
                        error=DownloadError("not attempted: an earlier series failed (fail_fast)"),
                    )
                result = await run.series(job)
                if fail_fast and result.status == "failed":
                    stop.set()
                return result

        try:
            results = await asyncio.gather(*(guarded(job) for job in run_jobs))
        finally:
            run.journal.write_metadata_csv()
    return DownloadReport(tuple(results), destination)


def download_series(
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
) -> DownloadReport:
    """Download series into ``dest`` with ``workers`` at a time; returns one result per series.

    ``series``: SeriesInstanceUIDs, series rows from ``get_series``, or a manifest path (``.tcia`` or
    a one-column SeriesInstanceUID CSV). ``layout``: ``flat``, ``classic``, ``descriptive`` or a
    template such as ``"%Collection/%Modality-%SeriesInstanceUID"``. Verified series already in
    ``dest`` are skipped unless ``force``; failures are collected (``report.failed``) unless
    ``fail_fast``. Runs the async engine; works from inside a running event loop (notebooks) too.
    """
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
        )
    )


async def aestimate_download(client: AsyncAPIClient | SyncAPIClient, series: SeriesInput) -> Estimate:
    """Count and size what `download_series` would fetch, from series metadata, downloading nothing."""
    wanted = _uids_and_rows(series)
    async with _async_client(client) as aclient:
        info = _info(aclient)
        jobs = await _metadata(aclient, info, wanted, 8)
    known = [(j.uid, j.fields) for j in jobs if j.fields is not None]
    sizes = {uid: _int_or_none(f.get(info.size_field)) if info.size_field else None for uid, f in known}
    counts = [_int_or_none(f.get(info.count_field)) or 0 for _, f in known]
    return Estimate(
        series=len(known),
        instances=sum(counts),
        dicom_bytes=sum(s for s in sizes.values() if s is not None) if info.size_field else None,
        unknown_size=tuple(uid for uid, size in sizes.items() if size is None),
        unknown_series=tuple(j.uid for j in jobs if j.fields is None),
    )


def estimate_download(client: AsyncAPIClient | SyncAPIClient, series: SeriesInput) -> Estimate:
    """Synchronous `aestimate_download`."""
    return _run_sync(aestimate_download(client, series))


# -- plumbing --------------------------------------------------------------------------------
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
    try:
        asyncio.get_running_loop()
    except RuntimeError:
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
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
