"""NBIA v4: every endpoint, sync and async, wire-exact; realistic bodies; v4's conventions."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tcia_sdk import BadRequestError, Download
from tcia_sdk._runtime import unstructure
from tcia_sdk.nbia_v4 import AsyncClient, Client, SeriesMetadata

from .cases import Case, call, sent_pairs

BASE = "https://nbia.cancerimagingarchive.net/nbia-api/services/v4"
UID = "1.3.6.1.4.1.14519.5.2.1.5168.1900.104193299251798317056218297018"
SOP = "1.3.6.1.4.1.14519.5.2.1.5168.1900.1"
DAY = datetime.date(2024, 1, 31)


def cases(samples: dict[str, Any]) -> list[Case]:
    s = lambda key: samples[key]["body"]  # noqa: E731
    counts = [{"Collection": "ACNS0332", "Count": 85, "Authorized": 1}]
    return [
        Case("get_collection_values", {}, "getCollectionValues", [], s("nbia_v1.getCollectionValues")),
        Case(
            "get_modality_values",
            {"collection": "ACNS0332", "body_part_examined": "BRAIN"},
            "getModalityValues",
            [("Collection", "ACNS0332"), ("BodyPartExamined", "BRAIN")],
            s("nbia_v2.getModalityValues"),
        ),
        Case(
            "get_body_part_values",
            {"collection": "ACNS0332", "modality": "MR"},
            "getBodyPartValues",
            [("Collection", "ACNS0332"), ("Modality", "MR")],
            s("nbia_v2.getBodyPartValues"),
        ),
        Case(
            "get_manufacturer_values",
            {"collection": "C", "modality": "CT", "body_part_examined": "CHEST"},
            "getManufacturerValues",
            [("Collection", "C"), ("Modality", "CT"), ("BodyPartExamined", "CHEST")],
            s("nbia_v1.getManufacturerValues"),
        ),
        Case(
            "get_patient",
            {"collection": "ACNS0332", "patient_id": "ACNS0332_PASFHY"},
            "getPatient",
            [("Collection", "ACNS0332"), ("PatientId", "ACNS0332_PASFHY")],
            s("v4.getPatient"),
        ),
        Case(
            "get_patient_by_collection_and_modality",
            {"collection": "C", "modality": "MR"},
            "getPatientByCollectionAndModality",
            [("Collection", "C"), ("Modality", "MR")],
            [{"PatientId": "P1", "Authorized": 1}],
        ),
        Case(
            "new_patients_in_collection",
            {"collection": "C", "from_date": DAY},
            "NewPatientsInCollection",
            [("Collection", "C"), ("fromDate", "01-31-2024")],
            s("v4.getPatient"),
        ),
        Case(
            "get_patient_study",
            {"collection": "ACNS0332", "patient_id": "ACNS0332_PARFPN", "study_instance_uid": "1.2"},
            "getPatientStudy",
            [("Collection", "ACNS0332"), ("PatientID", "ACNS0332_PARFPN"), ("StudyInstanceUID", "1.2")],
            s("v4.getPatientStudy"),
        ),
        Case(
            "new_studies_in_patient_collection",
            {"collection": "C", "patient_id": "P", "from_date": DAY},
            "NewStudiesInPatientCollection",
            [("Collection", "C"), ("PatientID", "P"), ("fromDate", "01-31-2024")],
            s("v4.getPatientStudy"),
        ),
        Case(
            "get_series",
            {
                "collection": "C",
                "patient_id": "P",
                "study_instance_uid": "1.2",
                "modality": "MR",
                "body_part_examined": "LEG",
                "manufacturer_model_name": "M",
                "manufacturer": "GE",
                "series_instance_uid": UID,
            },
            "getSeries",
            [
                ("Collection", "C"),
                ("PatientID", "P"),
                ("StudyInstanceUID", "1.2"),
                ("Modality", "MR"),
                ("BodyPartExamined", "LEG"),
                ("ManufacturerModelName", "M"),
                ("Manufacturer", "GE"),
                ("SeriesInstanceUID", UID),
            ],
            s("v4.getSeries"),
        ),
        Case(
            "get_updated_series",
            {"from_date": DAY},
            "getUpdatedSeries",
            [("fromDate", "01-31-2024")],
            s("v4.getSeries"),
        ),
        Case(
            "get_series_size",
            {"series_instance_uid": UID},
            "getSeriesSize",
            [("SeriesInstanceUID", UID)],
            s("v4.getSeriesSize"),
        ),
        Case(
            "get_sop_instance_uids",
            {"series_instance_uid": UID},
            "getSOPInstanceUIDs",
            [("SeriesInstanceUID", UID)],
            s("nbia_v1.getSOPInstanceUIDs"),
        ),
        Case(
            "get_series_metadata",
            {"series_instance_uids": [UID, "1.2.3"]},
            "getSeriesMetadata",
            [("list", f"{UID},1.2.3")],  # one comma-joined value: one query on the server
            samples["v4.getSeriesMetadata.csv_header"]["body_text"],
            http_method="POST",
            headers={"Content-Type": "text/csv"},
        ),
        Case("get_collection_values_and_counts", {}, "getCollectionValuesAndCounts", [], counts),
        Case(
            "get_modality_values_and_counts",
            {"collection": "ACNS0332", "body_part_examined": "BRAIN"},
            "getModalityValuesAndCounts",
            [("Collection", "ACNS0332"), ("BodyPartExamined", "BRAIN")],
            s("v4.getModalityValuesAndCounts"),
        ),
        Case(
            "get_body_part_values_and_counts",
            {"collection": "C", "modality": "MR"},
            "getBodyPartValuesAndCounts",
            [("Collection", "C"), ("Modality", "MR")],
            [{"BodyPart": "NOT SPECIFIED", "Count": 85, "Authorized": 1}],
        ),
        Case(
            "get_manufacturer_values_and_counts",
            {"collection": "C", "modality": "MR", "body_part_examined": "B"},
            "getManufacturerValuesAndCounts",
            [("Collection", "C"), ("Modality", "MR"), ("BodyPartExamined", "B")],
            [{"Manufacturer": "SIEMENS", "Count": 12, "Authorized": 1}],
        ),
        Case(
            "get_species_values_and_counts",
            {},
            "getSpeciesValuesAndCounts",
            [],
            # Species holds the SNOMED code, not its description (speciesQuery_v4).
            [{"Species": "337915000", "Count": 1010, "Authorized": 1}],
        ),
        Case(
            "get_collection_descriptions",
            {"collection_name": "Soft-tissue-Sarcoma"},
            "getCollectionDescriptions",
            [("collectionName", "Soft-tissue-Sarcoma")],
            s("adv.getCollectionDescriptions"),
        ),
        Case(
            "get_dicom_tags", {"series_uid": UID}, "getDicomTags", [("SeriesUID", UID)], s("adv.getDicomTags")
        ),
        Case(
            "get_collection_or_series_for_doi",
            {"doi": "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS", "collection_or_series": "series"},
            "getCollectionOrSeriesForDOI",
            [("DOI", "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS"), ("CollectionOrSeries", "series")],
            s("adv.getCollectionOrSeriesForDOI"),
            http_method="POST",
        ),
        Case(
            "get_manifest_for_collection",
            {"collection": "C", "include_annotation": True},
            "getManifestForCollection",
            [("collection", "C"), ("includeAnnotation", "true")],
            samples["adv.getManifestForSimpleSearch"]["body_text"],
            http_method="POST",
        ),
        Case(
            "get_manifest_from_patient_study_series",
            {"patient_ids": ["P1", "P2"], "series_uids": [UID]},
            "getManifestFromPatientStudySeries",
            # One comma-joined value each: the server keeps only the first of repeated values.
            [("patientIDs", "P1,P2"), ("seriesUIDs", UID)],
            samples["adv.getManifestForSimpleSearch"]["body_text"],
            http_method="POST",
        ),
        Case(
            "get_manifest_text",
            {"series_instance_uids": [UID], "include_annotation": False},
            "getManifestText",
            [("list", UID), ("includeAnnotation", "false")],
            samples["adv.getManifestForSimpleSearch"]["body_text"],
            http_method="POST",
        ),
    ]


def check(case: Case, result: Any) -> None:
    from tcia_sdk.nbia_v4 import ENDPOINTS

    endpoint = next(e for e in ENDPOINTS if e.python_name == case.method)
    body = case.body
    if endpoint.result == "text":
        assert result == body
    elif endpoint.body == "csv":
        assert result == []  # the sample is the header alone: no rows
    elif endpoint.result == "values":
        assert result == [row[endpoint.value_field] for row in body if endpoint.value_field in row]
    elif endpoint.result == "row":
        assert unstructure(result) == body[0]
    else:
        assert [unstructure(r) for r in result] == body


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_endpoint_wire_and_decoding(samples: dict[str, Any], mode: str) -> None:
    table = cases(samples)
    from tcia_sdk.nbia_v4 import ENDPOINTS

    from .test_v4_portal import cases as portal_cases

    typed = {e.python_name for e in ENDPOINTS if e.result not in ("binary", "page")}
    # getSeriesMetadataCombined's positional CSV has a test of its own in test_v4_portal.
    portal = {c.method for c in portal_cases()} | {"get_series_metadata_combined"}
    assert {c.method for c in table} | portal == typed  # every non-binary endpoint has a case
    for case in table:
        result, request = call(Client if mode == "sync" else AsyncClient, BASE, case, mode)
        assert request.method == case.http_method, case.method
        assert sent_pairs(request) == case.wire, case.method
        assert "authorization" not in request.headers
        check(case, result)


def test_series_fields_and_dates(samples: dict[str, Any]) -> None:
    case = Case("get_series", {}, "getSeries", [], samples["v4.getSeries"]["body"])
    (series,), _ = call(Client, BASE, case, "sync")
    assert series.series_date == datetime.date(2003, 12, 12)
    assert series.max_submission_timestamp == datetime.date(2015, 5, 27)
    assert series.data_description_uri == "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS"
    assert series.file_size == 25273786
    assert series.authorized == 1


def test_series_metadata_csv_is_parsed_into_typed_rows() -> None:
    columns = ["PatientID", "SeriesInstanceUID", "ImageCount", "FileSize", "AnnotationsFlag"]
    columns += ["PixelSpacing(mm)-Row", "SeriesNumber", "SliceThickness(mm)"]
    rows = [
        ["STS_010", "1.2.3", "48", "25273786", "false", "0.9375", "300.000000", "5.0"],
        # GROUP_CONCAT(DISTINCT ... SEPARATOR ', '): a series whose images differ.
        ["STS_011", "1.2.4", "", "", "1", "0.703125, 0.78125", "", "1.25, 2.5, 5.0"],
    ]
    text = "".join(",".join(f'"{cell}"' for cell in line) + "\n" for line in [columns, *rows])
    case = Case(
        "get_series_metadata",
        {"series_instance_uids": ["1.2.3", "1.2.4"]},
        "getSeriesMetadata",
        [("list", "1.2.3,1.2.4")],
        text,
        http_method="POST",
    )
    rows, request = call(Client, BASE, case, "sync")
    assert sent_pairs(request) == case.wire
    assert rows == [
        SeriesMetadata(
            patient_id="STS_010",
            series_instance_uid="1.2.3",
            image_count=48,
            file_size=25273786,
            annotations_flag=False,
            pixel_spacing_row_mm=(0.9375,),
            series_number=300,
            slice_thickness_mm=(5.0,),
        ),
        SeriesMetadata(
            patient_id="STS_011",
            series_instance_uid="1.2.4",
            annotations_flag=True,
            pixel_spacing_row_mm=(0.703125, 0.78125),
            slice_thickness_mm=(1.25, 2.5, 5.0),
        ),
    ]


def test_binary_endpoints(tmp_path: Path) -> None:
    zip_case = Case(
        "get_image",
        {"series_instance_uid": UID, "new_file_names": True, "include_md5": True, "to": tmp_path / "s.zip"},
        "getImage",
        [("SeriesInstanceUID", UID), ("NewFileNames", "Yes"), ("IncludeMD5", "yes")],
        b"PK\x03\x04zip",
        headers={"Content-Disposition": f'attachment; filename="{UID}.zip"'},
    )
    result, request = call(Client, BASE, zip_case, "sync")
    assert sent_pairs(request) == zip_case.wire
    assert isinstance(result, Download)
    assert result.filename == f"{UID}.zip"
    md5_case = Case(
        "get_image_with_md5_hash",
        {"series_instance_uid": UID, "to": tmp_path / "m.zip"},
        "getImageWithMD5Hash",
        [("SeriesInstanceUID", UID)],
        b"PK",
    )
    result, request = call(AsyncClient, BASE, md5_case, "async")
    assert (tmp_path / "m.zip").read_bytes() == b"PK"
    single = Case(
        "get_single_image",
        {"series_instance_uid": UID, "sop_instance_uid": SOP},
        "getSingleImage",
        [("SeriesInstanceUID", UID), ("SOPInstanceUID", SOP)],
        b"DICM",
    )
    data, request = call(Client, BASE, single, "sync")
    assert data == b"DICM"


def test_zero_length_200_is_no_results() -> None:
    with respx.mock() as router:
        router.get(path="/nbia-api/services/v4/getSeries").mock(return_value=httpx.Response(200, content=b""))
        router.get(path="/nbia-api/services/v4/getSeriesSize").mock(
            return_value=httpx.Response(200, content=b"")
        )
        with Client() as tcia:
            assert tcia.get_series(collection="nope") == []
            size = tcia.get_series_size(series_instance_uid="1.2")
    assert (size.total_size_in_bytes, size.object_count) == (None, None)


def test_unknown_parameter_400_keeps_the_server_sentence(samples: dict[str, Any]) -> None:
    sample = samples["v4.error.invalid_param"]
    with respx.mock() as router:
        router.get(path="/nbia-api/services/v4/getSeries").mock(
            return_value=httpx.Response(
                400, text=sample["body_text"], headers={"Content-Type": "application/json"}
            )
        )
        with Client() as tcia, pytest.raises(BadRequestError) as info:
            tcia.get_series(collection="TCGA-GBM", extra_query={"collection": "x"})
    assert info.value.server_message.startswith("Invalid query parameter: 'collection'.")


def test_series_metadata_from_a_server_before_2025_10_05_with_spaced_headers() -> None:
    # V4_getSeriesMetadata.java before 3ca30907: spaced names, "Project" and "Collection URI".
    header = ["Patient ID", "Series Instance UID", "Project", "Collection URI", "Pixel Spacing(mm)- Row"]
    row = ["STS_010", "1.2.3", "Soft-tissue-Sarcoma", "https://doi.org/10.7937/x", "0.9375"]
    text = ",".join(f'"{c}"' for c in header) + "\n" + ",".join(f'"{c}"' for c in row) + "\n"
    case = Case(
        "get_series_metadata", {"series_instance_uids": ["1.2.3"]}, "getSeriesMetadata", [], text, "POST"
    )
    (meta,), _ = call(Client, BASE, case, "sync")
    assert meta.series_instance_uid == "1.2.3"
    assert meta.collection == "Soft-tissue-Sarcoma"
    assert meta.data_description_uri == "https://doi.org/10.7937/x"
    assert meta.pixel_spacing_row_mm == (0.9375,)
    assert meta.additional_properties == {}


def test_series_metadata_csv_with_unknown_header_is_an_error() -> None:
    from tcia_sdk import ResponseDecodeError

    text = '"Subject","Series"\n"STS_010","1.2.3"\n'
    case = Case(
        "get_series_metadata", {"series_instance_uids": ["1.2.3"]}, "getSeriesMetadata", [], text, "POST"
    )
    with pytest.raises(ResponseDecodeError, match="none of the SeriesMetadata columns"):
        call(Client, BASE, case, "sync")


VALUES_AND_COUNTS = [
    ("get_collection_values_and_counts", "getCollectionValuesAndCounts", {}),
    ("get_modality_values_and_counts", "getModalityValuesAndCounts", {"collection": "C"}),
    ("get_body_part_values_and_counts", "getBodyPartValuesAndCounts", {"collection": "C"}),
    ("get_manufacturer_values_and_counts", "getManufacturerValuesAndCounts", {"collection": "C"}),
    ("get_species_values_and_counts", "getSpeciesValuesAndCounts", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), VALUES_AND_COUNTS)
def test_values_and_counts_take_no_format(method: str, path: str, kwargs: dict[str, Any]) -> None:
    # Three of the five answer format= with 400, two ignore it and send JSON (server truth A3).
    from tcia_sdk.nbia_v4 import ENDPOINTS

    endpoint = next(e for e in ENDPOINTS if e.name == path)
    assert endpoint.format_param is None
    with Client(base_url=BASE) as tcia, pytest.raises(TypeError, match="format"):
        getattr(tcia, method)(format="csv", **kwargs)
    body = [{"Species": "337915000", "Count": 1, "Authorized": 1}] if "Species" in path else []
    _, request = call(Client, BASE, Case(method, kwargs, path, [], body), "sync")
    assert "format" not in request.url.params


def test_series_metadata_beyond_the_chunk_goes_in_several_comma_joined_lists() -> None:
    from tcia_sdk.nbia_v4._endpoints import GET_SERIES_METADATA

    (param,) = GET_SERIES_METADATA.params
    chunk = param.chunk
    assert chunk == 10000  # tcia-utils' getSeriesList chunk
    uids = [f"1.2.840.{i}" for i in range(2 * chunk + 3)]

    def answer(request: httpx.Request) -> httpx.Response:
        (sent,) = httpx.QueryParams(request.content.decode()).get_list("list")
        rows = [f'"{uid}","P"' for uid in sent.split(",")]
        return httpx.Response(200, text='"SeriesInstanceUID","PatientID"\n' + "\n".join(rows) + "\n")

    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{BASE}/getSeriesMetadata").mock(side_effect=answer)
        with Client(base_url=BASE) as tcia:
            rows = tcia.get_series_metadata(series_instance_uids=uids)
    sent = [httpx.QueryParams(c.request.content.decode()).get_list("list") for c in route.calls]
    assert [len(values) for values in sent] == [1, 1, 1]  # one comma-joined value per request
    assert [len(values[0].split(",")) for values in sent] == [chunk, chunk, 3]
    assert [u for values in sent for u in values[0].split(",")] == uids
    assert [r.series_instance_uid for r in rows] == uids  # every chunk's rows, in order
