"""Answers the fake builds from its dataset for the portal-style endpoints, by the spec's ``content``.

Row endpoints need no code: the dataset is filtered by the request and projected onto the model.
The answers here have shapes of their own (a search summary, a tree, a drill-down, a JPEG, a text);
each is keyed by the content kind a spec declares, never by an endpoint name, and follows what the
server source does (spec/docs/nbia-v4-server-notes.md), quirks included: a page past the end is a
500, a restriction answer is "yes"/"no" under two different content types, an unknown image's MD5
is an empty 200.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._runtime.endpoint import Endpoint, Param
from ._dataset import Instance, SeriesData
from ._http import Request, Response
from ._render import json_response, project, style_of

if TYPE_CHECKING:
    from ._fake import FakeTCIA

Values = Mapping[str, list[str]]
Answer = Callable[["FakeTCIA", Endpoint, Values, Request], Response]
ANSWERS: dict[str, Answer] = {}

SERVER_FAILED = b"Server was not able to process your request"
MANIFEST_HEADER = (
    "downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet",
    "includeAnnotation={annotation}",
    "noOfrRetry=4",
    "databasketId=manifest-{millis}.tcia",
    "manifestVersion=3.0",
    "ListOfSeriesToDownload=",
)
# A 1x1 baseline JPEG: what CTP's thumbnails are, in miniature.
THUMBNAIL = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f"
    "141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101"
    "011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403"
    "050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a1617"
    "18191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a83"
    "8485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7"
    "d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def answer(kind: str) -> Callable[[Answer], Answer]:
    def register(fn: Answer) -> Answer:
        ANSWERS[kind] = fn
        return fn

    return register


def failed(message: str = "null") -> Response:
    """NBIA's UncaughtException mapper: 500 text/plain with the exception's message."""
    return Response(500, SERVER_FAILED + b"\n" + message.encode(), {"Content-Type": "text/plain"})


def text(body: str, content_type: str) -> Response:
    return Response(200, body.encode(), {"Content-Type": content_type})


def _first(values: Values, key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _ints(values: Values, key: str) -> list[int] | None:
    try:
        return [int(v) for v in values.get(key, [])]
    except ValueError:
        return None


# -- simple search -------------------------------------------------------------------------------
def _criteria(endpoint: Endpoint, values: Values) -> list[tuple[Param, dict[str, str]]] | None:
    """The request's criteria, read as the server does: criteriaType0, 1, ... up to the first gap,
    unknown kinds skipped; None when a companion key is missing (the server's NPE)."""
    kinds = {p.criterion.lower(): p for p in endpoint.params if p.criterion}
    type_key = next((p.type_key for p in endpoint.params if p.type_key), None)
    if type_key is None:
        return []
    out = []
    index = 0
    while (kind := _first(values, type_key.format(i=index))) is not None:
        param = kinds.get(kind.lower())
        if param is not None:
            given = {role: _first(values, key.format(i=index)) for role, key in param.criterion_keys}
            if any(v is None for v in given.values()):
                return None
            out.append((param, {k: v for k, v in given.items() if v is not None}))
        index += 1
    return out


def _like(value: object, wanted: Sequence[str]) -> bool:
    text = str(value).upper()
    return any(fnmatch.fnmatchcase(text, w.upper()) if "*" in w else text == w.upper() for w in wanted)


def _search(fake: FakeTCIA, endpoint: Endpoint, values: Values) -> list[SeriesData] | None:
    """The series matching the criteria (None: a request the server fails on)."""
    criteria = _criteria(endpoint, values)
    if criteria is None:
        return None
    grouped: dict[str, list[str]] = defaultdict(list)
    singles: dict[str, dict[str, str]] = {}
    by_kind: dict[str, Param] = {}
    for param, given in criteria:
        by_kind[param.criterion or ""] = param
        if "value" in given and param.many:
            grouped[param.criterion or ""].append(given["value"])
        else:
            singles[param.criterion or ""] = given  # single-valued kinds: the last index wins
    if "ModalityAndedSearchCriteria" in singles and "ImageModalityCriteria" not in grouped:
        return None  # the server's NPE
    selected: list[SeriesData] = []
    for series in fake.dataset:
        row = series.row
        if not all(
            _like(row.get(by_kind[k].matches or ""), v)
            for k, v in grouped.items()
            if k != "ImageModalityCriteria" or "ModalityAndedSearchCriteria" not in singles
        ):
            continue
        if not _singles_match(series, singles, by_kind):
            continue
        selected.append(series)
    if "ModalityAndedSearchCriteria" in singles:
        wanted = {m.upper() for m in grouped["ImageModalityCriteria"]}
        patients = {s.row["PatientID"] for s in selected}
        keep = {
            p for p in patients if wanted <= {s.row["Modality"] for s in selected if s.row["PatientID"] == p}
        }
        selected = [s for s in selected if s.row["PatientID"] in keep and s.row["Modality"] in wanted]
    for kind, minimum in (
        ("MinNumberOfStudiesCriteria", "StudyInstanceUID"),
        ("MinNumberOfStudyDatesCriteria", "StudyDate"),
    ):
        if kind in singles:
            more_than = int(singles[kind]["value"])
            counts: dict[str, set[object]] = defaultdict(set)
            for s in selected:
                counts[s.row["PatientID"]].add(s.row[minimum])
            selected = [s for s in selected if len(counts[s.row["PatientID"]]) > more_than]
    return selected


def _singles_match(
    series: SeriesData, singles: Mapping[str, Mapping[str, str]], by_kind: Mapping[str, Param]
) -> bool:
    row = series.row
    for kind, given in singles.items():
        param = by_kind[kind]
        if "from" in given:
            if param.type == "date":
                first, last = (dt.datetime.strptime(given[k], "%m-%d-%Y").date() for k in ("from", "to"))
                if not first <= row[param.matches or "DateReleased"] <= last:
                    return False
            elif kind == "PatientAgeRangeCriteria":
                age = int(re.sub(r"\D", "", str(row.get("PatientAge", "0"))) or 0)
                if not float(given["from"]) <= age <= float(given["to"]):
                    return False
            else:
                attribute = "pixel_spacing" if kind == "PixelSpacingRangeCriteria" else "slice_thickness"
                low, high = float(given["from"]), float(given["to"])
                if not any(low <= (getattr(i, attribute) or -1) <= high for i in series.instances):
                    return False
        elif kind == "DescriptionCriteria":
            words = [w.replace("*", "") for w in given["value"].upper().split()]
            texts = " ".join(
                str(row.get(k, "")) for k in ("StudyDescription", "SeriesDescription", "ProtocolName")
            )
            if not any(w in texts.upper() for w in words):
                return False
        elif kind == "PhantomCriteria":
            phantom = row.get("Phantom") == "YES"
            if (given["value"] == "1" and phantom) or (given["value"] == "2" and not phantom):
                return False
        elif kind == "ThirdPartyAnalysis":
            if str(row.get("ThirdPartyAnalysis") or "NO").upper() != given["value"].upper():
                return False
        elif (
            kind == "ExcludeCommercialCriteria"
            and given["value"].upper() == "YES"
            and row.get("ExcludeCommercial") == "YES"
        ):
            return False
    return True


def _page_args(values: Values) -> tuple[int, int, str, str] | None:
    try:
        start, size = int(_first(values, "start") or ""), int(_first(values, "size") or "")
    except ValueError:
        return None
    field, direction = _first(values, "sortField"), _first(values, "sortDirection")
    if field is None or direction is None:
        return None
    return start, size, field, direction


def _facet(series: Sequence[SeriesData], key: str, blank: str | None = None) -> list[dict[str, Any]]:
    patients: dict[str, set[str]] = defaultdict(set)
    for s in series:
        value = s.row.get(key) or blank
        if value is not None:
            patients[str(value)].add(s.row["PatientID"])
    return [{"value": v, "count": len(p)} for v, p in patients.items()]


@answer("patient-search")
def patient_search(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    selected = _search(fake, endpoint, values)
    paging = _page_args(values)
    if selected is None or paging is None:
        return failed()
    start, size, sort_field, direction = paging
    by_patient: dict[str, list[SeriesData]] = defaultdict(list)
    for s in selected:
        by_patient[s.row["PatientID"]].append(s)
    results = []
    for patient, series in by_patient.items():
        studies: dict[str, list[SeriesData]] = defaultdict(list)
        for s in series:
            studies[s.row["StudyInstanceUID"]].append(s)
        every = [s for s in fake.dataset if s.row["PatientID"] == patient]
        results.append(
            {
                "subjectId": patient,
                "project": series[0].row["Collection"],
                "id": series[0].patient_pk,
                "modalities": sorted({s.row["Modality"] for s in series}),
                "bodyParts": sorted({s.row["BodyPartExamined"] or "" for s in series}),
                "species": sorted({s.row["SpeciesCode"] for s in series}),
                "timepoints": _timepoints(series),
                "totalNumberOfStudies": len({s.row["StudyInstanceUID"] for s in every}),
                "totalNumberOfSeries": len(every),
                "authorized": 1,
                "studyIdentifiers": [
                    {
                        "seriesIdentifiers": [s.pk for s in group],
                        "seriesAndModality": [],
                        "studyIdentifier": group[0].study_pk,
                    }
                    for group in studies.values()
                ],
            }
        )
    key: Callable[[dict[str, Any]], Any] = {
        "subject": lambda r: r["subjectId"],
        "study": lambda r: len(r["studyIdentifiers"]),
        "series": lambda r: sum(len(s["seriesIdentifiers"]) for s in r["studyIdentifiers"]),
        "totalnumberofstudies": lambda r: r["totalNumberOfStudies"],
        "totalnumberofseries": lambda r: r["totalNumberOfSeries"],
    }.get(sort_field.lower(), lambda r: r["project"])
    results.sort(key=key, reverse=direction.lower() != "ascending")
    total = len(results)
    if start > total or start < 0 or size < 0:
        return failed("Index out of bounds")  # the server's subList: a page past the end fails
    summary = {
        "resultSet": results[start : start + size],
        "totalPatients": total,
        "bodyParts": _facet(selected, "BodyPartExamined", "NOT SPECIFIED"),
        "modalities": _facet(selected, "Modality"),
        "collections": _facet(selected, "Collection"),
        "species": _facet(selected, "SpeciesCode"),
        "maxTimepoints": {k: max(v) for k, v in _timepoints(selected).items()},
        "minTimepoints": {k: min(v) for k, v in _timepoints(selected).items()},
        "sort": f"{sort_field}-{direction}",
    }
    return json_response(summary, "jackson_non_null")


def _timepoints(series: Sequence[SeriesData]) -> dict[str, list[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for s in series:
        event = s.row.get("LongitudinalTemporalEventType")
        offset = s.row.get("LongitudinalTemporalOffsetFromEvent")
        if event and offset is not None:
            out[event].add(int(offset))
    return {k: sorted(v) for k, v in out.items()}


@answer("search-manifest")
def search_manifest(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    selected = _search(fake, endpoint, values)
    if selected is None or _page_args(values) is None:
        return failed()
    header = [line.format(annotation="false", millis="1700000000000") for line in MANIFEST_HEADER]
    body = "\n".join(header + [s.uid for s in selected]) + "\n"
    return text(body, "application/x-nbia-manifest-file")


@answer("search-restrictions")
def search_restrictions(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    selected = _search(fake, endpoint, values)
    if selected is None or _page_args(values) is None:
        return failed()
    if any(s.row.get("ExcludeCommercial") == "YES" for s in selected):
        return text("yes", "application/text")
    return text("no", "application/x-nbia-manifest-file")  # sic: the server labels "no" so


# -- images and hashes ---------------------------------------------------------------------------
def _instance(fake: FakeTCIA, sop: str | None) -> tuple[SeriesData, Instance] | None:
    for series in fake.dataset:
        for instance in series.instances:
            if instance.sop_instance_uid == sop:
                return series, instance
    return None


@answer("thumbnail")
def thumbnail(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    found = _instance(fake, _first(values, "objectUID"))
    if found is None or found[0].uid != _first(values, "seriesUID"):
        return failed()  # the server answers anything missing with a 500
    return Response(200, THUMBNAIL, {"Content-Type": "image/jpeg"})


@answer("image-md5")
def image_md5(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    found = _instance(fake, _first(values, "SOPInstanceUID"))
    return text(found[1].md5 if found else "", "text/plain")  # unknown: an empty 200


def _md5(parts: Sequence[str]) -> str:
    return hashlib.md5("".join(sorted(parts)).encode()).hexdigest()


@answer("md5-hierarchy")
def md5_hierarchy(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    def series_hash(s: SeriesData) -> str:
        return _md5([i.md5 for i in s.instances])

    def study_hash(uid: str) -> str:
        return _md5([series_hash(s) for s in fake.dataset if s.row["StudyInstanceUID"] == uid])

    series_uid, study_uid = _first(values, "SeriesInstanceUID"), _first(values, "StudyInstanceUID")
    patient, collection = _first(values, "PatientID"), _first(values, "Collection")
    result = ""
    # Evaluated series, study, patient, collection: the last level given wins; a patient needs the
    # collection too (the server's query joins both).
    if series_uid:
        found = [s for s in fake.dataset if s.uid == series_uid]
        result = series_hash(found[0]) if found else ""
    if study_uid:
        known = any(s.row["StudyInstanceUID"] == study_uid for s in fake.dataset)
        result = study_hash(study_uid) if known else ""
    if patient:
        studies = {
            s.row["StudyInstanceUID"]
            for s in fake.dataset
            if s.row["PatientID"] == patient and s.row["Collection"] == collection
        }
        result = _md5([study_hash(u) for u in studies]) if studies else ""
    elif collection:
        members = [s for s in fake.dataset if s.row["Collection"].upper() == collection.upper()]
        result = _md5([series_hash(s) for s in members]) if members else ""
    return text(result, "text/plain")


DICOM_NAMES = {  # what NCIADicomTextObject names the attributes the fake's files hold
    "SOPClassUID": "SOP Class UID",
    "SOPInstanceUID": "SOP Instance UID",
    "StudyDate": "Study Date",
    "SeriesDate": "Series Date",
    "Modality": "Modality",
    "Manufacturer": "Manufacturer",
    "StudyDescription": "Study Description",
    "SeriesDescription": "Series Description",
    "PatientName": "Patient's Name",
    "PatientID": "Patient ID",
    "PatientSex": "Patient's Sex",
    "BodyPartExamined": "Body Part Examined",
    "SliceThickness": "Slice Thickness",
    "StudyInstanceUID": "Study Instance UID",
    "SeriesInstanceUID": "Series Instance UID",
    "StudyID": "Study ID",
    "SeriesNumber": "Series Number",
    "InstanceNumber": "Instance Number",
    "PixelSpacing": "Pixel Spacing",
}


def _tags(instance: Instance) -> list[dict[str, Any]]:
    from ._dicom import KEYWORDS

    rows = []
    for keyword, tag in sorted(KEYWORDS.items(), key=lambda item: item[1]):
        if keyword in instance.attributes:
            element = f"({tag[0]:04X},{tag[1]:04X})"
            rows.append(
                {
                    "element": element,
                    "name": DICOM_NAMES.get(keyword, keyword),
                    "data": str(instance.attributes[keyword]),
                }
            )
    return rows


@answer("dicom-tags")
def dicom_tags(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    uid = _first(values, "SeriesUID")
    series = next((s for s in fake.dataset if s.uid == uid), None)
    if series is None:  # isUserHasAccess is false for an unknown series
        return Response(
            400,
            f"The user has not been granted the access to image with given SeriesInstanceUID,{uid}.".encode(),
            {"Content-Type": "application/json"},
        )
    return json_response(_tags(series.instances[0]), style_of(endpoint))


@answer("image-dicom-tags")
def image_dicom_tags(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    pks = _ints(values, "imageID")
    found = [(s, i) for s in fake.dataset for i in s.instances if pks and i.pk == pks[0]]
    if not found:
        return Response(500, SERVER_FAILED + b" image not found", {})
    return json_response(_tags(found[0][1]), style_of(endpoint))


# -- portal helpers -------------------------------------------------------------------------------
@answer("timepoint-range")
def timepoint_range(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    points = _timepoints(fake.dataset)
    body = {
        "maxTimepoints": {k: max(v) for k, v in points.items()},
        "minTimepoints": {k: min(v) for k, v in points.items()},
    }
    return json_response(body, style_of(endpoint))


@answer("manufacturer-tree")
def manufacturer_tree(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    def node(criteria: str, value: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        return {"data": {"criteria": criteria, "value": value}, "children": children}

    tree: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for s in fake.dataset:
        row = s.row
        if row.get("Manufacturer") and row.get("ManufacturerModelName") and row.get("SoftwareVersions"):
            tree[row["Manufacturer"]][row["ManufacturerModelName"]].add(row["SoftwareVersions"])
    manufacturers = [
        node(
            "Manufacturer",
            m,
            [
                node("Model", model, [node("Software Ver.", v, []) for v in sorted(vs)])
                for model, vs in models.items()
            ],
        )
        for m, models in tree.items()
    ]
    return json_response(node("root", "All Manufactures", manufacturers), style_of(endpoint))


@answer("collection-sites")
def collection_sites(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    pairs = list(dict.fromkeys(f"{s.row['Collection']}//{s.row['Site']}" for s in fake.dataset))
    return json_response(pairs, style_of(endpoint))


@answer("series-sites")
def series_sites(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    wanted = set(values.get("seriesId", []))
    collections = {s.row["Collection"] for s in fake.dataset if s.uid in wanted}
    if len(collections) != 1:
        return json_response([], style_of(endpoint))
    (collection,) = collections
    sites = list(dict.fromkeys(s.row["Site"] for s in fake.dataset if s.row["Collection"] == collection))
    return json_response(sites, style_of(endpoint))


# -- drill-downs ------------------------------------------------------------------------------------
# SeriesDTO properties getCartData never fills: Jackson writes them as null (dates) or "" (strings).
NULL_SERIES_KEYS = (
    "maxFrameCount", "studyDate", "dateReleased", "seriesDate", "maxSubmissionTimestamp", "protocolName",
    "softwareVersions", "studyDesc", "study_id", "dataProvenanceSiteName", "manufacturerModelName",
    "softwareVersion", "sopClassUID", "licenseName", "licenseUrl",
)  # fmt: skip
EMPTY_SERIES_KEYS = (
    "studyDateString",
    "dateReleasedString",
    "seriesDateString",
    "maxSubmissionTimestampString",
)


def _drill_series(s: SeriesData) -> dict[str, Any]:
    row = s.row
    size = sum(len(i.data) for i in s.instances)
    return {
        "seriesUID": s.uid,
        "seriesPkId": s.pk,
        "seriesNumber": f"{row['SeriesNumber']}.000000",  # a DECIMAL(22,6) as text
        "modality": row["Modality"],
        "description": row["SeriesDescription"],
        "numberImages": len(s.instances),
        "totalSizeForAllImagesInSeries": size,
        "exactSize": size,
        "annotationsFlag": True,  # true whenever the column is not NULL, as the server reads it
        "annotationsSize": 0,
        "patientId": row["PatientID"],
        "patientPkId": str(s.patient_pk),
        "studyId": row["StudyInstanceUID"],
        "studyPkId": s.study_pk,
        "project": row["Collection"],
        "manufacturer": row["Manufacturer"],
        "bodyPartExamined": row["BodyPartExamined"],
        "thirdPartyAnalysis": row["ThirdPartyAnalysis"],
        "descriptionURI": row["DataDescriptionURI"],
        "commercialRestrictions": False,
        "seriesId": s.uid,
        **dict.fromkeys(NULL_SERIES_KEYS),
        **dict.fromkeys(EMPTY_SERIES_KEYS, ""),
    }


def _studies(series: Sequence[SeriesData]) -> list[dict[str, Any]]:
    grouped: dict[str, list[SeriesData]] = defaultdict(list)
    for s in series:
        grouped[s.row["StudyInstanceUID"]].append(s)
    out = []
    for uid, members in sorted(grouped.items(), key=lambda item: item[1][0].row["StudyDate"]):
        row = members[0].row
        out.append(
            {
                "studyId": uid,
                "date": row["StudyDate"].strftime("%m-%d-%Y"),
                "description": row["StudyDescription"],
                "id": members[0].study_pk,
                "study_id": row["StudyID"],
                "excludeCommercial": "YES"
                if any(m.row.get("ExcludeCommercial") == "YES" for m in members)
                else None,
                "seriesList": [
                    _drill_series(m) for m in sorted(members, key=lambda m: str(m.row["SeriesNumber"]))
                ],
            }
        )
    return out


@answer("drill-down-studies")
def drill_down_studies(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    keys = values.get("list", [])
    param = next(p for p in endpoint.params if p.wire == "list")
    if param.type == "int":
        pks = _ints(values, "list")
        if pks is None:
            return failed("For input string")  # Integer.valueOf on a non-number
        series = [s for s in fake.dataset if s.pk in pks]
    else:
        series = [s for s in fake.dataset if s.uid in keys]
    return json_response(_studies(series), style_of(endpoint))


@answer("drill-down-images")
def drill_down_images(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    pks = _ints(values, "list")
    if not pks:
        return failed("SQL syntax error")  # an empty IN ()
    images = []
    for s in fake.dataset:
        if s.pk in pks:
            for i in s.instances:
                images.append(
                    {
                        "imagePkId": i.pk,
                        "contentDate": s.row["SeriesDate"].strftime("%m-%d-%Y"),
                        "contentTime": "120000",
                        "seriesPkId": s.pk,
                        "instanceNumber": i.number,
                        "sopInstanceUid": i.sop_instance_uid,
                        "seriesInstanceUid": s.uid,
                        "studyInstanceUid": s.row["StudyInstanceUID"],
                        "size": len(i.data),
                        "fileURI": f"/fake/storage/{s.uid}/{i.stored_name}",
                        "project": None,
                        "siteName": None,
                        "frameNum": 0,
                        "acquisitionNumber": i.number,
                    }
                )
    images.sort(key=lambda image: image["instanceNumber"])
    return json_response(images, style_of(endpoint))


@answer("patient-counts")
def patient_counts(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    """The *ValuesAndCounts answers: the model's first field, with its number of distinct patients."""
    assert endpoint.model is not None
    key = endpoint.model.fields[0].wire
    rows = fake.select(endpoint.params, values)
    patients: dict[Any, set[str]] = defaultdict(set)
    for row in rows:
        value = row.get(key)
        if value is None and key == "BodyPart":
            value = "NOT SPECIFIED"  # the server reports NULL body parts so
        if value is not None:
            patients[value].add(row["PatientID"])
    counted = [{key: value, "Count": len(p), "Authorized": 1} for value, p in patients.items()]
    if not counted:
        return Response(200, b"", {})
    return json_response(project(endpoint.model.fields, counted, style_of(endpoint)), style_of(endpoint))


@answer("server-error")
def server_error(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    """An endpoint the live server fails on whatever it is asked (a query it cannot run)."""
    return failed("could not extract ResultSet")


# -- shared carts ---------------------------------------------------------------------------------
def _user(request: Request) -> str | None:
    """The Advanced API's user: None without an Authorization header (the server's NPE)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    token = header.removeprefix("Bearer ")
    return "nbia_guest" if token in ("", "undefined") else f"user-of-{token}"


@answer("shared-list-create")
def shared_list_create(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    user = _user(request)
    name, uids = _first(values, "name"), values.get("list", [])
    if user is None or not name or not uids:
        return failed()
    known = {s.uid for s in fake.dataset}
    if any(uid not in known for uid in uids):
        return Response(
            400, b"User does not have permission for all series in list", {"Content-Type": "text/plain"}
        )
    if name.strip().lower() in {n.lower() for n in fake.shared_lists}:
        return Response(400, b"Duplicate list name", {"Content-Type": "text/plain"})
    fake.shared_lists[name.strip()] = {
        "name": name.strip(),
        "comment": _first(values, "description") or "",
        "hyperlink": _first(values, "url") or "",
        "date": 1727098200000,
        "id": 5000 + len(fake.shared_lists),
        "userName": user,
        "seriesInstanceUIDs": list(dict.fromkeys(uids)),
        "seriesInstanceUidsList": None,
        "usageCount": None,
        "dateString": "2024-09-23",
    }
    return text("List created", "text/plain")


def _list_named(fake: FakeTCIA, name: str | None) -> dict[str, Any] | None:
    wanted = (name or "").strip().lower()
    return next((v for k, v in fake.shared_lists.items() if k.lower() == wanted), None)


@answer("shared-list")
def shared_list(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    return json_response(_list_named(fake, _first(values, "nameValue")), style_of(endpoint))  # null: unknown


@answer("shared-list-delete")
def shared_list_delete(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    user = _user(request)
    if user is None:
        return failed()
    found = _list_named(fake, _first(values, "name"))
    if found is None:
        return Response(400, b"List name not found", {"Content-Type": "text/plain"})
    if found["userName"] != user:
        return Response(400, b"Only the owner can delete a list", {"Content-Type": "text/plain"})
    del fake.shared_lists[found["name"]]
    return text("List deleted", "text/plain")


@answer("shared-list-contents")
def shared_list_contents(fake: FakeTCIA, endpoint: Endpoint, values: Values, request: Request) -> Response:
    found = _list_named(fake, _first(values, "name"))
    if found is None:
        return Response(200, b"", {})  # an unknown cart: an empty 200
    rows = [s.row for s in fake.dataset if s.uid in found["seriesInstanceUIDs"]]
    assert endpoint.model is not None
    return json_response(project(endpoint.model.fields, rows, style_of(endpoint)), style_of(endpoint))
