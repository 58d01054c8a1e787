"""Where a series goes: the ``flat``, ``classic`` and ``descriptive`` layouts, or a ``%Keyword`` template;
and how two series that would share a folder are kept apart (`Claims`, `unique_folder`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

LAYOUTS = {
    "flat": "%SeriesInstanceUID",
    "classic": "%Collection/%PatientID/%StudyInstanceUID/%SeriesInstanceUID",
}
_TOKEN = re.compile(r"%([A-Za-z][A-Za-z0-9]*)")
_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\\/]')
MISSING = "NA"

# Header keywords a layout may read from the first DICOM file when the metadata lacks them.
Lookup = Callable[[str], str | None]


def check_layout(layout: str, fields: Collection[str] | None = None, source: str = "") -> None:
    """Raise ValueError for a layout that is neither a named one nor a %Keyword template, or (with
    ``fields``, the metadata's wire names) for a template keyword that is neither one of ``fields``
    nor, when pydicom is installed, a DICOM keyword of its dictionary."""
    if not isinstance(layout, str) or (layout != "descriptive" and "%" not in LAYOUTS.get(layout, layout)):
        raise ValueError(f"unknown layout {layout!r}: use flat, classic, descriptive or a %Keyword template")
    if fields is None or layout in LAYOUTS or layout == "descriptive":
        return
    dicom = dicom_keywords()
    for keyword in _TOKEN.findall(layout):
        if keyword in fields or keyword in dicom:
            continue
        close = difflib.get_close_matches(keyword, [*fields, *dicom], n=1)
        hint = f"; did you mean %{close[0]}?" if close else ""
        where = f"a field of {source}" if source else "a series metadata field"
        also = (
            " nor a DICOM keyword known to pydicom"
            if dicom
            else " (DICOM keywords are allowed when pydicom, the tcia-sdk[dicom] extra, is installed)"
        )
        raise ValueError(f"unknown layout keyword %{keyword} in {layout!r}: not {where}{also}{hint}")


def dicom_keywords() -> frozenset[str]:
    """The DICOM keywords of pydicom's dictionary; empty without pydicom."""
    try:
        from pydicom.datadict import keyword_dict
    except ImportError:
        return frozenset()
    return frozenset(keyword_dict)


def needs_header(layout: str, fields: Mapping[str, Any]) -> bool:
    """True when the layout uses a keyword ``fields`` lacks (it is then read from a DICOM header)."""
    keywords = (
        DESCRIPTIVE_KEYWORDS if layout == "descriptive" else _TOKEN.findall(LAYOUTS.get(layout, layout))
    )
    return any(_text(fields.get(k)) is None for k in keywords if not _has_alternative(k, fields))


def _has_alternative(keyword: str, fields: Mapping[str, Any]) -> bool:
    return keyword == "StudyDescription" and _text(fields.get("StudyDesc")) is not None


DESCRIPTIVE_KEYWORDS = (
    "StudyInstanceUID", "SeriesInstanceUID", "StudyDate", "StudyID", "StudyDescription",
    "SeriesNumber", "SeriesDescription", "Collection", "PatientID",
)  # fmt: skip


def _component(value: str) -> str:
    cleaned = _UNSAFE.sub("-", value).strip().strip(".")
    return cleaned[:120] or MISSING


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%m-%d-%Y")
    if isinstance(value, dt.date):
        return value.strftime("%m-%d-%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: str | None) -> str:
    """SeriesNumber as the Data Retriever writes it: "102.000000" -> "102"."""
    if value is None:
        return MISSING
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def series_path(layout: str, fields: Mapping[str, Any], header: Lookup) -> tuple[Path, list[str]]:
    """The series folder relative to the destination, and the keywords that came from DICOM headers.

    Every component is sanitised (no separators, no leading or trailing dots, no control
    characters): whatever the metadata says, the folder stays under the destination.
    """
    path, from_header = _series_path(layout, fields, header)
    if path.is_absolute() or any(p in ("", ".", "..") for p in path.parts) or not path.parts:
        raise ValueError(f"layout {layout!r} gave an unsafe folder {path}")  # unreachable: _component
    return path, from_header


def _series_path(layout: str, fields: Mapping[str, Any], header: Lookup) -> tuple[Path, list[str]]:
    """The series folder relative to the destination, and the keywords that came from DICOM headers."""
    from_header: list[str] = []

    def get(keyword: str) -> str | None:
        value = _text(fields.get(keyword))
        if value is None:
            value = header(keyword)
            if value is not None:
                from_header.append(keyword)
        return value

    if layout == "descriptive":
        study_uid = get("StudyInstanceUID") or MISSING
        series_uid = get("SeriesInstanceUID") or MISSING
        study = "-".join(
            [
                _study_date(get("StudyDate")),
                get("StudyID") or MISSING,
                (get("StudyDescription") or get("StudyDesc") or MISSING)[:53],
                study_uid[-5:],
            ]
        )
        series = "-".join(
            [_number(get("SeriesNumber")), (get("SeriesDescription") or MISSING)[:53], series_uid[-5:]]
        )
        parts = [get("Collection") or MISSING, get("PatientID") or MISSING, study, series]
    else:
        check_layout(layout)
        template = LAYOUTS.get(layout, layout)
        rendered = _TOKEN.sub(lambda m: (get(m.group(1)) or MISSING).replace("/", "-"), template)
        parts = rendered.split("/")
    return Path(*[_component(p) for p in parts if p]), from_header


def _study_date(value: str | None) -> str:
    if value is None:
        return MISSING
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m-%d-%Y", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return dt.datetime.strptime(value, fmt).strftime("%m-%d-%Y")
        except ValueError:
            continue
    return value


def header_reader(path: Path | None) -> Lookup:
    """Look keywords up in a DICOM file's header (needs pydicom, the ``[dicom]`` extra)."""
    cache: dict[str, str | None] = {}
    dataset: list[Any] = []

    def lookup(keyword: str) -> str | None:
        if path is None:
            return None
        if keyword not in cache:
            if not dataset:
                try:
                    import pydicom
                except ImportError:
                    return None
                try:
                    dataset.append(pydicom.dcmread(path, stop_before_pixels=True))
                except Exception:  # an unreadable header is the same as a missing field
                    dataset.append(None)
            ds = dataset[0]
            value = getattr(ds, keyword, None) if ds is not None else None
            cache[keyword] = _text(value) if value not in (None, "") else None
        return cache[keyword]

    return lookup


# -- keeping series apart ----------------------------------------------------------------------
def clashes(a: PurePosixPath, b: PurePosixPath) -> bool:
    """Two series folders clash when they are the same or one holds the other."""
    return a == b or a in b.parents or b in a.parents


class Claims:
    """Which series owns which folder (recorded ones first, then this run's in input order)."""

    def __init__(self, owned: Iterable[tuple[PurePosixPath, str]] = ()) -> None:
        self._exact: dict[PurePosixPath, str] = {}
        self._below: dict[PurePosixPath, set[str]] = {}  # folder -> owners of folders inside it
        for folder, uid in owned:
            self.claim(folder, uid)

    def owner(self, folder: PurePosixPath, uid: str) -> str | None:
        """Another series whose folder clashes with ``folder``, or None."""
        found = self._exact.get(folder)
        if found is not None and found != uid:
            return found
        for parent in folder.parents:
            found = self._exact.get(parent)
            if found is not None and found != uid:
                return found
        return next((u for u in sorted(self._below.get(folder, ())) if u != uid), None)

    def claim(self, folder: PurePosixPath, uid: str) -> None:
        self._exact[folder] = uid
        for parent in folder.parents:
            self._below.setdefault(parent, set()).add(uid)

    def release(self, folder: PurePosixPath, uid: str) -> None:
        if self._exact.get(folder) != uid:
            return
        del self._exact[folder]
        for parent in folder.parents:
            below = self._below.get(parent)
            if below is not None:
                below.discard(uid)


def unique_folder(claims: Claims, wanted: PurePosixPath, uid: str) -> tuple[PurePosixPath, str | None]:
    """``wanted``, or when another series holds it, ``wanted`` with ``_<uid>`` appended to its last
    component; and the series it clashed with (None: no clash). ValueError when even that clashes
    (a folder inside another series' folder)."""
    other = claims.owner(wanted, uid)
    if other is None:
        return wanted, None
    renamed = wanted.with_name(f"{wanted.name}_{uid}")
    still = claims.owner(renamed, uid)
    if still is not None:
        raise ValueError(
            f"its folder {wanted} clashes with series {other}'s and {renamed} with series {still}'s"
        )
    return renamed, other
