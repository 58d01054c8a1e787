"""Realistic NBIA v4 bodies for the decode benchmarks: getSeries JSON and getSeriesMetadata CSV.

Rows are built from the spec's own model fields (`tcia_sdk.nbia_v4.MODELS`), in their order, so a
column the spec gains without a generator here fails loudly instead of silently going unmeasured.
The distributions follow the live archive: a handful of collections, each with its own site,
licence, DOI and a few release dates (`DateReleased`, `MaxSubmissionTimestamp`); patients with a
few studies each; a study's series share its `StudyDate`/`StudyDesc` and mostly its `SeriesDate`;
NULL columns (a share of `ProtocolName`, `PatientAge`, `AnnotationsFlag`, ...) are left out.

The wire forms are the server's (V4_getSeries through Jettison): numbers are JSON numbers,
`AnnotationsFlag` is the *string* ``"false"``/``"true"`` (a varchar column), dates are MM-DD-YYYY and
every ``/`` in a string is escaped as ``\\/``. ``numbers="text"`` sends the numbers as strings, as an
older fake did. getSeriesMetadata is CSV with every cell quoted (``FormatOutput.toCsvQuoted``), the
pixel spacing and slice thickness cells joined lists (``"0.703125, 0.78125"``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from typing import Any, Literal

from tcia_sdk.nbia_v4 import MODELS

# (collection, site, modalities, body parts, licence, DOI)
_COLLECTIONS = [
    ("TCGA-BRCA", "TCGA", ["MR", "MG"], ["BREAST"], 0, "10.7937/K9/TCIA.2016.AB2NAZRP"),
    ("TCGA-GBM", "TCGA", ["MR", "CT"], ["BRAIN", "HEAD"], 0, "10.7937/K9/TCIA.2016.RNYFUYE9"),
    ("LIDC-IDRI", "LIDC", ["CT", "DX", "CR"], ["CHEST"], 0, "10.7937/K9/TCIA.2015.LO9QL9SX"),
    ("NSCLC-Radiomics", "MAASTRO", ["CT", "RTSTRUCT", "SEG"], ["LUNG"], 1, "10.7937/K9/TCIA.2015.PF0M9REI"),
    ("CPTAC-PDA", "CPTAC", ["CT", "PT", "MR"], ["ABDOMEN", "PANCREAS"], 2, "10.7937/K9/TCIA.2018.SC20FO18"),
    ("Soft-tissue-Sarcoma", "McGill", ["MR", "PT", "CT"], ["EXTREMITY"], 0, "10.7937/K9/TCIA.2015.7GO2GSKS"),
    ("ACRIN-NSCLC-FDG-PET", "ACRIN", ["PT", "CT"], ["CHEST", "WHOLEBODY"], 2, "10.7937/tcia.2019.30ilqfcl"),
    ("Prostate-MRI-US-Biopsy", "UCLA", ["MR", "US"], ["PROSTATE"], 1, "10.7937/TCIA.2020.A61IOC1A"),
]
_LICENSES = [
    ("Creative Commons Attribution 3.0 Unported License", "http://creativecommons.org/licenses/by/3.0/"),
    (
        "Creative Commons Attribution 4.0 International License",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    (
        "Creative Commons Attribution-NonCommercial 4.0 International License",
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ),
]
_EQUIPMENT = [
    ("GE MEDICAL SYSTEMS", "SIGNA EXCITE", "11"),
    ("GE MEDICAL SYSTEMS", "LightSpeed VCT", "LightSpeedverrel"),
    ("SIEMENS", "Avanto", "syngo MR B17"),
    ("SIEMENS", "Biograph 64", "VG60A"),
    ("Philips Medical Systems", "Ingenia", "5.1.7\\5.1.7.2"),
    ("TOSHIBA", "Aquilion ONE", "V4.51ER010"),
]
_PROTOCOLS = [
    "CHEST W/O CONTRAST",
    "BRAIN ROUTINE",
    "3D T1 MPRAGE",
    "PET WB CTAC",
    "VIBRANT BREAST/",
    "AXIAL T2",
]
_DESCRIPTIONS = [
    "AX T1 POST GD",
    "t2_tse_tra_320_p2",
    "Recon 2: CHEST 1.25mm",
    "PET WB AC",
    "CTAC 3.75 Thick",
    "",
]
_STUDY_DESCRIPTIONS = [
    "MRI BRAIN W/WO CONTRAST",
    "CT CHEST W/ CONTRAST",
    "PET/CT WHOLE BODY",
    "MR BREAST BILAT",
]
_DIAGNOSES = ["Lung cancer", "Glioblastoma", "Breast carcinoma"]
_SPACINGS = ["0.703125", "0.78125", "0.9765625", "1.0", "0.5859375"]
_THICKNESS = ["1.25", "2.5", "3.0", "5.0", "0.625"]

Numbers = Literal["native", "text"]


def _uid(rng: random.Random, root: str = "1.3.6.1.4.1.14519.5.2.1") -> str:
    return f"{root}.{rng.randint(1000, 9999)}.{rng.randint(1000, 9999)}.{rng.getrandbits(100)}"


def _date(rng: random.Random, first: int, last: int) -> str:
    return f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}-{rng.randint(first, last)}"


class _Archive:
    """The shared state that makes repeats realistic: collections, then patients, studies, series."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.releases = {
            c[0]: [_date(rng, 2012, 2025) for _ in range(rng.randint(2, 4))] for c in _COLLECTIONS
        }
        self.row: dict[str, Any] = {}
        self.series_left = 0
        self.studies_left = 0

    def next_study(self) -> None:
        rng = self.rng
        if self.studies_left <= 0:
            self.collection = rng.choice(_COLLECTIONS)
            name = self.collection[0]
            self.patient = f"{name[:8]}-{rng.randint(1, 999):03d}-{rng.randint(1000, 9999)}"
            self.sex = rng.choice("MFMFO")
            self.age = f"{rng.randint(20, 89):03d}Y" if rng.random() < 0.7 else None
            self.diagnosis = rng.choice(_DIAGNOSES) if rng.random() < 0.2 else None
            self.studies_left = rng.randint(1, 4)
        self.studies_left -= 1
        self.study = _uid(rng)
        self.study_date = _date(rng, 1995, 2020)
        self.study_desc = rng.choice(_STUDY_DESCRIPTIONS) if rng.random() < 0.85 else None
        self.equipment = rng.choice(_EQUIPMENT)
        self.released = rng.choice(self.releases[self.collection[0]])
        self.series_left = rng.randint(2, 10)

    def values(self) -> dict[str, Any]:
        """The next series' values by wire name (None: a NULL column, left out of the row)."""
        if self.series_left <= 0:
            self.next_study()
        self.series_left -= 1
        rng = self.rng
        name, site, modalities, body_parts, licence, doi = self.collection
        manufacturer, model, software = self.equipment
        images = rng.choice((1, 2, rng.randint(20, 400), rng.randint(100, 900)))
        flag = None if rng.random() < 0.5 else ("true" if rng.random() < 0.1 else "false")
        return {
            "SeriesInstanceUID": _uid(rng),
            "StudyInstanceUID": self.study,
            "Modality": rng.choice(modalities),
            "ProtocolName": rng.choice(_PROTOCOLS) if rng.random() < 0.7 else None,
            "SeriesDate": self.study_date if rng.random() < 0.9 else _date(rng, 1995, 2020),
            "SeriesDescription": rng.choice(_DESCRIPTIONS) or None,
            "BodyPartExamined": rng.choice(body_parts) if rng.random() < 0.85 else None,
            "SeriesNumber": rng.choice((1, 2, 3, 4, 5, 100, 301, 1001, rng.randint(1, 6_000_000))),
            "AnnotationsFlag": flag,
            "Collection": name,
            "Site": site,
            "PatientID": self.patient,
            "PatientSex": self.sex,
            "PatientAge": self.age,
            "AdmittingDiagnosisDescription": self.diagnosis,
            "Manufacturer": manufacturer,
            "ManufacturerModelName": model,
            "SoftwareVersions": software if rng.random() < 0.8 else None,
            "ImageCount": images,
            "MaxSubmissionTimestamp": self.released,
            "LicenseName": _LICENSES[licence][0],
            "LicenseURI": _LICENSES[licence][1],
            "DataDescriptionURI": f"https://doi.org/{doi}",
            "FileSize": images * rng.choice((131_072, 525_312, 2_098_176)) + rng.randint(0, 4096),
            "ReleasedStatus": "released",
            "DateReleased": self.released,
            "StudyDesc": self.study_desc,
            "StudyDate": self.study_date,
            "ThirdPartyAnalysis": "YES" if rng.random() < 0.05 else "NO",
            "Authorized": 1,
            # getSeriesMetadata's extra columns
            "PatientName": self.patient,
            "EthnicGroup": None,
            "Phantom": "NO",
            "SpeciesCode": "337915000",
            "SpeciesDescription": "Homo sapiens",
            "StudyID": str(rng.randint(1, 99999)) if rng.random() < 0.8 else None,
            "LongitudinalTemporalEventType": None,
            "LongitudinalTemporalOffsetFromEvent": None if rng.random() < 0.9 else float(rng.randint(0, 900)),
            "PixelSpacing(mm)-Row": ", ".join(sorted(rng.sample(_SPACINGS, rng.choice((1, 1, 1, 2))))),
            "SliceThickness(mm)": ", ".join(sorted(rng.sample(_THICKNESS, rng.choice((1, 1, 2, 3))))),
        }


def _rows(model: str, n: int, seed: int, cell: Callable[[str, Any], Any]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    archive = _Archive(rng)
    fields = MODELS[model].fields
    rows: list[dict[str, Any]] = []
    for _ in range(n):
        values = archive.values()
        missing = [f.wire for f in fields if f.wire not in values]
        if missing:
            raise RuntimeError(f"no generator for {model} columns {missing}")
        rows.append({f.wire: cell(f.type, values[f.wire]) for f in fields if values[f.wire] is not None})
    return rows


def v4_series_rows(n: int, *, numbers: Numbers = "native", seed: int = 2024) -> list[dict[str, Any]]:
    """``n`` v4 getSeries rows, numbers as JSON numbers or, with ``numbers="text"``, as strings."""

    def cell(kind: str, value: Any) -> Any:
        return str(value) if numbers == "text" and kind in ("int", "float") else value

    return _rows("Series", n, seed, cell)


def jettison(rows: list[dict[str, Any]]) -> bytes:
    """The body as the server's Jettison writes it: compact, with every ``/`` escaped as ``\\/``."""
    return json.dumps(rows, separators=(",", ":")).replace("/", "\\/").encode()


def with_unknown_key(rows: list[dict[str, Any]], key: str = "SeriesUIDHash") -> list[dict[str, Any]]:
    """The rows plus a column the spec does not know, in every row (a server that added one)."""
    return [{**row, key: f"{index:08x}"} for index, row in enumerate(rows)]


def metadata_csv(n: int, *, seed: int = 2025) -> str:
    """``n`` getSeriesMetadata rows as the server writes them: header, every cell quoted, NULLs ""."""
    fields = MODELS["SeriesMetadata"].fields

    def cell(kind: str, value: Any) -> str:
        # SeriesNumber is a DECIMAL column in this query: "500.000000"
        return (
            f"{value}.000000" if kind == "int" and isinstance(value, int) and value < 100_000 else str(value)
        )

    rows = _rows("SeriesMetadata", n, seed, cell)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([f.wire for f in fields])
    writer.writerows([row.get(f.wire, "") for f in fields] for row in rows)
    return out.getvalue()
