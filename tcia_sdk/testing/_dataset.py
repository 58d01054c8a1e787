"""The fake TCIA's bundled dataset: a few collections, patients, studies and series of tiny valid
DICOM files whose sizes, counts and MD5s agree.

Everything is one flat table of instance rows keyed by wire names (DICOM keywords and their NBIA
aliases). An endpoint's answer is that table filtered by the request's parameters and projected
onto the endpoint's model, so the fake needs no code per endpoint.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ._dicom import CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, dicom_file

ROOT = "1.2.826.0.1.3680043.10.1411"  # a UID root for fake data; no real UID starts with it
LICENSE_TEXT = {
    "CC BY 4.0": "Creative Commons Attribution 4.0 International License\nhttps://creativecommons.org/licenses/by/4.0/\n",
    "CC BY 3.0": "Creative Commons Attribution 3.0 Unported License\nhttp://creativecommons.org/licenses/by/3.0/\n",
}


@attrs.frozen
class Instance:
    sop_instance_uid: str
    data: bytes
    stored_name: str

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


@attrs.frozen
class SeriesData:
    uid: str
    row: Mapping[str, Any]  # series-level wire fields
    instances: tuple[Instance, ...]
    license_name: str

    @property
    def file_size(self) -> int:
        return sum(len(i.data) for i in self.instances)


# (collection, license, patient, sex, age, [(study suffix, date, description, [(modality, body part, n)])])
_PLAN = [
    (
        "TCGA-FAKE",
        "CC BY 3.0",
        "TCGA-FK-0001",
        "F",
        "049Y",
        [
            ("1", dt.date(2001, 11, 21), "MRI BREAST", [("MR", "BREAST", 4), ("MR", "BREAST", 3)]),
        ],
    ),
    (
        "TCGA-FAKE",
        "CC BY 3.0",
        "TCGA-FK-0002",
        "M",
        "061Y",
        [
            ("1", dt.date(2003, 12, 12), "CT CHEST", [("CT", "CHEST", 5)]),
            ("2", dt.date(2004, 1, 30), "MRI BRAIN", [("MR", "BRAIN", 3)]),
        ],
    ),
    (
        "PHANTOM-FAKE",
        "CC BY 4.0",
        "PH-001",
        "O",
        "000Y",
        [
            ("1", dt.date(2010, 5, 5), "QA PHANTOM", [("CT", "PHANTOM", 2)]),
        ],
    ),
]


# Other names the APIs give the same values: NBIA's camelCase keys, v1's display names, v4's counts.
ALIASES = {
    "BodyPart": "BodyPartExamined",
    "Species": "SpeciesDescription",
    "collection": "Collection",
    "collectionName": "Collection",
    "seriesInstanceUID": "SeriesInstanceUID",
    "thirdPartyAnanlysis": "ThirdPartyAnalysis",
    "authorized": "Authorized",
    "descriptionURI": "DataDescriptionURI",
    "Series UID": "SeriesInstanceUID",
    "Subject ID": "PatientID",
    "Study UID": "StudyInstanceUID",
    "Study Description": "StudyDescription",
    "Study Date": "StudyDate",
    "Series Description": "SeriesDescription",
    "Number of Images": "ImageCount",
    "File Size": "FileSize",
    "Series Number": "SeriesNumber",
    "Date Released": "DateReleased",
    "Data Description URI": "DataDescriptionURI",
    "3rd Party Analysis": "ThirdPartyAnalysis",
    "License Name": "LicenseName",
    "License URL": "LicenseURI",
    "Body Part Examined": "BodyPartExamined",
    "Manufacturer Model Name": "ManufacturerModelName",
    "Protocol Name": "ProtocolName",
    "Software Versions": "SoftwareVersions",
}


@functools.cache
def default_dataset() -> tuple[SeriesData, ...]:
    """The bundled dataset (built once, deterministically)."""
    out: list[SeriesData] = []
    serial = 0
    for collection, license_name, patient, sex, age, studies in _PLAN:
        released = dt.date(2014, 3, 4) if collection == "TCGA-FAKE" else dt.date(2016, 8, 9)
        for study_suffix, study_date, study_desc, series_plan in studies:
            p = patient.replace("-", "").lower()
            study_uid = f"{ROOT}.{sum(map(ord, p))}.{study_suffix}"
            for number, (modality, body_part, count) in enumerate(series_plan, start=1):
                serial += 1
                series_uid = f"{study_uid}.{number}{serial:02d}"
                base = {
                    "SeriesInstanceUID": series_uid,
                    "StudyInstanceUID": study_uid,
                    "Modality": modality,
                    "BodyPartExamined": body_part,
                    "SeriesNumber": number,
                    "SeriesDescription": f"{modality} {body_part.title()} series {number}",
                    "ProtocolName": f"{modality}_{body_part}",
                    "SeriesDate": study_date,
                    "StudyDate": study_date,
                    "StudyDescription": study_desc,
                    "StudyDesc": study_desc,
                    "StudyID": study_suffix,
                    "Collection": collection,
                    "PatientID": patient,
                    "PatientId": patient,
                    "PatientName": patient,
                    "PatientSex": sex,
                    "PatientAge": age,
                    "Manufacturer": "SIEMENS" if modality == "MR" else "GE MEDICAL SYSTEMS",
                    "ManufacturerModelName": "Avanto" if modality == "MR" else "LightSpeed",
                    "SoftwareVersions": "syngo MR B17" if modality == "MR" else "LightSpeedApps2.4",
                    "AnnotationsFlag": False,
                    "LicenseName": license_name,
                    "LicenseURI": LICENSE_TEXT[license_name].splitlines()[1],
                    "CollectionURI": f"https://doi.org/10.0000/FAKE.{collection}",
                    "DataDescriptionURI": f"https://doi.org/10.0000/FAKE.{collection}",
                    "DateReleased": released,
                    "TimeStamp": dt.datetime.combine(released, dt.time(12, 0)),
                    "MaxSubmissionTimestamp": released,
                    "ThirdPartyAnalysis": "NO",
                    "Phantom": "YES" if collection == "PHANTOM-FAKE" else "NO",
                    "SpeciesCode": "337915000",
                    "SpeciesDescription": "Homo sapiens",
                    "Site": "Fake Site",
                    "ReleasedStatus": "Released",
                    "Authorized": 1,
                }
                sop_class = MR_IMAGE_STORAGE if modality == "MR" else CT_IMAGE_STORAGE
                instances = []
                for index in range(1, count + 1):
                    sop_uid = f"{series_uid}.{index}"
                    attributes = {
                        "SOPClassUID": sop_class,
                        "SOPInstanceUID": sop_uid,
                        "StudyDate": study_date.strftime("%Y%m%d"),
                        "SeriesDate": study_date.strftime("%Y%m%d"),
                        "InstanceNumber": index,
                        **{
                            k: base[k]
                            for k in (
                                "Modality",
                                "Manufacturer",
                                "StudyDescription",
                                "SeriesDescription",
                                "PatientName",
                                "PatientID",
                                "PatientSex",
                                "BodyPartExamined",
                                "StudyInstanceUID",
                                "SeriesInstanceUID",
                                "StudyID",
                                "SeriesNumber",
                            )
                        },
                    }
                    data = dicom_file(attributes, seed=serial * 31 + index)
                    instances.append(Instance(sop_uid, data, f"{100 + index}.dcm"))
                size = sum(len(i.data) for i in instances)
                row = {
                    **base,
                    "ImageCount": count,
                    "ObjectCount": count,
                    "FileSize": size,
                    "TotalSizeInBytes": size,
                }
                row.update({alias: row[key] for alias, key in ALIASES.items()})
                out.append(SeriesData(series_uid, row, tuple(instances), license_name))
    return tuple(out)


def instance_rows(dataset: tuple[SeriesData, ...]) -> Iterator[dict[str, Any]]:
    """The flat table: one row per instance, series fields plus SOPInstanceUID."""
    for series in dataset:
        for instance in series.instances:
            yield {**series.row, "SOPInstanceUID": instance.sop_instance_uid}


def series_zip(series: SeriesData, *, layout: str, md5_file: str | None = None) -> bytes:
    """The series zip as the real server lays it out.

    ``bindaas`` (TCIA v3): a ``./`` directory entry, then ``./<n>-<stored name>``.
    ``nbia``: ``LICENSE`` first, then ``00000001.dcm``, ...; plus ``md5_file`` when asked.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        names: list[tuple[str, Instance]] = []
        if layout == "bindaas":
            archive.writestr("./", b"")
            names = [(f"./{i}-{inst.stored_name}", inst) for i, inst in enumerate(series.instances, start=1)]
        else:
            archive.writestr("LICENSE", LICENSE_TEXT[series.license_name])
            names = [(f"{i:08d}.dcm", inst) for i, inst in enumerate(series.instances, start=1)]
        for name, inst in names:
            archive.writestr(name, inst.data)
        if md5_file:
            lines = ["Filename,MD5Hash"] + [f"{name},{inst.md5}" for name, inst in names]
            archive.writestr(md5_file, "\n".join(lines) + "\n")
    return buffer.getvalue()
