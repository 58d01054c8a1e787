"""Series lists on disk: NBIA ``.tcia`` manifests and one-column ``SeriesInstanceUID`` CSV files."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterable
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
TCIA_HEADER_LINES = 6
CSV_HEADERS = {"seriesinstanceuid", "series instance uid", "series uid"}


def is_uid(text: str) -> bool:
    return len(text) <= 64 and bool(_UID.match(text))


def read_manifest(path: str | Path) -> list[str]:
    """The SeriesInstanceUIDs of a ``.tcia`` manifest (six header lines, then one UID per line) or
    of a CSV whose single column is headed SeriesInstanceUID. Duplicates are dropped, order kept."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    if lines and lines[0].startswith("downloadServerUrl="):
        header, body = lines[:TCIA_HEADER_LINES], lines[TCIA_HEADER_LINES:]
        if len(header) < TCIA_HEADER_LINES or not header[-1].startswith("ListOfSeriesToDownload="):
            raise ValueError(f"{path}: a .tcia manifest has six key=value header lines")
        first_line = TCIA_HEADER_LINES + 1
        candidates = [(first_line + i, line.strip()) for i, line in enumerate(body)]
    else:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or len(rows[0]) != 1 or rows[0][0].strip().lower() not in CSV_HEADERS:
            raise ValueError(
                f"{path}: expected a .tcia manifest or a one-column CSV headed SeriesInstanceUID"
            )
        candidates = [(i + 2, row[0].strip() if row else "") for i, row in enumerate(rows[1:])]
    uids: list[str] = []
    seen: set[str] = set()
    for line_number, uid in candidates:
        if not uid:
            continue
        if not is_uid(uid):
            raise ValueError(f"{path}:{line_number}: {uid!r} is not a DICOM UID")
        if uid not in seen:
            seen.add(uid)
            uids.append(uid)
    return uids


def write_manifest(
    path: str | Path,
    uids: Iterable[str],
    *,
    download_server_url: str = "https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet",
    include_annotation: bool = True,
) -> Path:
    """Write ``.tcia`` (by default) or, for a ``.csv`` path, a one-column SeriesInstanceUID CSV."""
    path = Path(path)
    uids = list(uids)
    for uid in uids:
        if not is_uid(uid):
            raise ValueError(f"{uid!r} is not a DICOM UID")
    if path.suffix.lower() == ".csv":
        body = "SeriesInstanceUID\n" + "".join(f"{uid}\n" for uid in uids)
    else:
        header = [
            f"downloadServerUrl={download_server_url}",
            f"includeAnnotation={'true' if include_annotation else 'false'}",
            "noOfrRetry=4",  # sic: the NBIA Data Retriever's key
            f"databasketId=manifest-{int(time.time() * 1000)}.tcia",
            "manifestVersion=3.0",
            "ListOfSeriesToDownload=",
        ]
        body = "\n".join(header + uids) + "\n"
    path.write_text(body, encoding="utf-8")
    return path
