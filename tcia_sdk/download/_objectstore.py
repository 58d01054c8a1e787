"""Object stores (``s3://``, ``gs://``, ``az://``) through obstore: opening one from a URL, and the
few operations a download destination needs, with failures as `DownloadError` and credentials kept
out of every message.

Why obstore: it is the Rust ``object_store`` crate (the one Arrow, Delta Lake and DataFusion write
with), so uploads run outside the GIL, and it exposes the write semantics the engine relies on:
every PUT is atomic (a reader never sees half an object), and ``mode="create"`` is a real
put-if-absent on S3 (``If-None-Match: *``), GCS and Azure, which makes a series' marker object
its commit point without any lock. fsspec's s3fs offers neither conditional writes nor a way
out of the GIL.

Credentials come from each store's usual chain: for S3 the environment, then the shared
config/credentials files and profiles (through boto3 when it is installed, as the AWS CLI reads
them), web identity, ECS and the instance role. S3-compatible stores (MinIO, Ceph, a loopback
test server) are chosen by ``AWS_ENDPOINT_URL`` or ``endpoint_url=``; an ``http://`` endpoint is
allowed because naming one is asking for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from .._runtime.redact import Redactor
from ..errors import ConfigurationError, DownloadError
from ._destination import Record, dump_record, metadata_csv, safe_relative, valid_record
from ._manifest import is_uid

log = logging.getLogger("tcia_sdk.download")

if TYPE_CHECKING:
    from obstore.store import ObjectStore as _Store

# URL schemes obstore opens; ``file://`` is a local folder and goes to LocalDestination instead.
STORE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "memory"})
# Environment variables whose values are credentials (hidden from every message by value).
_SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
)
# Options whose values are credentials, whatever store they configure.
_SECRET_OPTIONS = frozenset(
    {
        "access_key_id",
        "secret_access_key",
        "session_token",
        "token",
        "account_key",
        "access_key",
        "sas_key",
        "client_secret",
        "service_account_key",
        "bearer_token",
    }
)
# Files of one series are uploaded this many at a time: enough to hide a store's per-PUT latency
# (S3 takes a few thousand PUTs a second per prefix), few enough to be polite to a small MinIO.
UPLOAD_CONCURRENCY = 16


def is_store_url(dest: object) -> bool:
    """Whether ``dest`` names an object store (rather than a local folder)."""
    return isinstance(dest, str) and urlsplit(dest).scheme.lower() in STORE_SCHEMES


@attrs.frozen(repr=False)
class StoreSpec:
    """How to open one object store: everything a worker on another machine needs to open the same
    store with its own credentials. Secret options are kept, but never shown by ``repr`` and never
    sent in a task graph (see `public`)."""

    url: str
    endpoint_url: str | None = None
    options: Mapping[str, str] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        shown = f"url={self.url!r}, endpoint_url={self.endpoint_url!r}"
        return f"StoreSpec({shown}, options=<{len(self.options)} hidden>)"

    def public(self) -> StoreSpec:
        """This spec without its secret options (a worker then uses its own credential chain)."""
        kept = {k: v for k, v in self.options.items() if k.lower() not in _SECRET_OPTIONS}
        return attrs.evolve(self, options=kept)

    def secret_values(self) -> list[str]:
        values = [v for k, v in self.options.items() if k.lower() in _SECRET_OPTIONS]
        values.extend(os.environ[name] for name in _SECRET_ENV if os.environ.get(name))
        return values


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        # A key in the URL would be printed with every message that names the destination.
        raise ConfigurationError(
            f"dest: an object-store URL carries no credentials, query or fragment "
            f"(got one for {parts.scheme}://{parts.hostname or ''}); use the environment or a profile"
        )
    if parts.scheme.lower() != "memory" and not parts.netloc:
        raise ConfigurationError(f"dest: {parts.scheme}:// needs a bucket or container name")
    return url.rstrip("/")


class ObjectStore:
    """One bucket (and prefix) in an object store, with the operations a destination uses.

    Keys are relative to the URL's prefix and always use ``/``. Every failure is a `DownloadError`
    whose text has the store's credentials replaced by ``<redacted>``.
    """

    def __init__(self, spec: StoreSpec) -> None:
        try:
            import obstore
            import obstore.store
        except ImportError:
            raise ConfigurationError(
                f"dest: {spec.url.split('://')[0]}:// destinations need obstore: pip install 'tcia-sdk[s3]'"
            ) from None

        self.spec = spec
        self.url = _checked_url(spec.url)
        self._obstore = obstore
        self._redactor = Redactor(values=spec.secret_values)
        scheme = urlsplit(self.url).scheme.lower()
        s3 = scheme in ("s3", "s3a")
        endpoint = spec.endpoint_url or (os.environ.get("AWS_ENDPOINT_URL") if s3 else None)
        options: dict[str, Any] = dict(spec.options)
        client: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=10),
            # One PUT of at most a multipart chunk (5 MiB), or one GET/LIST page: a minute is
            # a store that is not answering, not a slow upload.
            "timeout": timedelta(seconds=60),
        }
        if endpoint:
            options["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                client["allow_http"] = True
        provider = _s3_provider(options) if s3 else None
        try:
            from_url: Any = obstore.store.from_url  # its overloads cannot take a built dict
            self.store: _Store = from_url(
                self.url,
                client_options=client,
                retry_config={"max_retries": 5, "retry_timeout": timedelta(minutes=3)},
                **({"credential_provider": provider} if provider is not None else {}),
                **options,
            )
        except Exception as exc:
            raise self._error(f"cannot open {self.url}", exc) from None

    @property
    def name(self) -> str:
        return self.url

    def _error(self, doing: str, exc: BaseException, uid: str | None = None) -> DownloadError:
        text = self._redactor.text(f"{doing}: {type(exc).__name__}: {exc}")
        return DownloadError(text, series_instance_uid=uid)

    # -- reads -------------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        try:
            return bytes(self._obstore.get(self.store, key).bytes())
        except FileNotFoundError:
            return None
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError":
                return None
            raise self._error(f"cannot read {self.url}/{key}", exc) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        keys = list(keys)
        with ThreadPoolExecutor(max_workers=UPLOAD_CONCURRENCY) as pool:
            return dict(zip(keys, pool.map(self.get, keys), strict=True))

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every object under ``prefix`` (keys relative to the store's root)."""
        try:
            for page in self._obstore.list(self.store, prefix, chunk_size=1000):
                for meta in page:
                    yield meta["path"], int(meta["size"])
        except Exception as exc:
            raise self._error(f"cannot list {self.url}/{prefix}", exc) from None

    # -- writes ------------------------------------------------------------------------------
    def put(self, key: str, data: bytes, *, if_absent: bool = False, uid: str | None = None) -> bool:
        """Write ``data`` at ``key`` atomically; with ``if_absent``, only when nothing is there
        (False when something was: another run got there first)."""
        try:
            self._obstore.put(self.store, key, data, mode="create" if if_absent else "overwrite")
        except Exception as exc:
            if if_absent and (isinstance(exc, FileExistsError) or type(exc).__name__ == "AlreadyExistsError"):
                return False
            raise self._error(f"cannot write {self.url}/{key}", exc, uid) from None
        return True

    def upload(self, files: Iterable[tuple[Path, str]], *, uid: str | None = None) -> None:
        """Upload each local file to its key, several at a time (a large file in parts, completed
        by the store only when every part is in)."""

        def one(item: tuple[Path, str]) -> None:
            path, key = item
            try:
                self._obstore.put(self.store, key, path)
            except Exception as exc:
                raise self._error(f"cannot upload {path.name} to {self.url}/{key}", exc, uid) from None

        with ThreadPoolExecutor(max_workers=UPLOAD_CONCURRENCY) as pool:
            for _ in pool.map(one, list(files)):
                pass

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        try:
            self._obstore.delete(self.store, keys)
        except Exception as exc:
            if type(exc).__name__ != "NotFoundError":
                raise self._error(f"cannot delete under {self.url}", exc) from None

    def copy(self, source: str, target: str, *, uid: str | None = None) -> None:
        try:
            self._obstore.copy(self.store, source, target)
        except Exception as exc:
            raise self._error(f"cannot copy {source} to {target} in {self.url}", exc, uid) from None


def _s3_provider(options: Mapping[str, Any]) -> Any | None:
    """boto3's credential chain (profiles, SSO, config files) when boto3 is installed and no key
    is given outright; otherwise obstore's own chain (environment, web identity, instance role)."""
    given = any(k in options for k in ("access_key_id", "secret_access_key"))
    if given or os.environ.get("AWS_ACCESS_KEY_ID"):
        return None
    try:
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        return None
    try:
        return Boto3CredentialProvider()
    except Exception:  # boto3 found no credentials: let obstore's own chain try (instance role)
        return None


# -- the destination -------------------------------------------------------------------------
STATE = ".tcia"
_SERIES = f"{STATE}/series/"
_FOLDERS = f"{STATE}/folders/"


def _folder_key(relative: str) -> str:
    """The claim object of a series folder: one key per folder, whatever its depth or characters."""
    return f"{_FOLDERS}{hashlib.sha256(relative.encode()).hexdigest()[:40]}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


class ObjectStoreDestination:
    """Series in an object store, with the guarantees of a local folder and neither rename nor
    append (see `Destination` in ``_destination.py`` for the interface).

    * Staging is local (``staging_dir``, default the system temp folder): a series is downloaded,
      verified and extracted there, exactly as for a folder; at most ``2 x workers`` series are
      staged at once. Only verified files are uploaded.
    * ``.tcia/series/<uid>.json``, the series' record, is written after all of its files, with
      put-if-absent: it is the commit point. A series without one was never committed (readers,
      reruns and ``metadata.csv`` ignore it); a rerun lists the records and fetches only the
      rest, without asking TCIA anything about the others.
    * ``.tcia/folders/<hash>.json`` claims a series folder for one series (put-if-absent) before
      anything is uploaded into it, so two runs, or two workers, never mix two series in one
      folder; a run interrupted mid-upload left a claim, and the same series' next commit takes
      its folder back, replacing what it left there.
    * No lock: runs into one store may overlap. Two runs committing one series agree on the
      first record written; the other run's copy of identical verified bytes is simply dropped.
    """

    def __init__(self, spec: StoreSpec, *, staging_dir: str | os.PathLike[str] | None = None) -> None:
        self.store = ObjectStore(spec)
        self._staging_base = Path(staging_dir) if staging_dir is not None else Path(tempfile.gettempdir())
        self._staging_base = self._staging_base / "tcia-sdk-staging"
        self._staging: Path | None = None
        self._records: dict[str, Record] = {}
        self._claims: dict[str, str] = {}  # folder -> uid, for claims of series not recorded
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.store.name

    def url(self, relative: PurePosixPath | str) -> str:
        return f"{self.store.url}/{PurePosixPath(relative).as_posix()}"

    # -- a run -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, wait: bool) -> Iterator[None]:
        """No lock: records and folder claims keep overlapping runs apart (see the class)."""
        yield

    def _sweep(self) -> None:
        """Remove the staging folders of processes that are gone (a kill -9 leaves its folder)."""
        for folder in self._staging_base.iterdir():
            pid, _, _ = folder.name.partition("-")
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

    def open(self, shard: Collection[str] | None = None) -> None:
        """Read the records (only those of ``shard``'s series, for one shard of a cluster run)
        and the claims of folders whose series are not recorded; check that the store takes
        writes, so that read-only credentials fail the run at once; make the run's local
        staging folder."""
        try:
            self._staging_base.mkdir(parents=True, exist_ok=True)
            self._sweep()
            self._staging = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._staging_base))
        except OSError as exc:
            raise DownloadError(
                f"cannot stage downloads for {self.name} under {self._staging_base}: {exc.strerror or exc}"
            ) from exc
        probe = f"{STATE}/probe-{uuid.uuid4().hex}"
        self.store.put(probe, b"")
        self.store.delete([probe])
        wanted = set(shard) if shard is not None else None
        keys = []
        for key, _ in self.store.list(_SERIES):
            uid = key.rsplit("/", 1)[-1].removesuffix(".json")
            if key.endswith(".json") and is_uid(uid) and (wanted is None or uid in wanted):
                keys.append(key)
        records: dict[str, Record] = {}
        for key, body in self.store.get_many(keys).items():
            uid = key.rsplit("/", 1)[-1].removesuffix(".json")
            record = _loads(body)
            if record is None or not valid_record(record, uid):
                log.warning("ignoring the unreadable or unsafe series record %s", self.url(key))
                continue
            records[uid] = record
        recorded = {_folder_key(r["dir"]) for r in records.values()}
        claim_keys = [k for k, _ in self.store.list(_FOLDERS) if k not in recorded]
        claims: dict[str, str] = {}
        for body in self.store.get_many(claim_keys).values():
            claim = _loads(body)
            if claim is not None and is_uid(claim.get("uid")) and safe_relative(claim.get("dir")) is not None:
                claims[claim["dir"]] = claim["uid"]
        with self._lock:
            self._records = records
            self._claims = {d: u for d, u in claims.items() if u not in records or records[u]["dir"] != d}

    def close(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def records(self) -> dict[str, Record]:
        with self._lock:
            return dict(self._records)

    def claimed(self) -> dict[str, str]:
        """Folders claimed by series that are not recorded there (uploads a run did not finish)."""
        with self._lock:
            return dict(self._claims)

    # -- reading -----------------------------------------------------------------------------
    def _listing(self, relative: str) -> dict[str, int]:
        prefix = f"{relative}/"
        return {key[len(prefix) :]: size for key, size in self.store.list(prefix)}

    def intact(self, record: Record) -> bool:
        """Every recorded file is in the store at its recorded size (one LIST of its folder)."""
        listing = self._listing(record["dir"])
        sizes = record.get("sizes") or [None] * len(record["files"])
        return bool(record["files"]) and all(
            name in listing and (size is None or listing[name] == size)
            for name, size in zip(record["files"], sizes, strict=True)
        )

    def intact_many(self, records: Iterable[Record]) -> set[str]:
        records = list(records)
        with ThreadPoolExecutor(max_workers=UPLOAD_CONCURRENCY) as pool:
            flags = list(pool.map(self.intact, records))
        return {r["uid"] for r, ok in zip(records, flags, strict=True) if ok}

    def occupied(self, relative: PurePosixPath) -> bool:
        folder = relative.as_posix()
        with self._lock:
            if folder in self._claims:
                return True
        return any(True for _ in self.store.list(f"{folder}/"))

    def locate(self, record: Record) -> tuple[Path | None, tuple[Path, ...], str]:
        return None, (), self.url(record["dir"])

    def fetch_file(self, record: Record, name: str) -> Path | None:
        """A local copy of one committed file (to read a DICOM header), in the run's staging."""
        body = self.store.get(f"{record['dir']}/{name}")
        if body is None or self._staging is None:
            return None
        path = Path(tempfile.mkdtemp(prefix="header-", dir=self._staging)) / "first.dcm"
        path.write_bytes(body)
        return path

    # -- staging -----------------------------------------------------------------------------
    def staging(self, uid: str) -> Path:
        if not is_uid(uid):
            raise DownloadError(f"refusing to stage {uid!r}: not a DICOM UID")
        if self._staging is None:
            raise RuntimeError("staging outside a run (open() the destination first)")
        try:
            return Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=self._staging))
        except OSError as exc:
            raise DownloadError(
                f"cannot create a staging folder under {self._staging}: {exc.strerror or exc}",
                series_instance_uid=uid,
            ) from exc

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    # -- committing --------------------------------------------------------------------------
    def _claim(self, relative: str, uid: str) -> bool:
        """Claim ``relative`` for ``uid``: True when newly claimed, False when it already was
        this series' (its record's folder, or what an interrupted upload of it left); a
        DownloadError when another series holds it."""
        with self._lock:
            own = self._records.get(uid)
            if own is not None and own["dir"] == relative:
                return False
        body = json.dumps({"uid": uid, "dir": relative}).encode()
        if self.store.put(_folder_key(relative), body, if_absent=True, uid=uid):
            return True
        claim = _loads(self.store.get(_folder_key(relative)))
        holder = claim.get("uid") if claim is not None else None
        if holder == uid:
            return False
        raise DownloadError(
            f"{self.url(relative)} is claimed by series {holder} (another run); nothing was uploaded",
            series_instance_uid=uid,
        )

    def _unclaim(self, relative: str) -> None:
        with contextlib.suppress(DownloadError):
            self.store.delete([_folder_key(relative)])

    def _names(self, record: Record) -> list[str]:
        return [*record["files"], *record.get("extra_files", [])]

    def commit(self, staged: Path, record: Record) -> None:
        """Upload the verified files of ``staged`` under ``record["dir"]``, then put the record."""
        uid = record["uid"]
        record["commit"] = uuid.uuid4().hex
        relative = record["dir"]
        with self._lock:
            own = self._records.get(uid)
        fresh = self._claim(relative, uid)
        names = self._names(record)
        try:
            left = self._listing(relative)
            if fresh and left:
                raise DownloadError(
                    f"{self.url(relative)} holds objects this SDK did not record; nothing was replaced",
                    series_instance_uid=uid,
                )
            record["sizes"] = [(staged / name).stat().st_size for name in record["files"]]
            self.store.upload(((staged / n, f"{relative}/{n}") for n in names), uid=uid)
            body = dump_record(record).encode()
            if own is None and not self.store.put(f"{_SERIES}{uid}.json", body, if_absent=True, uid=uid):
                self._adopt(uid, relative, names)  # another run committed it meanwhile
                return
            if own is not None:
                self.store.put(f"{_SERIES}{uid}.json", body, uid=uid)
        except BaseException:
            if fresh:  # nothing of this series was there before: leave nothing
                with contextlib.suppress(DownloadError):
                    self.store.delete(f"{relative}/{n}" for n in names)
                self._unclaim(relative)
            raise
        stale = [f"{relative}/{n}" for n in left if n not in set(names)]
        if stale:  # what an interrupted upload of this series left that this one does not have
            with contextlib.suppress(DownloadError):
                self.store.delete(stale)
        if own is not None and own["dir"] != relative:
            with contextlib.suppress(DownloadError):
                self.store.delete(f"{own['dir']}/{n}" for n in self._names(own))
            self._unclaim(own["dir"])
        with self._lock:
            self._records[uid] = record
            self._claims.pop(relative, None)

    def _adopt(self, uid: str, relative: str, names: list[str]) -> None:
        """Another run's record of this series came first: keep it, and drop this run's copy
        unless it went to the same folder (then it is the same verified bytes)."""
        theirs = _loads(self.store.get(f"{_SERIES}{uid}.json"))
        if theirs is None or not valid_record(theirs, uid):
            raise DownloadError(
                f"the record of this series in {self.name} is unreadable", series_instance_uid=uid
            )
        if theirs["dir"] != relative:
            with contextlib.suppress(DownloadError):
                self.store.delete(f"{relative}/{n}" for n in names)
            self._unclaim(relative)
        with self._lock:
            self._records[uid] = theirs

    def relocate(self, record: Record, new_record: Record) -> None:
        """Copy a committed series' objects to ``new_record["dir"]``, record it there, then delete
        the old copies (the store has no rename)."""
        uid = record["uid"]
        new_record["commit"] = uuid.uuid4().hex
        old, new = record["dir"], new_record["dir"]
        self._claim(new, uid)  # False: an interrupted relocation of this series, taken back
        names = self._names(record)
        copied: list[str] = []
        try:
            if any(n not in names for n in self._listing(new)):
                raise DownloadError(
                    f"{self.url(new)} already holds objects; the series stays in {self.url(old)}",
                    series_instance_uid=uid,
                )
            for name in names:
                self.store.copy(f"{old}/{name}", f"{new}/{name}", uid=uid)
                copied.append(f"{new}/{name}")
            self.store.put(f"{_SERIES}{uid}.json", dump_record(new_record).encode(), uid=uid)
        except BaseException:
            with contextlib.suppress(DownloadError):
                self.store.delete(copied)
            self._unclaim(new)
            raise
        with contextlib.suppress(DownloadError):
            self.store.delete(f"{old}/{n}" for n in names)
        self._unclaim(old)
        with self._lock:
            self._records[uid] = new_record

    def update_record(self, record: Record) -> None:
        self.store.put(f"{_SERIES}{record['uid']}.json", dump_record(record).encode(), uid=record["uid"])
        with self._lock:
            self._records[record["uid"]] = record

    def write_metadata_csv(self, records: Iterable[Record]) -> None:
        """``metadata.csv`` as on disk, one atomic PUT (a reader sees the old one or the new one)."""
        try:
            self.store.put("metadata.csv", metadata_csv(records).encode())
        except DownloadError as exc:
            raise DownloadError(
                f"the series are verified and recorded, but metadata.csv could not be written ({exc}); "
                "a rerun writes it"
            ) from None


def _loads(body: bytes | None) -> Any:
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
