"""Where a series goes: the ``flat``, ``classic`` and ``descriptive`` layouts, or a ``%Keyword`` template."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
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


def check_layout(layout: str) -> None:
    """Raise ValueError for a layout that is neither a named one nor a %Keyword template."""
    if layout != "descriptive" and "%" not in LAYOUTS.get(layout, layout):
        raise ValueError(f"unknown layout {layout!r}: use flat, classic, descriptive or a %Keyword template")


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
