"""The msgspec contender: Structs written by hand for the benchmark rows, as a user would write them.

They declare each column with the JSON type it arrives as and nothing more: no date parsing (msgspec
reads only ISO dates), numbers sent as text stay text, unknown keys are dropped, and a value of
another type fails the whole body. That is the ceiling of a compiled parser on these rows, not a
like-for-like typed decoder.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec


class V4Series(msgspec.Struct, gc=False):
    """NBIA v4 getSeries as the server sends it: numbers native, AnnotationsFlag and dates text."""

    SeriesInstanceUID: str | None = None
    StudyInstanceUID: str | None = None
    Modality: str | None = None
    ProtocolName: str | None = None
    SeriesDate: str | None = None
    SeriesDescription: str | None = None
    BodyPartExamined: str | None = None
    SeriesNumber: int | None = None
    AnnotationsFlag: str | None = None
    Collection: str | None = None
    Site: str | None = None
    PatientID: str | None = None
    PatientSex: str | None = None
    PatientAge: str | None = None
    AdmittingDiagnosisDescription: str | None = None
    Manufacturer: str | None = None
    ManufacturerModelName: str | None = None
    SoftwareVersions: str | None = None
    ImageCount: int | None = None
    MaxSubmissionTimestamp: str | None = None
    LicenseName: str | None = None
    LicenseURI: str | None = None
    DataDescriptionURI: str | None = None
    FileSize: int | None = None
    ReleasedStatus: str | None = None
    DateReleased: str | None = None
    StudyDesc: str | None = None
    StudyDate: str | None = None
    ThirdPartyAnalysis: str | None = None
    Authorized: int | None = None


class V4SeriesText(msgspec.Struct, gc=False):
    """The same rows with every number sent as a string."""

    SeriesInstanceUID: str | None = None
    StudyInstanceUID: str | None = None
    Modality: str | None = None
    ProtocolName: str | None = None
    SeriesDate: str | None = None
    SeriesDescription: str | None = None
    BodyPartExamined: str | None = None
    SeriesNumber: str | None = None
    AnnotationsFlag: str | None = None
    Collection: str | None = None
    Site: str | None = None
    PatientID: str | None = None
    PatientSex: str | None = None
    PatientAge: str | None = None
    AdmittingDiagnosisDescription: str | None = None
    Manufacturer: str | None = None
    ManufacturerModelName: str | None = None
    SoftwareVersions: str | None = None
    ImageCount: str | None = None
    MaxSubmissionTimestamp: str | None = None
    LicenseName: str | None = None
    LicenseURI: str | None = None
    DataDescriptionURI: str | None = None
    FileSize: str | None = None
    ReleasedStatus: str | None = None
    DateReleased: str | None = None
    StudyDesc: str | None = None
    StudyDate: str | None = None
    ThirdPartyAnalysis: str | None = None
    Authorized: str | None = None


class V3Series(msgspec.Struct, gc=False):
    """TCIA v3 getSeries: SeriesNumber DECIMAL text, ISO SeriesDate (msgspec parses those)."""

    SeriesInstanceUID: str | None = None
    StudyInstanceUID: str | None = None
    Modality: str | None = None
    ProtocolName: str | None = None
    SeriesDate: datetime.date | None = None
    SeriesDescription: str | None = None
    BodyPartExamined: str | None = None
    SeriesNumber: str | None = None
    AnnotationsFlag: bool | None = None
    Collection: str | None = None
    PatientID: str | None = None
    Manufacturer: str | None = None
    ManufacturerModelName: str | None = None
    SoftwareVersions: str | None = None
    ImageCount: int | None = None


DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "native": msgspec.json.Decoder(list[V4Series]),
    "text": msgspec.json.Decoder(list[V4SeriesText]),
    "v3": msgspec.json.Decoder(list[V3Series]),
}
