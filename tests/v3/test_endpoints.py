"""Every v3 endpoint, sync and async: the exact wire request and the decoding of realistic bodies."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tcia_sdk import Download
from tcia_sdk._runtime import unstructure
from tcia_sdk.v3 import AsyncClient, Client, Patient, PatientStudy, Series, SeriesSize

BASE = "https://services.cancerimagingarchive.net/services/v3"
KEY = "a9312dfe-4465-4e0b-8b76-8eeab0b77ce5"
UID = "1.3.6.1.4.1.14519.5.2.1.3344.4002.298037359751562809791703106256"
SOP = "1.3.6.1.4.1.14519.5.2.1.3344.4002.113224119964450170072494597907"


@dataclass
class Case:
    method: str
    kwargs: dict[str, Any]
    path: str
    query: list[tuple[str, str]]
    sample: str
    model: type | None = None
    values_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "get_collection_values",
        {},
        "TCIA/query/getCollectionValues",
        [("format", "json")],
        "v3.getCollectionValues",
        values_of="Collection",
    ),
    Case(
        "get_modality_values",
        {"collection": "TCGA-BRCA", "body_part_examined": "BREAST"},
        "TCIA/query/getModalityValues",
        [("Collection", "TCGA-BRCA"), ("BodyPartExamined", "BREAST"), ("format", "json")],
        "v3.getModalityValues",
        values_of="Modality",
    ),
    Case(
        "get_body_part_values",
        {"collection": "TCGA-BRCA", "modality": "MR"},
        "TCIA/query/getBodyPartValues",
        [("Collection", "TCGA-BRCA"), ("Modality", "MR"), ("format", "json")],
        "v3.getBodyPartValues",
        values_of="BodyPartExamined",
    ),
    Case(
        "get_manufacturer_values",
        {"collection": "TCGA-BRCA", "modality": "MR", "body_part_examined": "BREAST"},
        "TCIA/query/getManufacturerValues",
        [("Collection", "TCGA-BRCA"), ("Modality", "MR"), ("BodyPartExamined", "BREAST"), ("format", "json")],
        "v3.getManufacturerValues",
        values_of="Manufacturer",
    ),
    Case(
        "get_patient",
        {"collection": "TCGA-BRCA"},
        "TCIA/query/getPatient",
        [("Collection", "TCGA-BRCA"), ("format", "json")],
        "v3.getPatient",
        model=Patient,
    ),
    Case(
        "patients_by_modality",
        {"collection": "TCGA-BRCA", "modality": "MR"},
        "TCIA/query/PatientsByModality",
        [("Collection", "TCGA-BRCA"), ("Modality", "MR"), ("format", "json")],
        "v3.PatientsByModality",
        model=Patient,
    ),
    Case(
        "get_patient_study",
        {"collection": "TCGA-BRCA", "patient_id": "TCGA-AR-A1AQ", "study_instance_uid": "1.2.3"},
        "TCIA/query/getPatientStudy",
        [
            ("Collection", "TCGA-BRCA"),
            ("PatientID", "TCGA-AR-A1AQ"),
            ("StudyInstanceUID", "1.2.3"),
            ("format", "json"),
        ],
        "v3.getPatientStudy",
        model=PatientStudy,
    ),
    Case(
        "get_series",
        {
            "collection": "TCGA-BRCA",
            "study_instance_uid": "1.2",
            "patient_id": "TCGA-AR-A1AQ",
            "series_instance_uid": UID,
            "modality": "MR",
            "body_part_examined": "BREAST",
            "manufacturer_model_name": "SIGNA EXCITE",
            "manufacturer": "GE MEDICAL SYSTEMS",
        },
        "TCIA/query/getSeries",
        [
            ("Collection", "TCGA-BRCA"),
            ("StudyInstanceUID", "1.2"),
            ("PatientID", "TCGA-AR-A1AQ"),
            ("SeriesInstanceUID", UID),
            ("Modality", "MR"),
            ("BodyPartExamined", "BREAST"),
            ("ManufacturerModelName", "SIGNA EXCITE"),
            ("Manufacturer", "GE MEDICAL SYSTEMS"),
            ("format", "json"),
        ],
        "v3.getSeries",
        model=Series,
    ),
    Case(
        "get_series_size",
        {"series_instance_uid": UID},
        "TCIA/query/getSeriesSize",
        [("SeriesInstanceUID", UID), ("format", "json")],
        "v3.getSeriesSize",
        model=SeriesSize,
    ),
    Case(
        "get_sop_instance_uids",
        {"series_instance_uid": UID},
        "TCIA/query/getSOPInstanceUIDs",
        [("SeriesInstanceUID", UID), ("format", "json")],
        "v3.getSOPInstanceUIDs",
        values_of="SOPInstanceUID",
    ),
    Case(
        "new_patients_in_collection",
        {"date": datetime.date(2014, 1, 1), "collection": "TCGA-BRCA"},
        "TCIA/query/NewPatientsInCollection",
        [("Date", "2014-01-01"), ("Collection", "TCGA-BRCA"), ("format", "json")],
        "v3.NewPatientsInCollection",
        model=Patient,
    ),
    Case(
        "new_studies_in_patient_collection",
        {"date": datetime.date(2014, 1, 1), "collection": "TCGA-BRCA", "patient_id": "TCGA-OL-A66O"},
        "TCIA/query/NewStudiesInPatientCollection",
        [
            ("Date", "2014-01-01"),
            ("Collection", "TCGA-BRCA"),
            ("PatientID", "TCGA-OL-A66O"),
            ("format", "json"),
        ],
        "v3.NewStudiesInPatientCollection",
        model=PatientStudy,
    ),
    Case(
        "contents_by_name",
        {"name": "sharedListApiUnitTest"},
        "SharedList/query/ContentsByName",
        [("name", "sharedListApiUnitTest"), ("format", "json")],
        "v3.SharedList.ContentsByName",
        model=Series,
    ),
]


def _check_decoded(case: Case, body: Any, result: Any) -> None:
    if case.values_of is not None:
        assert result == [row[case.values_of] for row in body]
    elif case.model is SeriesSize:
        assert isinstance(result, SeriesSize)
        assert result.total_size_in_bytes == int(body[0]["TotalSizeInBytes"])
        assert result.object_count == body[0]["ObjectCount"]
    else:
        assert all(isinstance(item, case.model) for item in result)
        # Back to the wire: every key the server sent, no more, with its value.
        assert [unstructure(item) for item in result] == body


def _assert_wire(request: httpx.Request, case: Case) -> None:
    assert request.method == "GET"
    assert request.url.path == f"/services/v3/{case.path}"
    assert request.url.params.multi_items() == case.query
    assert request.headers["api_key"] == KEY
    assert "api_key" not in str(request.url)
    assert request.headers["user-agent"].startswith("tcia-sdk/")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
def test_sync_request_and_decoding(case: Case, samples: dict[str, Any]) -> None:
    body = samples[case.sample]["body"]
    with respx.mock(assert_all_called=True) as router:
        route = router.get(path=f"/services/v3/{case.path}").mock(return_value=httpx.Response(200, json=body))
        with Client(api_key=KEY) as tcia:
            result = getattr(tcia, case.method)(**case.kwargs)
    _assert_wire(route.calls.last.request, case)
    _check_decoded(case, body, result)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
async def test_async_request_and_decoding(case: Case, samples: dict[str, Any]) -> None:
    body = samples[case.sample]["body"]
    with respx.mock(assert_all_called=True) as router:
        route = router.get(path=f"/services/v3/{case.path}").mock(return_value=httpx.Response(200, json=body))
        async with AsyncClient(api_key=KEY) as tcia:
            result = await getattr(tcia, case.method)(**case.kwargs)
    _assert_wire(route.calls.last.request, case)
    _check_decoded(case, body, result)


@pytest.mark.parametrize("case", [c for c in CASES if c.model is not SeriesSize], ids=lambda c: c.method)
def test_empty_result_is_an_empty_list(case: Case) -> None:
    with respx.mock() as router:
        router.get(path=f"/services/v3/{case.path}").mock(return_value=httpx.Response(200, json=[]))
        with Client(api_key=KEY) as tcia:
            assert getattr(tcia, case.method)(**case.kwargs) == []


@pytest.mark.parametrize("fmt", ["csv", "xml", "html"])
def test_text_formats_return_the_body(fmt: str, samples: dict[str, Any]) -> None:
    text = samples["v3.empty_result.csv"]["body_text"] if fmt == "csv" else f"<{fmt}>rows</{fmt}>"
    ctype = {"csv": "application/csv", "xml": "application/xml", "html": "text/html"}[fmt]
    with respx.mock() as router:
        route = router.get(path="/services/v3/TCIA/query/getPatientStudy").mock(
            return_value=httpx.Response(200, text=text, headers={"content-type": ctype})
        )
        with Client(api_key=KEY) as tcia:
            result = tcia.get_patient_study(collection="TCGA-GBM", patient_id="GBM-0123", format=fmt)  # type: ignore[call-overload]
    assert result == text
    assert ("format", fmt) in route.calls.last.request.url.params.multi_items()


def test_get_image_streams_the_zip_to_a_path(tmp_path: Path, samples: dict[str, Any]) -> None:
    payload = b"PK\x03\x04" + bytes(range(256)) * 1000
    headers = samples["v3.getImage"]["headers"]
    with respx.mock() as router:
        route = router.get(path="/services/v3/TCIA/query/getImage").mock(
            return_value=httpx.Response(200, content=payload, headers=headers)
        )
        with Client(api_key=KEY) as tcia:
            result = tcia.get_image(series_instance_uid=UID, to=tmp_path / "series.zip")
    assert isinstance(result, Download)
    assert result.path == tmp_path / "series.zip"
    assert result.path.read_bytes() == payload
    assert result.bytes_written == len(payload)
    assert result.filename == "bindaas-blob-download.zip"
    assert result.content_type == "application/zip"
    assert route.calls.last.request.url.params.multi_items() == [("SeriesInstanceUID", UID)]
    assert [p.name for p in tmp_path.iterdir()] == ["series.zip"]  # no temporary file left


async def test_async_get_single_image_returns_bytes_or_writes(tmp_path: Path) -> None:
    dicom = b"\0" * 128 + b"DICM" + b"rest"
    with respx.mock() as router:
        route = router.get(path="/services/v3/TCIA/query/getSingleImage").mock(
            return_value=httpx.Response(
                200, content=dicom, headers={"Content-Disposition": 'attachment;filename="150.dcm"'}
            )
        )
        async with AsyncClient(api_key=KEY) as tcia:
            data = await tcia.get_single_image(series_instance_uid=UID, sop_instance_uid=SOP)
            written = await tcia.get_single_image(
                series_instance_uid=UID, sop_instance_uid=SOP, to=tmp_path / "one.dcm"
            )
    assert data == dicom
    assert written.filename == "150.dcm"
    assert (tmp_path / "one.dcm").read_bytes() == dicom
    assert route.calls.last.request.url.params.multi_items() == [
        ("SeriesInstanceUID", UID),
        ("SOPInstanceUID", SOP),
    ]


def test_get_single_image_into_a_file_object() -> None:
    import io

    with respx.mock() as router:
        router.get(path="/services/v3/TCIA/query/getSingleImage").mock(
            return_value=httpx.Response(200, content=b"DICM-bytes")
        )
        with Client(api_key=KEY) as tcia:
            buffer = io.BytesIO()
            result = tcia.get_single_image(series_instance_uid=UID, sop_instance_uid=SOP, to=buffer)
    assert buffer.getvalue() == b"DICM-bytes"
    assert result.path is None
    assert result.bytes_written == 10


def test_base_url_override_keeps_the_resource_prefix() -> None:
    with respx.mock() as router:
        route = router.get("http://127.0.0.1:8080/services/v3/SharedList/query/ContentsByName").mock(
            return_value=httpx.Response(200, json=[])
        )
        with Client(api_key=KEY, base_url="http://127.0.0.1:8080/services/v3/") as tcia:
            assert tcia.contents_by_name(name="x") == []
    assert route.called


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCIA_API_KEY", "from-env")
    with respx.mock() as router:
        route = router.get(path="/services/v3/TCIA/query/getCollectionValues").mock(
            return_value=httpx.Response(200, json=[])
        )
        with Client() as tcia:
            tcia.get_collection_values()
    assert route.calls.last.request.headers["api_key"] == "from-env"


def test_a_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcia_sdk import ConfigurationError

    monkeypatch.delenv("TCIA_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="TCIA_API_KEY"):
        Client()


def test_required_and_typed_parameters_are_checked_before_sending() -> None:
    with Client(api_key=KEY, transport=httpx.MockTransport(lambda r: httpx.Response(500))) as tcia:
        with pytest.raises(TypeError, match=r"datetime\.date"):
            tcia.new_patients_in_collection(date="2014-01-01", collection="X")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="collection is required"):
            tcia.patients_by_modality(collection=None, modality="MR")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="format must be one of"):
            tcia.get_series(format="yaml")  # type: ignore[call-overload]
