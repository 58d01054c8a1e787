"""The fake TCIA answers every endpoint of every version, with each API's own conventions."""

from __future__ import annotations

import datetime
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tcia_sdk import AuthenticationError, BadRequestError, ServerError
from tcia_sdk._runtime.endpoint import Endpoint, Param
from tcia_sdk._versions import available_versions, load_version
from tcia_sdk.testing import RunningFake, Status
from tcia_sdk.testing._dataset import default_dataset

SERIES = default_dataset()[0]
SAMPLE_VALUES: dict[str, Any] = {
    "str": "TCGA-FAKE",
    "int": 1,
    "float": 1.0,
    "bool": True,
    "date": datetime.date(2000, 1, 1),
}


# Arguments the dataset answers where the parameter's declaration alone cannot tell: carts by name
# (the fake holds "nbia-fake-cart"; the Advanced API's cart is made, then deleted), internal keys.
NAMED: dict[tuple[str, str], Any] = {
    ("getContentsByName", "name"): "nbia-fake-cart",
    ("getSharedList", "name"): "nbia-fake-cart",
    ("createSharedList", "name"): "made-by-the-test",
    ("deleteSharedList", "name"): "made-by-the-test",
    ("getDicomTagsByImageID", "image_pk_id"): SERIES.instances[0].pk,
    ("getStudyDrillDown", "series_pk_ids"): [SERIES.pk],
    ("getImageDrillDown", "series_pk_ids"): [SERIES.pk],
    ("getCartData", "series_pk_ids"): [SERIES.pk],
}
# The live server fails on these whatever it is asked (their queries name columns the schema lacks).
BROKEN_ON_THE_SERVER = {"getStudyDrillDown", "getStudyDrillDownWithSeriesIds"}


def argument(param: Param) -> Any:
    """A value the dataset can answer for ``param`` (UIDs of a real series, enum choices)."""
    key = param.matches or param.wire
    if param.type == "enum":
        return param.enum[0]
    if key in SERIES.row:
        value = SERIES.row[key] if param.type == "str" else SAMPLE_VALUES[param.type]
    elif key == "SOPInstanceUID":
        value = SERIES.instances[0].sop_instance_uid
    else:
        value = SAMPLE_VALUES[param.type]
    return [value] if param.repeated else value


def client_for(fake_tcia: RunningFake, version: str) -> Any:
    module = load_version(version)
    options: dict[str, Any] = {"base_url": fake_tcia.base_url(version), "max_retries": 0}
    if module.API.auth.kind == "api_key":
        options["api_key"] = fake_tcia.api_key
    return module.Client(**options)


@pytest.mark.parametrize("version", available_versions())
def test_every_endpoint_is_answered(fake_tcia: RunningFake, version: str, tmp_path: Any) -> None:
    module = load_version(version)
    endpoints: tuple[Endpoint, ...] = module.ENDPOINTS
    with client_for(fake_tcia, version) as client:
        for endpoint in endpoints:
            kwargs = {
                p.python: NAMED.get((endpoint.name, p.python), argument(p))
                for p in endpoint.params
                if p.required
            }
            if endpoint.result == "binary":
                kwargs["to"] = tmp_path / f"{endpoint.name}.bin"
            if endpoint.name in BROKEN_ON_THE_SERVER:
                with pytest.raises(ServerError):
                    getattr(client, endpoint.python_name)(**kwargs)
                continue
            result = getattr(client, endpoint.python_name)(**kwargs)
            if endpoint.result == "binary":
                assert result.bytes_written > 0, endpoint.name
            elif endpoint.result == "page":
                assert list(result), endpoint.name  # every patient, page after page
            elif endpoint.result in ("row", "object"):
                assert result is not None
            else:
                assert isinstance(result, list | str), endpoint.name
    assert fake_tcia.count() >= len(endpoints)


def test_selection_projection_and_dates(fake_tcia: RunningFake) -> None:
    with client_for(fake_tcia, "nbia_v4") as client:
        assert client.get_collection_values() == ["TCGA-FAKE", "PHANTOM-FAKE"]
        assert client.get_modality_values(collection="tcga-fake") == ["MR", "CT"]  # case-insensitive
        patients = client.get_patient(collection="TCGA-FAKE")
        assert [p.patient_id for p in patients] == ["TCGA-FK-0001", "TCGA-FK-0002"]  # distinct rows
        assert (
            client.new_patients_in_collection(collection="TCGA-FAKE", from_date=datetime.date(2015, 1, 1))
            == []
        )
        size = client.get_series_size(series_instance_uid=SERIES.uid)
        assert (size.total_size_in_bytes, size.object_count) == (SERIES.file_size, len(SERIES.instances))
        assert client.get_sop_instance_uids(series_instance_uid=SERIES.uid) == [
            i.sop_instance_uid for i in SERIES.instances
        ]


def test_each_api_keeps_its_conventions(fake_tcia: RunningFake) -> None:
    v3 = httpx.get(fake_tcia.base_url("v3") + "/TCIA/query/getSeries", params={"Collection": "none"},
                   headers={"api_key": fake_tcia.api_key})  # fmt: skip
    assert (v3.status_code, v3.text) == (200, "[]")
    v4 = httpx.get(fake_tcia.base_url("nbia_v4") + "/getSeries", params={"Collection": "none"})
    assert (v4.status_code, v4.content) == (200, b"")
    csv = httpx.get(fake_tcia.base_url("v3") + "/TCIA/query/getModalityValues", params={"format": "csv"},
                    headers={"api_key": fake_tcia.api_key})  # fmt: skip
    assert csv.headers["content-type"] == "application/csv"
    assert csv.text.splitlines() == ["Modality", "MR", "CT"]
    with client_for(fake_tcia, "nbia_v4") as client:
        with pytest.raises(BadRequestError, match="Invalid query parameter: 'collection'"):
            client.get_series(extra_query={"collection": "x"})
    with client_for(fake_tcia, "nbia_v1") as client:
        assert client.get_series(extra_query={"collection": "x"})  # v1 ignores unknown parameters
    # A missing required parameter (the SDK refuses to send one; a raw client can).
    missing = httpx.get(fake_tcia.base_url("nbia_v4") + "/getSeriesSize")
    assert (missing.status_code, missing.text) == (
        400,
        "A parameter, SeriesInstanceUID is required for this API call.",
    )
    v3_missing = httpx.get(
        fake_tcia.base_url("v3") + "/TCIA/query/getSeriesSize", headers={"api_key": fake_tcia.api_key}
    )
    assert v3_missing.status_code == 500
    assert v3_missing.json() == {
        "errorMessage": "A parameter, SeriesInstanceUID is required for this API call."
    }
    with load_version("v3").Client(api_key="wrong", base_url=fake_tcia.base_url("v3")) as client:
        with pytest.raises(AuthenticationError):
            client.get_collection_values()


def test_required_parameters_are_checked_client_side_too(fake_tcia: RunningFake) -> None:
    with client_for(fake_tcia, "nbia_v4") as client, pytest.raises(TypeError):
        client.get_series_size()  # type: ignore[call-arg]


def test_faults_and_counters_through_the_fixture(fake_tcia: RunningFake) -> None:
    fake_tcia.faults.add(Status(503), path="getSeries", times=1)
    module = load_version("nbia_v4")
    with module.Client(base_url=fake_tcia.base_url("nbia_v4")) as client:
        raw = client.with_raw_response.get_series(collection="TCGA-FAKE")
    assert raw.retries_taken == 1
    assert fake_tcia.count("getSeries") == 2


def test_serve_command_prints_base_urls_and_serves() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tcia_sdk.testing", "serve", "--port", "0", "--versions", "nbia_v4"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            line = process.stdout.readline() if process.stdout else ""
            assert line.startswith("nbia_v4: base_url=http://127.0.0.1:")
        finally:
            process.terminate()
            process.wait(10)


def test_a_comma_joined_list_selects_every_series_it_names(fake_tcia: RunningFake) -> None:
    # NBIA v4 getSeriesMetadata takes its UIDs in one comma-joined value (explode: false).
    wanted = [s.uid for s in default_dataset()[:3]]
    with client_for(fake_tcia, "nbia_v4") as tcia:
        rows = tcia.get_series_metadata(series_instance_uids=wanted)
    assert sorted(r.series_instance_uid for r in rows) == sorted(wanted)


def test_faults_match_the_form_fields_of_a_post(fake_tcia: RunningFake) -> None:
    uid = default_dataset()[1].uid
    fake_tcia.faults.add(Status(503), path="getSeriesMetadata", params={"list": uid}, times=None)
    with client_for(fake_tcia, "nbia_v4") as tcia:
        assert len(tcia.get_series_metadata(series_instance_uids=[SERIES.uid])) == 1
        with pytest.raises(ServerError, match="503"):
            tcia.get_series_metadata(series_instance_uids=[uid])


def test_updated_series_is_strictly_after_and_new_items_on_or_after(fake_tcia: RunningFake) -> None:
    # The servers' comparisons (reference: getUpdatedSeries `date_released > fromDate`, v4's New*
    # endpoints `>=`, v1/v2 NewPatientsInCollection `dateReleased > Date`), declared in the spec.
    released = SERIES.row["DateReleased"]  # TCGA-FAKE's release day
    other = {s.uid for s in default_dataset() if s.row["Collection"] != "TCGA-FAKE"}
    day_before = released - datetime.timedelta(days=1)
    with client_for(fake_tcia, "nbia_v4") as v4:
        assert {s.series_instance_uid for s in v4.get_updated_series(from_date=released)} == other
        assert SERIES.uid in {s.series_instance_uid for s in v4.get_updated_series(from_date=day_before)}
        patients = v4.new_patients_in_collection(collection="TCGA-FAKE", from_date=released)
        assert [p.patient_id for p in patients] == ["TCGA-FK-0001", "TCGA-FK-0002"]
        studies = v4.new_studies_in_patient_collection(collection="TCGA-FAKE", from_date=released)
        assert SERIES.row["StudyInstanceUID"] in {s.study_instance_uid for s in studies}
    for version in ("nbia_v1", "nbia_v2"):
        with client_for(fake_tcia, version) as old:
            assert {s.series_instance_uid for s in old.get_updated_series(from_date=released)} == other
            assert old.new_patients_in_collection(collection="TCGA-FAKE", date=released) == []
            assert old.new_patients_in_collection(collection="TCGA-FAKE", date=day_before)


def test_a_request_without_any_authorization_header(fake_tcia: RunningFake) -> None:
    # Reference (server-truth A8, tcia-api §2.3): v2's query classes catch the 401 and answer an
    # empty 200, its downloads fail with 500; the Advanced classes' getUserName NPEs (500) unless
    # the guest is spelled "Bearer undefined"; v4 runs header-less requests as the guest.
    v2 = fake_tcia.base_url("nbia_v2")
    queries = [
        ("getSeries", {"Collection": "TCGA-FAKE"}),
        ("getCollectionValues", {}),
        ("getPatient", {}),
        ("getSeriesSize", {"SeriesInstanceUID": SERIES.uid}),
    ]
    for path, params in queries:
        answer = httpx.get(f"{v2}/{path}", params=params)
        assert (answer.status_code, answer.content) == (200, b""), path
    for path in ("getImage", "getImageWithMD5Hash"):
        answer = httpx.get(f"{v2}/{path}", params={"SeriesInstanceUID": SERIES.uid})
        assert (answer.status_code, answer.headers["content-type"]) == (500, "text/plain"), path
    single = httpx.get(
        f"{v2}/getSingleImage",
        params={"SeriesInstanceUID": SERIES.uid, "SOPInstanceUID": SERIES.instances[0].sop_instance_uid},
    )
    assert single.status_code == 500
    advanced = fake_tcia.base_url("nbia_advanced")
    forms = {
        "getSharedList": {"nameValue": "nbia-fake-cart"},
        "createSharedList": {"list": SERIES.uid, "name": "no-header-cart"},
        "deleteSharedList": {"name": "nbia-fake-cart"},
    }
    for path, form in forms.items():
        answer = httpx.post(f"{advanced}/{path}", data=form)
        assert (answer.status_code, answer.text) == (500, "Server was not able to process your request\nnull")
    assert "no-header-cart" not in fake_tcia.fake.shared_lists
    guest = httpx.post(f"{advanced}/getSharedList", data=forms["getSharedList"],
                       headers={"Authorization": "Bearer undefined"})  # fmt: skip
    assert guest.status_code == 200
    assert guest.json()["name"] == "nbia-fake-cart"
    v4 = httpx.get(fake_tcia.base_url("nbia_v4") + "/getCollectionValues")
    assert v4.status_code == 200
    assert v4.json()


def test_unknown_series_tags_and_unknown_image_fail_as_on_the_server(
    fake_tcia: RunningFake, tmp_path: Any
) -> None:
    # Server truth A7: getDicomTags on an unknown series is 400 (isUserHasAccess), getSingleImage on
    # an unknown image 500 (an NPE); surfaced as the SDK's typed errors, with the server's sentence.
    with client_for(fake_tcia, "nbia_v4") as v4:
        with pytest.raises(BadRequestError) as tags:
            v4.get_dicom_tags(series_uid="1.2.3.404")
        assert tags.value.status_code == 400
        assert "not been granted the access" in tags.value.server_message
        assert v4.get_dicom_tags(series_uid=SERIES.uid)  # a known series has tags
        with pytest.raises(ServerError) as image:
            v4.get_single_image(series_instance_uid=SERIES.uid, sop_instance_uid="1.2.3.404")
        assert image.value.status_code == 500
        with pytest.raises(ServerError):
            v4.get_single_image(
                series_instance_uid=SERIES.uid, sop_instance_uid="1.2.3.404", to=tmp_path / "x.dcm"
            )
        assert not (tmp_path / "x.dcm").exists()
    assert fake_tcia.count("getSingleImage") == 2  # a 500 on a GET is not retried here (max_retries=0)
