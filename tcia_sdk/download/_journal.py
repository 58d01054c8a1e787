"""What a destination folder already holds: the resume journal, per-series records, metadata.csv.

``<dest>/.tcia/journal.jsonl`` gets one line per verified series, appended and fsync'd before the
series counts as done, so a run killed at any point (even kill -9) loses at most the series in
flight; a torn last line is ignored. ``<dest>/.tcia/series/<uid>.json`` is the machine-readable
record of each series; ``<dest>/metadata.csv`` lists them in the NBIA Data Retriever's columns.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

STATE_DIR = ".tcia"
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


class Journal:
    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.state = dest / STATE_DIR
        self.path = self.state / "journal.jsonl"
        self.records = self.state / "series"
        self.tmp = self.state / "tmp"
        self._entries: dict[str, dict[str, Any]] = {}

    def open(self) -> None:
        """Create the state folders, drop temporary files of interrupted runs, read the journal."""
        self.records.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._entries = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill mid-write
                if isinstance(entry, dict) and isinstance(entry.get("uid"), str):
                    self._entries[entry["uid"]] = entry

    def verified(self, uid: str) -> dict[str, Any] | None:
        """The journal entry of ``uid`` if its files are all still in place, at their sizes.

        Extracted files are not fsync'd one by one; checking their sizes catches files a power cut
        left short or empty although their journal line survived.
        """
        entry = self._entries.get(uid)
        if entry is None:
            return None
        folder = self.dest / entry["dir"]
        sizes = entry.get("sizes") or [None] * len(entry["files"])
        for name, size in zip(entry["files"], sizes, strict=True):
            path = folder / name
            if not path.is_file() or (size is not None and path.stat().st_size != size):
                return None
        return entry

    def add(self, entry: dict[str, Any]) -> None:
        record = self.records / f"{entry['uid']}.json"
        tmp = record.with_suffix(".json.part")
        tmp.write_text(json.dumps(entry, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, record)
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as journal:
            journal.write(line)
            journal.flush()
            os.fsync(journal.fileno())
        self._entries[entry["uid"]] = entry

    def entries(self) -> Iterable[dict[str, Any]]:
        return self._entries.values()

    def write_metadata_csv(self) -> Path:
        path = self.dest / "metadata.csv"
        tmp = path.with_suffix(".csv.part")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(METADATA_COLUMNS)
            for entry in sorted(self._entries.values(), key=lambda e: e["dir"]):
                writer.writerow(_metadata_row(entry))
        os.replace(tmp, path)
        return path


def _metadata_row(entry: Mapping[str, Any]) -> list[str]:
    fields: Mapping[str, Any] = entry.get("metadata", {})
    row = []
    for column in METADATA_COLUMNS:
        if column == "Series UID":
            value = entry["uid"]
        elif column == "Number of Images":
            value = entry["instances"]
        elif column == "File Size":
            value = entry["dicom_bytes"]
        elif column == "File Location":
            value = "./" + entry["dir"]
        elif column == "Download Timestamp":
            value = entry["verified_at"]
        else:
            value = next((fields[k] for k in _COLUMN_FIELDS.get(column, ()) if fields.get(k) is not None), "")
        row.append(str(value))
    return row
