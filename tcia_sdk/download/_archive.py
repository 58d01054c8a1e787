"""Verifying a downloaded series zip and extracting it safely.

First the central directory alone, before a byte is extracted: every entry name is safe (no absolute
path, no ``..``, no link, no name landing outside the target, no duplicate); no entry is encrypted
or uses a compression method this Python cannot read; the number of DICOM entries matches the
metadata's instance count; their declared sizes add up to the metadata's byte count, and all
entries together stay within ``max_bytes`` (the metadata's size plus a small margin, or the
caller's cap when the API gives no size). So a 200,000-entry zip for a one-image series, or a
"zip bomb" entry, is refused at once.

Then extraction: every CRC-32 is checked (zipfile does, at each entry's end), the bytes written are
counted against the same bound, and MD5s are computed only when the zip has the server's MD5 file
and the caller asked for MD5s. Any failure raises DownloadError (the reason, the cause chained)
and the caller discards the folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import attrs

from .._runtime.binary import sanitize_filename
from ..errors import DownloadError

LICENSE = "LICENSE"
_READ = 1 << 20
# Methods zipfile can decompress when the matching module is importable (deflate64, 9, is not one).
_METHODS = {zipfile.ZIP_STORED: None, zipfile.ZIP_DEFLATED: "zlib", zipfile.ZIP_BZIP2: "bz2"}
_METHODS[zipfile.ZIP_LZMA] = "lzma"
_ENCRYPTED = 0x1


def size_margin(expected: int) -> int:
    """How far a zip's declared total may exceed the metadata's DICOM bytes: LICENSE, the MD5 list
    and, for the zip itself, its headers (1 MiB plus 1/8)."""
    return (1 << 20) + expected // 8


@attrs.frozen
class Verified:
    """What `extract_verified` checked and wrote."""

    files: tuple[str, ...]  # DICOM files, in zip order
    extra_files: tuple[str, ...]  # LICENSE, md5hashes.csv
    instances: int
    dicom_bytes: int
    md5: str  # "verified" | "not offered" | "not requested"
    md5_checked: int


def _safe_name(name: str, uid: str) -> str | None:
    """The entry's file name inside the target, None for a directory entry; raise if unsafe."""
    if "\0" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DownloadError(f"zip entry {name!r} has an absolute path", series_instance_uid=uid)
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise DownloadError(f"zip entry {name!r} points outside the target", series_instance_uid=uid)
    if not parts:
        return None
    if name.endswith("/"):
        return None
    if len(parts) > 1:
        raise DownloadError(
            f"zip entry {name!r} is in a subfolder; series zips are flat", series_instance_uid=uid
        )
    safe = sanitize_filename(parts[0])
    if not safe:
        raise DownloadError(f"zip entry {name!r} has no usable file name", series_instance_uid=uid)
    return safe


@attrs.frozen
class _Entry:
    info: zipfile.ZipInfo
    name: str  # the sanitised file name in the target
    kind: str  # "dicom" | "license" | "md5"


def _plan(
    archive: zipfile.ZipFile,
    *,
    uid: str,
    expected_count: int | None,
    expected_bytes: int | None,
    md5_file: str | None,
    max_bytes: int,
) -> list[_Entry]:
    """The central directory checked against the metadata, before anything is extracted."""
    entries: list[_Entry] = []
    names: set[str] = set()
    declared = dicom_declared = dicom_count = 0
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DownloadError(f"zip entry {info.filename!r} is a link", series_instance_uid=uid)
        name = _safe_name(info.filename, uid)
        if name is None:
            continue
        if info.flag_bits & _ENCRYPTED:
            raise DownloadError(f"zip entry {info.filename!r} is encrypted", series_instance_uid=uid)
        if info.compress_type not in _METHODS:
            raise DownloadError(
                f"zip entry {info.filename!r} uses compression method {info.compress_type}, "
                "which cannot be read here",
                series_instance_uid=uid,
            )
        if name in names:
            raise DownloadError(f"zip entry {info.filename!r} appears twice", series_instance_uid=uid)
        names.add(name)
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if md5_file is not None and base == md5_file:
            kind = "md5"
        elif name == LICENSE:
            kind = "license"
        else:
            kind = "dicom"
            dicom_count += 1
            dicom_declared += info.file_size
        declared += info.file_size
        entries.append(_Entry(info, name, kind))
        if expected_count is not None and dicom_count > expected_count:
            break  # counted enough to refuse: no need to look at the other entries
    if expected_count is not None and dicom_count != expected_count:
        total = sum(1 for i in archive.infolist() if not i.is_dir())
        more = "at least " if dicom_count > expected_count else ""
        raise DownloadError(
            f"the zip holds {more}{dicom_count} DICOM instances, the series metadata says "
            f"{expected_count} ({total} entries in the zip; nothing was extracted)",
            series_instance_uid=uid,
        )
    if dicom_count == 0:
        raise DownloadError("the zip holds no DICOM instances", series_instance_uid=uid)
    if expected_bytes is not None and dicom_declared != expected_bytes:
        raise DownloadError(
            f"the DICOM files add up to {dicom_declared} bytes, the series metadata says {expected_bytes}",
            series_instance_uid=uid,
        )
    if declared > max_bytes:
        raise DownloadError(
            f"the zip's entries declare {declared} bytes, more than the {max_bytes} allowed for this "
            "series; nothing was extracted",
            series_instance_uid=uid,
        )
    return entries


def extract_verified(
    zip_path: Path,
    target: Path,
    *,
    uid: str,
    expected_count: int | None,
    expected_bytes: int | None,
    md5_file: str | None,
    md5_required: bool,
    max_bytes: int | None = None,
) -> Verified:
    """Extract ``zip_path`` into the empty folder ``target`` and verify it (see module doc).

    ``max_bytes`` bounds what the zip may declare and what is written (default: the metadata's
    size plus `size_margin`, else no bound).
    """
    if max_bytes is None:
        max_bytes = expected_bytes + size_margin(expected_bytes) if expected_bytes is not None else 1 << 62
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise DownloadError(
            f"the series zip does not open ({exc}): truncated or not a zip", series_instance_uid=uid
        ) from exc
    except Exception as exc:  # OSError, and whatever else a hostile central directory provokes
        raise DownloadError(
            f"the series zip does not open ({type(exc).__name__}: {exc})", series_instance_uid=uid
        ) from exc
    with archive:
        entries = _plan(
            archive,
            uid=uid,
            expected_count=expected_count,
            expected_bytes=expected_bytes,
            md5_file=md5_file,
            max_bytes=max_bytes,
        )
        has_md5 = any(e.kind == "md5" for e in entries)
        if md5_required and md5_file is not None and not has_md5:
            raise DownloadError(
                f"the zip has no {md5_file} although MD5s were requested", series_instance_uid=uid
            )
        hash_them = md5_required and has_md5
        digests: dict[str, str] = {}
        md5_text: str | None = None
        written = 0
        target_root = target.resolve()
        for entry in entries:
            destination = target_root / entry.name  # one sanitised component: no syscall needed
            if destination.parent != target_root or entry.name in ("", ".", ".."):
                raise DownloadError(
                    f"zip entry {entry.info.filename!r} lands outside the target", series_instance_uid=uid
                )
            digest = hashlib.md5() if hash_them and entry.kind == "dicom" else None
            update = digest.update if digest is not None else None
            written += _extract_one(archive, entry.info, destination, uid, max_bytes - written, update)
            if entry.kind == "md5":
                md5_text = destination.read_text(encoding="utf-8", errors="replace")
            elif entry.kind == "dicom" and digest is not None:
                digests[entry.info.filename.replace("\\", "/").rsplit("/", 1)[-1]] = digest.hexdigest()
    files = tuple(e.name for e in entries if e.kind == "dicom")
    extras = tuple(e.name for e in entries if e.kind != "dicom")
    dicom_bytes = sum(e.info.file_size for e in entries if e.kind == "dicom")
    if md5_file is None:
        md5_status, md5_checked = "not offered", 0
    elif not md5_required:
        md5_status, md5_checked = "not requested", 0
    else:
        md5_status, md5_checked = _check_md5(md5_text, digests, md5_file, uid)
    return Verified(files, extras, len(files), dicom_bytes, md5_status, md5_checked)


def _extract_one(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    destination: Path,
    uid: str,
    budget: int,
    update: Callable[[bytes], object] | None,
) -> int:
    """Write one entry (its CRC checked by zipfile at its end); the bytes written.

    Reading errors (corrupt data, a method or an encryption zipfile refuses, LZMAError, ...) and
    writing errors (a full disk, a file size limit) both become DownloadErrors, worded apart.
    """

    def unreadable(exc: BaseException) -> DownloadError:
        if isinstance(exc, zipfile.BadZipFile):  # "Bad CRC-32 for file ..."
            return DownloadError(f"zip entry {info.filename!r} is corrupt ({exc})", series_instance_uid=uid)
        return DownloadError(
            f"zip entry {info.filename!r} cannot be read ({type(exc).__name__}: {exc})",
            series_instance_uid=uid,
        )

    def unwritable(exc: OSError) -> DownloadError:
        return DownloadError(f"cannot write {destination}: {exc.strerror or exc}", series_instance_uid=uid)

    written = 0
    try:
        sink = open(destination, "xb")  # noqa: SIM115 (closed below, its errors worded)
    except OSError as exc:
        raise unwritable(exc) from exc
    try:
        try:
            source = archive.open(info)
        except Exception as exc:  # NotImplementedError, RuntimeError (encrypted), BadZipFile, ...
            raise unreadable(exc) from exc
        with source:
            while True:
                try:
                    chunk = source.read(_READ)
                except Exception as exc:  # LZMAError, zlib.error, EOFError, OSError (bz2), ...
                    raise unreadable(exc) from exc
                if not chunk:
                    break
                written += len(chunk)
                if written > budget:
                    raise DownloadError(
                        f"zip entry {info.filename!r} extracts to more bytes than this series may hold",
                        series_instance_uid=uid,
                    )
                if update is not None:
                    update(chunk)
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise unwritable(exc) from exc
    finally:
        try:
            sink.close()
        except OSError as exc:  # the last buffered bytes refused (a full disk)
            raise unwritable(exc) from exc
    return written


def _check_md5(text: str | None, digests: dict[str, str], md5_file: str, uid: str) -> tuple[str, int]:
    if text is None:
        raise DownloadError(
            f"the zip has no {md5_file} although MD5s were requested", series_instance_uid=uid
        )
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if rows and rows[0][0].strip().lower() == "filename":
        rows = rows[1:]
    listed = {r[0].strip(): r[1].strip().lower() for r in rows if len(r) >= 2}
    for name, digest in digests.items():
        expected = listed.get(name)
        if expected is None:
            raise DownloadError(f"{name} is not listed in {md5_file}", series_instance_uid=uid)
        if expected != digest:
            raise DownloadError(f"MD5 mismatch for {name}: {digest} != {expected}", series_instance_uid=uid)
    missing = set(listed) - set(digests)
    if missing:
        raise DownloadError(
            f"{md5_file} lists files missing from the zip: {sorted(missing)}", series_instance_uid=uid
        )
    return "verified", len(digests)
