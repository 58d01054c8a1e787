"""Series lists on disk: NBIA ``.tcia`` manifests and CSV files with a ``SeriesInstanceUID`` column
(``tcia get-series -o csv``, a spreadsheet export, or the ``Series UID`` column of the SDK's own
``metadata.csv``)."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterable
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
TCIA_HEADER_LINES = 6
# Column headings that hold the series UID, in order of preference (case and spaces ignored).
CSV_HEADERS = ("seriesinstanceuid", "series instance uid", "series uid")


def is_uid(text: object) -> bool:
    """A DICOM UID: digits and dots (no empty component), at most 64 characters."""
    return isinstance(text, str) and len(text) <= 64 and bool(_UID.match(text))


def read_manifest(path: str | Path) -> list[str]:
    """The SeriesInstanceUIDs of a ``.tcia`` manifest (six header lines, then one UID per line) or
    of a CSV with a ``SeriesInstanceUID`` (or ``Series UID``) column, whatever its other columns.
    Duplicates are dropped, order kept; a value that is not a DICOM UID is a ValueError naming the
    line."""
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
        headings = [h.strip().lower() for h in rows[0]] if rows else []
        column = next((headings.index(h) for h in CSV_HEADERS if h in headings), None)
        if column is None:
            raise ValueError(
                f"{path}: expected a .tcia manifest or a CSV with a SeriesInstanceUID (or Series UID) "
                f"column; its first line is {', '.join(rows[0]) if rows else 'empty'}"
            )
        candidates = [
            (i + 2, row[column].strip() if len(row) > column else "") for i, row in enumerate(rows[1:])
        ]
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
