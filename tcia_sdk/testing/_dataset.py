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
    pk: int = 0  # the server's internal image key (image_pk_id)
    number: int = 0  # InstanceNumber
    pixel_spacing: float | None = None  # millimetres between rows
    slice_thickness: float | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)  # what its DICOM header holds

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


@attrs.frozen
class SeriesData:
    uid: str
    row: Mapping[str, Any]  # series-level wire fields
    instances: tuple[Instance, ...]
    license_name: str
    pk: int = 0  # the server's internal keys: general_series_pk_id, study_pk_id, patient_pk_id
    study_pk: int = 0
    patient_pk: int = 0

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
    "Species": "SpeciesCode",  # v4 SpeciesCount.Species holds the SNOMED code
    "speciesCode": "SpeciesCode",
    "speciesDescription": "SpeciesDescription",
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
    return _build(_PLAN)


@functools.cache
def cohort_dataset(patients: int) -> tuple[SeriesData, ...]:
    """The bundled dataset plus ``patients`` more in collection COHORT-FAKE, one small CT series
    each: enough series for bulk and cluster runs (built once per size, deterministically)."""
    cohort = [
        (
            "COHORT-FAKE",
            "CC BY 4.0",
            f"COH-{i:04d}",
            "FM"[i % 2],
            f"{40 + i % 40:03d}Y",
            [("1", dt.date(2012, 1, 1) + dt.timedelta(days=i), "CT CHEST", [("CT", "LUNG", 2)])],
        )
        for i in range(1, patients + 1)
    ]
    return _build([*_PLAN, *cohort])


def _build(plan: list[Any]) -> tuple[SeriesData, ...]:
    out: list[SeriesData] = []
    serial = 0
    study_serial = 0
    for patient_index, (collection, license_name, patient, sex, age, studies) in enumerate(plan, start=1):
        released = dt.date(2014, 3, 4) if collection == "TCGA-FAKE" else dt.date(2016, 8, 9)
        for study_index, (study_suffix, study_date, study_desc, series_plan) in enumerate(studies):
            study_serial += 1
            p = patient.replace("-", "").lower()
            # The bundled patients' UIDs stay as they always were; cohort patients get their index.
            root = sum(map(ord, p)) if patient_index <= len(_PLAN) else 9000 + patient_index
            study_uid = f"{ROOT}.{root}.{study_suffix}"
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
                    # NULL for the phantom: servers leave NULL columns out of JSON rows.
                    "ProtocolName": None if collection == "PHANTOM-FAKE" else f"{modality}_{body_part}",
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
                    "Site": "Fake Site" if collection == "TCGA-FAKE" else "Phantom Lab",
                    "ReleasedStatus": "Yes",
                    "Authorized": 1,
                    "LongitudinalTemporalEventType": "Diagnosis",
                    "LongitudinalTemporalOffsetFromEvent": 182.0 * study_index,
                    "AdmittingDiagnosisDescription": "Fake diagnosis",
                    "AdmittingDiagnosesDescription": "Fake diagnosis",
                    "SeriesCount": len(series_plan),
                    "ExcludeCommercial": "YES" if collection == "PHANTOM-FAKE" else "NO",
                }
                sop_class = MR_IMAGE_STORAGE if modality == "MR" else CT_IMAGE_STORAGE
                instances = []
                for index in range(1, count + 1):
                    sop_uid = f"{series_uid}.{index}"
                    # One series has images that differ in geometry: its metadata lists both values
                    # (GROUP_CONCAT DISTINCT), as real series with a changed protocol do.
                    mixed = modality == "CT" and body_part == "CHEST"
                    spacing = (
                        (0.703125 if index % 2 else 0.78125)
                        if mixed
                        else (0.9375 if modality == "MR" else 0.68)
                    )
                    thickness = (1.25 if index % 2 else 2.5) if mixed else (5.0 if modality == "MR" else 1.25)
                    attributes = {
                        "SOPClassUID": sop_class,
                        "SOPInstanceUID": sop_uid,
                        "StudyDate": study_date.strftime("%Y%m%d"),
                        "SeriesDate": study_date.strftime("%Y%m%d"),
                        "InstanceNumber": index,
                        "PixelSpacing": f"{spacing}\\{spacing}",
                        "SliceThickness": f"{thickness}",
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
                    instances.append(
                        Instance(
                            sop_uid,
                            data,
                            f"{100 + index}.dcm",
                            pk=40000 + serial * 100 + index,
                            number=index,
                            pixel_spacing=spacing,
                            slice_thickness=thickness,
                            attributes=attributes,
                        )
                    )
                size = sum(len(i.data) for i in instances)
                row = {
                    **base,
                    "ImageCount": count,
                    "ObjectCount": count,
                    "FileSize": size,
                    "TotalSizeInBytes": size,
                    "PixelSpacing(mm)-Row": tuple(sorted({spacing_of(i) for i in instances})),
                    "SliceThickness(mm)": tuple(sorted({thickness_of(i) for i in instances})),
                    "SeriesPkId": 3000 + serial,
                    "StudyPkId": 2000 + study_serial,
                    "PatientPkId": 1000 + patient_index,
                }
                row.update({alias: row[key] for alias, key in ALIASES.items()})
                out.append(
                    SeriesData(
                        series_uid,
                        row,
                        tuple(instances),
                        license_name,
                        pk=3000 + serial,
                        study_pk=2000 + study_serial,
                        patient_pk=1000 + patient_index,
                    )
                )
    return tuple(out)


def spacing_of(instance: Instance) -> float:
    return instance.pixel_spacing if instance.pixel_spacing is not None else 0.0


def thickness_of(instance: Instance) -> float:
    return instance.slice_thickness if instance.slice_thickness is not None else 0.0


def instance_rows(dataset: tuple[SeriesData, ...]) -> Iterator[dict[str, Any]]:
    """The flat table: one row per instance, series fields plus the instance's own."""
    for series in dataset:
        for instance in series.instances:
            yield {
                **series.row,
                "SOPInstanceUID": instance.sop_instance_uid,
                "ImagePkId": instance.pk,
                "InstanceNumber": instance.number,
                "PixelSpacing": instance.pixel_spacing,
                "SliceThickness": instance.slice_thickness,
                "MD5Hash": instance.md5,
            }


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
