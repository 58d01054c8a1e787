"""Verifying a downloaded series zip and extracting it safely.

Checks, in order: the zip opens; every entry name is safe (no absolute path, no ``..``, no link, no
name landing outside the target); every CRC matches (checked while extracting); the MD5s of the
server's ``md5hashes.csv`` match; the number of DICOM instances and their bytes match what the
series metadata announced. Any failure raises DownloadError and the caller discards the folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

import attrs

from .._runtime.binary import sanitize_filename
from ..errors import DownloadError

LICENSE = "LICENSE"
_READ = 1 << 20


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


def extract_verified(
    zip_path: Path,
    target: Path,
    *,
    uid: str,
    expected_count: int | None,
    expected_bytes: int | None,
    md5_file: str | None,
    md5_required: bool,
) -> Verified:
    """Extract ``zip_path`` into the empty folder ``target`` and verify it (see module doc)."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(
            f"the series zip does not open ({exc}): truncated or not a zip", series_instance_uid=uid
        ) from None
    files: list[str] = []
    extras: list[str] = []
    digests: dict[str, str] = {}
    dicom_bytes = 0
    md5_text: str | None = None
    target_root = target.resolve()
    with archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DownloadError(f"zip entry {info.filename!r} is a link", series_instance_uid=uid)
            name = _safe_name(info.filename, uid)
            if name is None:
                continue
            destination = (target / name).resolve()
            if destination.parent != target_root:
                raise DownloadError(
                    f"zip entry {info.filename!r} lands outside the target", series_instance_uid=uid
                )
            if destination.exists():
                raise DownloadError(f"zip entry {info.filename!r} appears twice", series_instance_uid=uid)
            digest = hashlib.md5()
            try:
                with archive.open(info) as source, open(destination, "xb") as sink:
                    while chunk := source.read(_READ):
                        digest.update(chunk)
                        sink.write(chunk)
            except zipfile.BadZipFile as exc:  # "Bad CRC-32 for file ..."
                raise DownloadError(
                    f"zip entry {info.filename!r} is corrupt ({exc})", series_instance_uid=uid
                ) from None
            except (EOFError, zipfile.LargeZipFile, OSError) as exc:
                raise DownloadError(
                    f"zip entry {info.filename!r} cannot be read ({exc})", series_instance_uid=uid
                ) from None
            if md5_file is not None and info.filename.rsplit("/", 1)[-1] == md5_file:
                md5_text = destination.read_text(encoding="utf-8", errors="replace")
                extras.append(name)
            elif name == LICENSE:
                extras.append(name)
            else:
                files.append(name)
                digests[info.filename.rsplit("/", 1)[-1]] = digest.hexdigest()
                dicom_bytes += info.file_size
    md5_status, md5_checked = _check_md5(md5_text, digests, md5_file, md5_required, uid)
    if expected_count is not None and len(files) != expected_count:
        raise DownloadError(
            f"the zip holds {len(files)} DICOM instances, the series metadata says {expected_count}",
            series_instance_uid=uid,
        )
    if expected_bytes is not None and dicom_bytes != expected_bytes:
        raise DownloadError(
            f"the DICOM files add up to {dicom_bytes} bytes, the series metadata says {expected_bytes}",
            series_instance_uid=uid,
        )
    return Verified(tuple(files), tuple(extras), len(files), dicom_bytes, md5_status, md5_checked)


def _check_md5(
    text: str | None, digests: dict[str, str], md5_file: str | None, required: bool, uid: str
) -> tuple[str, int]:
    if md5_file is None or not required:
        return ("not offered" if md5_file is None else "not requested"), 0
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
