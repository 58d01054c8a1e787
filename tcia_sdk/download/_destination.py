"""Where verified series go: the destination interface, and its local-folder implementation.

The engine talks to a `Destination` only; it never builds a path of its own. A destination offers:

* ``locked(wait)``: exclusive use by one run (two runs into one destination never interleave);
* ``open(shard)`` / ``close()``: prepare, recover what an interrupted run left half done, clear old
  staging; with ``shard`` (the series of one worker of a cluster run, whose driver holds the
  lock), only that shard's records and leftovers, and a staging folder of its own;
* ``records()``: the series committed so far (``uid -> record``), the only source of truth;
  ``claimed()``: folders held by series not recorded there (an object store's unfinished uploads);
* ``intact_many(records)``: which committed series still have all their files at their sizes;
* ``locate(record)``: a committed series' local folder and files (None and () when not local),
  and its location as text (a path, or the store URL of its folder); ``fetch_file(record,
  name)``: a local copy of one of its files (a layout reading DICOM headers);
* ``staging(uid)`` / ``discard(folder)``: a local, empty scratch folder for one series' zip and
  its extracted files, and its removal;
* ``intact(record)``: whether a committed series' files are all still there, at their sizes;
* ``commit(staged, record)``: publish a verified series' files at ``record["dir"]``, then its record,
  written last: the record is the commit point (a series without one was never committed);
* ``relocate(record, new_record)``: move a committed series' files to another folder (a rerun with
  another layout), the new record written last; ``update_record(record)`` when only it changes;
* ``occupied(relative)``: something not recorded sits there (a user's folder, a stray file);
* ``write_metadata_csv(records)``: the summary table, replaced whole.

`LocalDestination` keeps its state in ``<dest>/.tcia``: ``series/<uid>.json`` records (temp, fsync,
rename), ``pending/<uid>.json`` intents written before files move so an interrupted commit or
relocation is rolled back by the next run, ``tmp/`` for staging and ``lock``. Older destinations'
``journal.jsonl`` is still read (entries without a record become records); it is no longer
written. `ObjectStoreDestination` (``_objectstore.py``) fits the same interface without rename or
append.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from ..errors import DestinationLockedError, DownloadError
from ._manifest import is_uid

log = logging.getLogger("tcia_sdk.download")

STATE_DIR = ".tcia"
RECORD_FORMAT = 2
METADATA_COLUMNS = (
    "Series UID", "Collection", "3rd Party Analysis", "Data Description URI", "Subject ID",
    "Study UID", "Study Description", "Study Date", "Series Description", "Manufacturer",
    "Modality", "SOP Class Name", "SOP Class UID", "Number of Images", "File Size",
    "File Location", "Download Timestamp",
)  # fmt: skip
# metadata.csv column -> wire fields that may hold it, in order of preference.
_COLUMN_FIELDS = {
    "Collection": ("Collection",),
    "3rd Party Analysis": ("ThirdPartyAnalysis",),
    "Data Description URI": ("DataDescriptionURI", "CollectionURI"),
    "Subject ID": ("PatientID", "PatientId"),
    "Study UID": ("StudyInstanceUID",),
    "Study Description": ("StudyDescription", "StudyDesc"),
    "Study Date": ("StudyDate",),
    "Series Description": ("SeriesDescription",),
    "Manufacturer": ("Manufacturer",),
    "Modality": ("Modality",),
    "SOP Class UID": ("SOPClassUID",),
}
Record = dict[str, Any]


class Destination(Protocol):
    """What the engine needs from a destination (see the module docstring)."""

    @property
    def name(self) -> str: ...

    def locked(self, wait: bool) -> contextlib.AbstractContextManager[None]: ...

    def open(self, shard: Collection[str] | None = None) -> None: ...

    def close(self) -> None: ...

    def records(self) -> dict[str, Record]: ...

    def claimed(self) -> dict[str, str]: ...

    def intact_many(self, records: Iterable[Record]) -> set[str]: ...

    def locate(self, record: Record) -> tuple[Path | None, tuple[Path, ...], str]: ...

    def fetch_file(self, record: Record, name: str) -> Path | None: ...

    def staging(self, uid: str) -> Path: ...

    def discard(self, folder: Path) -> None: ...

    def intact(self, record: Record) -> bool: ...

    def occupied(self, relative: PurePosixPath) -> bool: ...

    def commit(self, staged: Path, record: Record) -> None: ...

    def relocate(self, record: Record, new_record: Record) -> None: ...

    def update_record(self, record: Record) -> None: ...

    def write_metadata_csv(self, records: Iterable[Record]) -> None: ...


def safe_relative(value: object) -> PurePosixPath | None:
    """``value`` as a folder under the destination, or None when it could point anywhere else."""
    if not isinstance(value, str) or not value or "\\" in value or "\0" in value:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or any(p in ("", ".", "..") for p in path.parts) or not path.parts:
        return None
    return path


def _safe_file_name(value: object) -> bool:
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and "/" not in value
        and "\\" not in value
        and "\0" not in value
    )


def valid_record(record: object, uid: str | None = None) -> bool:
    """A record read back from storage that names a UID, a folder under the destination and
    plain file names (a tampered or foreign file is ignored, never followed)."""
    if not isinstance(record, dict) or not is_uid(record.get("uid")):
        return False
    if uid is not None and record["uid"] != uid:
        return False
    files, sizes = record.get("files"), record.get("sizes")
    extras = record.get("extra_files", [])
    return (
        safe_relative(record.get("dir")) is not None
        and isinstance(files, list)
        and isinstance(extras, list)
        and all(_safe_file_name(f) for f in [*files, *extras])
        and (sizes is None or (isinstance(sizes, list) and len(sizes) == len(files)))
    )


def write_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``path`` whole: write ``<path>.part``, fsync, rename. A reader sees the old or the
    new content, never a torn one; on an error the old file stays and the exception propagates."""
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
        raise


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class LocalDestination:
    """A folder on a local or shared file system (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / STATE_DIR
        self.series_dir = self.state / "series"
        self.pending_dir = self.state / "pending"
        self.tmp = self.state / "tmp"
        self.journal = self.state / "journal.jsonl"  # read for migration only
        self._records: dict[str, Record] = {}
        self._staging = self.tmp  # a shard's own folder inside it, for a shard of a cluster run

    @property
    def name(self) -> str:
        return str(self.root)

    def _fatal(self, what: str, exc: OSError) -> DownloadError:
        return DownloadError(f"cannot use {self.root} as a download destination: {what}: {_reason(exc)}")

    # -- the lock ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, wait: bool) -> Iterator[None]:
        """Hold ``.tcia/lock`` for the run: with ``wait``, wait for another run to finish (said in
        the log), else fail at once with DestinationLockedError."""
        import filelock

        try:
            self.state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._fatal(f"cannot create {self.state}", exc) from exc
        lock = filelock.FileLock(self.state / "lock", thread_local=False)
        try:
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                if not wait:
                    raise DestinationLockedError(
                        f"{self.root} is in use by another download run (its lock {self.state / 'lock'} "
                        "is held); wait for it to finish, or pass wait=True to wait"
                    ) from None
                log.warning("%s is in use by another download run; waiting for it to finish", self.root)
                lock.acquire()
                log.info("%s is free; starting", self.root)
        except OSError as exc:
            raise self._fatal("cannot take its lock", exc) from exc
        try:
            yield
        finally:
            lock.release()

    # -- opening -----------------------------------------------------------------------------
    def open(self, shard: Collection[str] | None = None) -> None:
        """Create the state folders (checking they are writable), roll back what an interrupted
        run left half done, drop its staging files, and read the records (those of ``shard``
        only, for one shard of a cluster run: the other shards' staging is left alone)."""
        for folder in (self.root, self.series_dir, self.pending_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._fatal(f"cannot create {folder}", exc) from exc
        if shard is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            if shard is not None:
                self._staging = Path(tempfile.mkdtemp(prefix=f"shard-{os.getpid()}-", dir=self.tmp))
            probe = self.series_dir / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            write_atomic(probe, "{}")
            probe.unlink()
        except OSError as exc:
            raise self._fatal(f"cannot write its records under {self.state}", exc) from exc
        wanted = set(shard) if shard is not None else None
        self._records = self._read_records(wanted)
        self._recover(wanted)

    def close(self) -> None:
        """Remove a shard's staging folder (a whole run's is cleared by the next ``open``)."""
        if self._staging != self.tmp:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = self.tmp

    def _read_records(self, wanted: set[str] | None = None) -> dict[str, Record]:
        records: dict[str, Record] = {}
        for path in sorted(self.series_dir.glob("*.json")):
            uid = path.name[: -len(".json")]
            if wanted is not None and uid not in wanted:
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("ignoring the unreadable series record %s", path)
                continue
            if not valid_record(record, uid):
                log.warning("ignoring the series record %s: it names an unsafe folder or file", path)
                continue
            records[uid] = record
        if wanted is None and self.journal.exists():  # destinations written before records were the truth
            for line in self.journal.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill mid-write
                if valid_record(entry) and entry["uid"] not in records:
                    entry.setdefault("layout", None)
                    records[entry["uid"]] = entry
                    try:
                        write_atomic(self._record_path(entry["uid"]), dump_record(entry))
                    except OSError as exc:
                        raise self._fatal("cannot migrate journal.jsonl to series records", exc) from exc
        return records

    def _recover(self, wanted: set[str] | None = None) -> None:
        """Undo commits and relocations an interrupted run started but did not record."""
        for path in sorted(self.pending_dir.glob("*.json")):
            if wanted is not None and path.name[: -len(".json")] not in wanted:
                continue
            try:
                intent = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            uid = intent.get("uid") if isinstance(intent, dict) else None
            folder = safe_relative(intent.get("dir")) if isinstance(intent, dict) else None
            if not isinstance(uid, str) or not is_uid(uid) or folder is None:
                path.unlink(missing_ok=True)
                continue
            files = [f for f in intent.get("files", []) if _safe_file_name(f)]
            record = self._records.get(uid)
            if record is not None and record.get("commit") == intent.get("commit"):
                path.unlink(missing_ok=True)  # it completed; only the intent was left
                continue
            source = safe_relative(intent.get("from"))
            target = self.local_path(folder)
            if source is not None:  # a relocation: put the files back where the record says
                back = self.local_path(source)
                for name in files:
                    if (target / name).exists() and not (back / name).exists():
                        back.mkdir(parents=True, exist_ok=True)
                        os.replace(target / name, back / name)
            else:  # a download commit: its files were never recorded
                if record is not None and safe_relative(record.get("dir")) == folder:
                    # it was replacing the series' own files (the old ones were set aside in
                    # staging, now gone): what is there is not what the record says; redo it
                    self._forget(uid)
                for name in files:
                    (target / name).unlink(missing_ok=True)
            self._prune(folder)
            log.info("rolled back an unfinished commit of series %s in %s", uid, folder)
            path.unlink(missing_ok=True)

    def _forget(self, uid: str) -> None:
        self._records.pop(uid, None)
        self._record_path(uid).unlink(missing_ok=True)

    # -- paths -------------------------------------------------------------------------------
    def local_path(self, relative: PurePosixPath) -> Path:
        """The folder of ``relative``, which must stay under the destination."""
        if safe_relative(relative.as_posix()) is None:
            raise DownloadError(f"refusing the folder {relative}: it is not under {self.root}")
        return self.root.joinpath(*relative.parts)

    def _record_path(self, uid: str) -> Path:
        if not is_uid(uid):
            raise DownloadError(f"refusing a record for {uid!r}: not a DICOM UID")
        return self.series_dir / f"{uid}.json"

    def _pending_path(self, uid: str) -> Path:
        if not is_uid(uid):
            raise DownloadError(f"refusing an intent for {uid!r}: not a DICOM UID")
        return self.pending_dir / f"{uid}.json"

    # -- reading -----------------------------------------------------------------------------
    def records(self) -> dict[str, Record]:
        return dict(self._records)

    def claimed(self) -> dict[str, str]:
        return {}  # the lock and the pending intents leave no folder claimed but unrecorded

    def intact_many(self, records: Iterable[Record]) -> set[str]:
        return {r["uid"] for r in records if self.intact(r)}

    def locate(self, record: Record) -> tuple[Path | None, tuple[Path, ...], str]:
        folder = self.local_path(PurePosixPath(record["dir"]))
        return folder, tuple(folder / name for name in record["files"]), str(folder)

    def fetch_file(self, record: Record, name: str) -> Path | None:
        return self.local_path(PurePosixPath(record["dir"])) / name

    def intact(self, record: Record) -> bool:
        """All of the record's files are in place at their sizes (a power cut can leave extracted
        files short or empty although their record survived)."""
        folder = self.local_path(PurePosixPath(record["dir"]))
        sizes = record.get("sizes") or [None] * len(record["files"])
        for name, size in zip(record["files"], sizes, strict=True):
            path = folder / name
            try:
                if not path.is_file() or (size is not None and path.stat().st_size != size):
                    return False
            except OSError:
                return False
        return bool(record["files"])

    def occupied(self, relative: PurePosixPath) -> bool:
        try:
            return os.path.lexists(self.local_path(relative))
        except OSError:
            return True

    # -- staging -----------------------------------------------------------------------------
    def staging(self, uid: str) -> Path:
        if not is_uid(uid):
            raise DownloadError(f"refusing to stage {uid!r}: not a DICOM UID")
        try:
            return Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=self._staging))
        except OSError as exc:
            raise DownloadError(
                f"cannot create a staging folder under {self._staging}: {_reason(exc)}",
                series_instance_uid=uid,
            ) from exc

    def discard(self, folder: Path) -> None:
        try:
            folder.rmdir()  # after a commit it is empty
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)

    # -- committing --------------------------------------------------------------------------
    def _intend(self, record: Record, source: str | None) -> Path:
        intent = {
            "uid": record["uid"],
            "dir": record["dir"],
            "files": [*record["files"], *record.get("extra_files", [])],
            "from": source,
            "commit": record["commit"],
        }
        path = self._pending_path(record["uid"])
        # Written in place and not fsync'd: a torn intent means a crash before any file moved
        # (recovery drops what does not parse), and the page cache outlives a killed process;
        # only a power cut between the move and the record can lose it, and the next run then
        # refuses the unrecorded folder rather than guess.
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(intent))
        return path

    def commit(self, staged: Path, record: Record) -> None:
        """Move the verified files of ``staged`` to ``record["dir"]``, then write the record.

        An existing folder there is used only when it is this series' own recorded folder (its
        files are then replaced one by one); anything else there is never replaced.
        """
        uid = record["uid"]
        record["commit"] = uuid.uuid4().hex
        relative = PurePosixPath(record["dir"])
        final = self.local_path(relative)
        own = self._records.get(uid)
        own_dir = safe_relative(own.get("dir")) if own is not None else None
        names = [*record["files"], *record.get("extra_files", [])]
        try:
            exists = os.path.lexists(final)
        except OSError:
            exists = True
        if exists and own_dir != relative:
            raise DownloadError(
                f"{final} already exists and is not this series' recorded folder; nothing was replaced",
                series_instance_uid=uid,
            )
        try:
            intent = self._intend(record, None)
        except OSError as exc:
            raise DownloadError(
                f"cannot write to {self.pending_dir}: {_reason(exc)}", series_instance_uid=uid
            ) from exc
        moved: list[str] = []
        aside: list[str] = []  # the series' old files, kept until its new record is written
        trash = staged.parent / "replaced"
        try:
            try:
                if exists:
                    trash.mkdir(exist_ok=True)
                    assert own is not None
                    for name in [*own["files"], *own.get("extra_files", [])]:
                        if os.path.lexists(final / name):
                            os.replace(final / name, trash / name)
                            aside.append(name)
                    for name in names:
                        os.replace(staged / name, final / name)
                        moved.append(name)
                else:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    moved = names
            except OSError as exc:
                raise DownloadError(
                    f"cannot place the series at {final}: {_reason(exc)}", series_instance_uid=uid
                ) from exc
            record["sizes"] = [(final / name).stat().st_size for name in record["files"]]
            try:
                write_atomic(self._record_path(uid), dump_record(record))
            except OSError as exc:
                raise DownloadError(
                    f"cannot write the series record {self._record_path(uid)}: {_reason(exc)}; "
                    "the series was not kept",
                    series_instance_uid=uid,
                ) from exc
        except BaseException:
            for name in moved:  # not committed: its files must not stay unrecorded
                with contextlib.suppress(OSError):
                    (final / name).unlink()
            for name in aside:  # and the recorded copy is back as it was
                with contextlib.suppress(OSError):
                    os.replace(trash / name, final / name)
            with contextlib.suppress(OSError):
                if not exists:
                    self._prune(relative)
                intent.unlink()
            raise
        if aside:
            shutil.rmtree(trash, ignore_errors=True)
        if own is not None and own_dir is not None and own_dir != relative:
            self._remove_files(own_dir, own, keep=set())  # the superseded copy elsewhere
        self._records[uid] = record
        with contextlib.suppress(OSError):
            intent.unlink()

    def relocate(self, record: Record, new_record: Record) -> None:
        """Move a committed series' files to ``new_record["dir"]`` and record it there."""
        uid = record["uid"]
        new_record["commit"] = uuid.uuid4().hex
        old_rel, new_rel = PurePosixPath(record["dir"]), PurePosixPath(new_record["dir"])
        old, new = self.local_path(old_rel), self.local_path(new_rel)
        names = [*record["files"], *record.get("extra_files", [])]
        if os.path.lexists(new):
            raise DownloadError(f"{new} already exists; the series stays in {old}", series_instance_uid=uid)
        try:
            intent = self._intend(new_record, record["dir"])
        except OSError as exc:
            raise DownloadError(
                f"cannot write to {self.pending_dir}: {_reason(exc)}", series_instance_uid=uid
            ) from exc
        moved: list[str] = []
        try:
            try:
                new.mkdir(parents=True)
                for name in names:
                    if (old / name).exists():
                        os.replace(old / name, new / name)
                        moved.append(name)
                write_atomic(self._record_path(uid), dump_record(new_record))
            except OSError as exc:
                raise DownloadError(
                    f"cannot move the series from {old} to {new}: {_reason(exc)}; it stays in {old}",
                    series_instance_uid=uid,
                ) from exc
        except BaseException:
            for name in moved:
                with contextlib.suppress(OSError):
                    os.replace(new / name, old / name)
            with contextlib.suppress(OSError):
                self._prune(new_rel)
                intent.unlink()
            raise
        self._records[uid] = new_record
        with contextlib.suppress(OSError):
            self._prune(old_rel)
            intent.unlink()

    def update_record(self, record: Record) -> None:
        uid = record["uid"]
        try:
            write_atomic(self._record_path(uid), dump_record(record))
        except OSError as exc:
            raise DownloadError(
                f"cannot write the series record {self._record_path(uid)}: {_reason(exc)}",
                series_instance_uid=uid,
            ) from exc
        self._records[uid] = record

    def _remove_files(self, relative: PurePosixPath, record: Record, keep: set[str]) -> None:
        folder = self.local_path(relative)
        for name in [*record["files"], *record.get("extra_files", [])]:
            if name not in keep:
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
        with contextlib.suppress(OSError):
            self._prune(relative)

    def _prune(self, relative: PurePosixPath) -> None:
        """Remove ``relative`` and its parents while they are empty (never the destination)."""
        for part in [relative, *relative.parents]:
            if part == PurePosixPath("."):
                break
            try:
                self.local_path(part).rmdir()
            except OSError:
                break

    # -- the summary -------------------------------------------------------------------------
    def write_metadata_csv(self, records: Iterable[Record]) -> None:
        """``metadata.csv`` in the NBIA Data Retriever's columns, replaced whole (never torn)."""
        path = self.root / "metadata.csv"
        try:
            write_atomic(path, metadata_csv(records))
        except OSError as exc:
            raise DownloadError(
                f"the series are verified and recorded, but {path} could not be written "
                f"({_reason(exc)}); the previous one is intact and a rerun writes it"
            ) from exc


def metadata_csv(records: Iterable[Record]) -> str:
    """The summary table of committed series, in the NBIA Data Retriever's columns."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(METADATA_COLUMNS)
    for record in sorted(records, key=lambda r: (r["dir"], r["uid"])):
        writer.writerow(_metadata_row(record))
    return text.getvalue()


def dump_record(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, default=str)


def _metadata_row(record: Mapping[str, Any]) -> list[str]:
    fields: Mapping[str, Any] = record.get("metadata") or {}
    row = []
    for column in METADATA_COLUMNS:
        if column == "Series UID":
            value = record["uid"]
        elif column == "Number of Images":
            value = record.get("instances", "")
        elif column == "File Size":
            value = record.get("dicom_bytes", "")
        elif column == "File Location":
            value = "./" + record["dir"]
        elif column == "Download Timestamp":
            value = record.get("verified_at", "")
        else:
            value = next((fields[k] for k in _COLUMN_FIELDS.get(column, ()) if fields.get(k) is not None), "")
        row.append(str(value))
    return row


def local_or_store(dest: str) -> Path | str:
    """A ``file://`` URL or a path as a local folder; an object-store URL as is."""
    from ._objectstore import is_store_url

    if is_store_url(dest):
        return dest
    parts = urlsplit(dest)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"dest: {dest!r} names a file on another host")
        return Path(unquote(parts.path))
    if "://" in dest:
        raise ValueError(
            f"dest: unknown URL scheme {parts.scheme!r} (use a folder, file://, s3://, gs:// or az://)"
        )
    return Path(dest)


def destination_for(dest: Path | str, storage_options: Mapping[str, str] | None = None) -> Destination:
    """The destination of a checked ``dest`` (see `local_or_store`)."""
    if isinstance(dest, Path):
        return LocalDestination(dest)
    from ._objectstore import ObjectStoreDestination, StoreSpec

    options = dict(storage_options or {})
    endpoint = options.pop("endpoint_url", None)
    staging = options.pop("staging_dir", None)
    return ObjectStoreDestination(StoreSpec(dest, endpoint, options), staging_dir=staging)
