"""NBIA v1 and v2 (v1 + OAuth): every endpoint, sync and async, wire-exact; v2's token flow."""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tcia_sdk import AuthenticationError
from tcia_sdk._runtime import unstructure
from tcia_sdk.nbia_v1 import ENDPOINTS as V1_ENDPOINTS
from tcia_sdk.nbia_v1 import AsyncClient as V1Async
from tcia_sdk.nbia_v1 import Client as V1
from tcia_sdk.nbia_v2 import ENDPOINTS as V2_ENDPOINTS
from tcia_sdk.nbia_v2 import AsyncClient as V2Async
from tcia_sdk.nbia_v2 import Client as V2

from .cases import Case, call, sent_pairs

V1_BASE = "https://services.cancerimagingarchive.net/nbia-api/services/v1"
V2_BASE = "https://services.cancerimagingarchive.net/nbia-api/services/v2"
TOKEN_URL = "https://services.cancerimagingarchive.net/nbia-api/oauth/token"
UID = "1.3.6.1.4.1.14519.5.2.1.5168.1900.104193299251798317056218297018"
SOP = "1.3.6.1.4.1.14519.5.2.1.5168.1900.1"


def cases(samples: dict[str, Any]) -> list[Case]:
    s = lambda key: samples[key]["body"]  # noqa: E731
    return [
        Case("get_collection_values", {}, "getCollectionValues", [], s("nbia_v1.getCollectionValues")),
        Case(
            "get_modality_values",
            {"collection": "ACNS0332"},
            "getModalityValues",
            [("Collection", "ACNS0332")],
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
            {"collection": "C", "body_part_examined": "CHEST"},
            "getManufacturerValues",
            [("Collection", "C"), ("BodyPartExamined", "CHEST")],
            s("nbia_v1.getManufacturerValues"),
        ),
        Case(
            "get_patient",
            {"collection": "ACNS0332", "patient_id": "P"},
            "getPatient",
            [("Collection", "ACNS0332"), ("PatientId", "P")],
            s("nbia_v2.getPatient"),
        ),
        Case(
            "get_patient_by_collection_and_modality",
            {"collection": "C", "modality": "MR"},
            "getPatientByCollectionAndModality",
            [("Collection", "C"), ("Modality", "MR")],
            s("nbia_v1.getPatientByCollectionAndModality"),
        ),
        Case(
            "new_patients_in_collection",
            {"collection": "C", "date": datetime.date(2020, 5, 1)},
            "NewPatientsInCollection",
            [("Collection", "C"), ("Date", "2020/05/01")],
            s("nbia_v1.NewPatientsInCollection"),
        ),
        Case(
            "get_patient_study",
            {"collection": "ACNS0332", "patient_id": "ACNS0332_PARFPN"},
            "getPatientStudy",
            [("Collection", "ACNS0332"), ("PatientID", "ACNS0332_PARFPN")],
            s("nbia_v2.getPatientStudy"),
        ),
        Case(
            "new_studies_in_patient_collection",
            {"collection": "C", "date": datetime.date(2020, 5, 1), "patient_id": "P"},
            "NewStudiesInPatientCollection",
            [("Collection", "C"), ("Date", "2020/05/01"), ("PatientID", "P")],
            s("nbia_v2.getPatientStudy"),
        ),
        Case(
            "get_series",
            {"collection": "LIDC-IDRI", "series_instance_uid": UID},
            "getSeries",
            [("Collection", "LIDC-IDRI"), ("SeriesInstanceUID", UID)],
            s("nbia_v2.getSeries.2025"),
        ),
        Case(
            "get_updated_series",
            {"from_date": datetime.date(2020, 5, 1)},
            "getUpdatedSeries",
            [("fromDate", "01/05/2020")],
            s("nbia_v1.getUpdatedSeries"),
        ),
        Case(
            "get_series_meta_data",
            {"series_instance_uid": UID},
            "getSeriesMetaData",
            [("SeriesInstanceUID", UID)],
            s("nbia_v2.getSeriesMetaData"),
        ),
        Case(
            "get_series_size",
            {"series_instance_uid": UID},
            "getSeriesSize",
            [("SeriesInstanceUID", UID)],
            s("nbia_v1.getSeriesSize"),
        ),
        Case(
            "get_sop_instance_uids",
            {"series_instance_uid": UID},
            "getSOPInstanceUIDs",
            [("SeriesInstanceUID", UID)],
            s("nbia_v1.getSOPInstanceUIDs"),
        ),
        Case(
            "get_contents_by_name",
            {"name": "nbia-49121659384603347"},
            "getContentsByName",
            [("name", "nbia-49121659384603347")],
            s("nbia_v1.getContentsByName"),
        ),
    ]


def _norm(value: Any) -> str:
    text = str(value).lower()
    if re.fullmatch(r".*\d\.\d+", text):
        text = text.rstrip("0").rstrip(".")
    return text


def check(endpoints: Any, case: Case, result: Any) -> None:
    endpoint = next(e for e in endpoints if e.python_name == case.method)
    body = case.body
    if endpoint.result == "values":
        assert result == [row[endpoint.value_field] for row in body if endpoint.value_field in row]
        return
    rows = [result] if endpoint.result == "row" else result
    assert len(rows) == len(body)
    for decoded, sent in zip(rows, body, strict=True):
        wire = unstructure(decoded)
        assert set(wire) == set(sent)  # every key kept, none invented
        for key, value in sent.items():
            # Timestamps and numbers sent as text come back typed; written back they differ only in
            # trailing zeros ("300.000000" -> 300, "...00.0" -> "...00.000000") and bool case.
            assert _norm(wire[key]) == _norm(value), key


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_v1_every_endpoint(samples: dict[str, Any], mode: str) -> None:
    table = cases(samples)
    assert {c.method for c in table} == {e.python_name for e in V1_ENDPOINTS if e.result != "binary"}
    for case in table:
        result, request = call(V1 if mode == "sync" else V1Async, V1_BASE, case, mode)
        assert sent_pairs(request) == case.wire, case.method
        assert "authorization" not in request.headers
        check(V1_ENDPOINTS, case, result)


def test_v1_typed_values(samples: dict[str, Any]) -> None:
    case = Case("get_series", {}, "getSeries", [], samples["nbia_v1.getSeries.2022"]["body"])
    rows, _ = call(V1, V1_BASE, case, "sync")
    assert rows[0].series_date == datetime.datetime(2000, 1, 1)
    assert rows[0].series_number == 3000923
    assert rows[0].annotations_flag is True
    meta = Case(
        "get_series_meta_data",
        {"series_instance_uid": UID},
        "getSeriesMetaData",
        [("SeriesInstanceUID", UID)],
        samples["nbia_v2.getSeriesMetaData"]["body"],
    )
    row, _ = call(V1, V1_BASE, meta, "sync")
    assert (row.number_of_images, row.file_size, row.series_number) == (60, 31600000, 2)
    assert row.annotations_flag is False
    assert row.study_date == datetime.date(2001, 6, 20)
    assert row.date_released == "Mon Nov 04 11:45:52 UTC 2013"
    assert row.file_location == "StudyID"


def test_v1_204_means_no_metadata() -> None:
    with respx.mock() as router:
        router.get(path="/nbia-api/services/v1/getSeriesMetaData").mock(return_value=httpx.Response(204))
        with V1() as tcia:
            assert unstructure(tcia.get_series_meta_data(series_instance_uid="1.2")) == {}


def test_v1_binary_endpoints(tmp_path: Path) -> None:
    case = Case(
        "get_image_with_md5_hash",
        {"series_instance_uid": UID, "to": tmp_path / "s.zip"},
        "getImageWithMD5Hash",
        [("SeriesInstanceUID", UID)],
        b"PK-md5",
    )
    result, request = call(V1, V1_BASE, case, "sync")
    assert result.bytes_written == 6
    image = Case(
        "get_image",
        {"series_instance_uid": UID, "new_file_names": True, "to": tmp_path / "t.zip"},
        "getImage",
        [("SeriesInstanceUID", UID), ("NewFileNames", "Yes")],
        b"PK",
    )
    _, request = call(V1Async, V1_BASE, image, "async")
    assert sent_pairs(request) == image.wire
    single = Case(
        "get_single_image",
        {"series_instance_uid": UID, "sop_instance_uid": SOP},
        "getSingleImage",
        [("SeriesInstanceUID", UID), ("SOPInstanceUID", SOP)],
        b"DICM",
        headers={"Content-Type": "application/dicom"},
    )
    data, _ = call(V1, V1_BASE, single, "sync")
    assert data == b"DICM"


# -- v2: the same endpoints behind an OAuth password grant ----------------------------------------


class TokenServer:
    """Answers the token endpoint like NBIA's (Keycloak payload) and records the grants."""

    def __init__(self, lifetime: int = 7200) -> None:
        self.grants: list[dict[str, str]] = []
        self.lifetime = lifetime

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()).multi_items())
        self.grants.append(form)
        n = len(self.grants)
        body = {
            "access_token": f"jwt-{n}",
            "expires_in": self.lifetime,
            "refresh_expires_in": 86400,
            "refresh_token": f"refresh-{n}",
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "openid",
        }
        return httpx.Response(200, json=body)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_v2_every_endpoint_sends_the_bearer_token(samples: dict[str, Any], mode: str) -> None:
    assert {e.name for e in V2_ENDPOINTS} == {e.name for e in V1_ENDPOINTS}
    tokens = TokenServer()
    for case in cases(samples):
        with respx.mock(assert_all_called=False) as router:
            router.post(TOKEN_URL).mock(side_effect=tokens)
            result, request = call(
                V2 if mode == "sync" else V2Async, V2_BASE, case, mode, username="alice", password="pw"
            )
        assert request.url.path == f"/nbia-api/services/v2/{case.path}"
        assert sent_pairs(request) == case.wire
        assert request.headers["authorization"].startswith("Bearer jwt-")
        check(V2_ENDPOINTS, case, result)
    assert tokens.grants[0] == {
        "grant_type": "password",
        "username": "alice",
        "password": "pw",
        "client_id": "nbia",
    }


def test_v2_token_is_reused_refreshed_before_expiry_and_renewed_once_after_401(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tcia_sdk")
    tokens = TokenServer(lifetime=120)  # inside the 60 s refresh margin after 60 s
    now = [1000.0]
    answers = iter(
        [
            httpx.Response(200, json=[]),
            httpx.Response(200, json=[]),
            httpx.Response(401),
            httpx.Response(200, json=[]),
            httpx.Response(401),
            httpx.Response(401),
        ]
    )
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return next(answers)

    with respx.mock() as router:
        router.post(TOKEN_URL).mock(side_effect=tokens)
        router.get(path="/nbia-api/services/v2/getCollectionValues").mock(side_effect=api)
        with V2(username="alice", password="s3cret-pass") as tcia:
            tcia._auth._clock = lambda: now[0]  # type: ignore[attr-defined]
            tcia.get_collection_values()  # password grant
            now[0] += 61  # within 60 s of expiry: refreshed before use
            tcia.get_collection_values()
            tcia.get_collection_values()  # 401 -> one new token -> 200
            with pytest.raises(AuthenticationError):
                tcia.get_collection_values()  # 401 twice: no endless loop
    assert [g["grant_type"] for g in tokens.grants] == [
        "password",
        "refresh_token",
        "refresh_token",
        "refresh_token",
    ]
    assert tokens.grants[1]["refresh_token"] == "refresh-1"
    assert seen == [
        "Bearer jwt-1",
        "Bearer jwt-2",
        "Bearer jwt-2",
        "Bearer jwt-3",
        "Bearer jwt-3",
        "Bearer jwt-4",
    ]
    assert "s3cret-pass" not in caplog.text
    assert "jwt-" not in caplog.text
    assert "s3cret-pass" not in repr(tcia)
    assert "s3cret-pass" not in repr(tcia._auth)


def test_v2_guest_default_env_credentials_and_refused_login(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = TokenServer()
    with respx.mock() as router:
        router.post(TOKEN_URL).mock(side_effect=tokens)
        router.get(path="/nbia-api/services/v2/getCollectionValues").mock(
            return_value=httpx.Response(200, json=[])
        )
        with V2() as tcia:
            tcia.get_collection_values()
        monkeypatch.setenv("NBIA_USERNAME", "bob")
        monkeypatch.setenv("NBIA_PASSWORD", "from-env")
        with V2() as tcia:
            tcia.get_collection_values()
    assert tokens.grants[0]["username"] == "nbia_guest"
    assert (tokens.grants[1]["username"], tokens.grants[1]["password"]) == ("bob", "from-env")
    with respx.mock() as router:
        router.post(TOKEN_URL).mock(return_value=httpx.Response(401, json={"error": "invalid_grant"}))
        with V2(username="bob", password="wrong") as tcia, pytest.raises(AuthenticationError) as info:
            tcia.get_collection_values()
    assert "wrong" not in str(info.value)
    assert info.value.endpoint == "oauth/token"


async def test_v2_async_token_flow_against_the_fake_server(tmp_path: Path) -> None:
    from tcia_sdk.testing import FakeTCIA, LoopbackServer

    fake = FakeTCIA(["nbia_v2"])
    with LoopbackServer(fake) as server:
        base = fake.base_url(server.url, "nbia_v2")
        async with V2Async(base_url=base) as tcia:
            assert await tcia.get_collection_values() == ["TCGA-FAKE", "PHANTOM-FAKE"]
            fake.revoke_tokens()  # the server forgets the token: 401, then one renewal
            assert await tcia.get_collection_values() == ["TCGA-FAKE", "PHANTOM-FAKE"]
        # No token at all: V2_* query classes catch their own 401 (an empty 200), downloads NPE.
        raw = httpx.get(base + "/getCollectionValues")
        image = httpx.get(base + "/getImage", params={"SeriesInstanceUID": "1.2.3"})
    assert (raw.status_code, raw.content) == (200, b"")
    assert image.status_code == 500
    assert image.text == "Server was not able to process your request\nnull"
    assert server.counts()["token"] == 2


@pytest.mark.parametrize("client_class", [V1, V2])
def test_new_file_names_is_a_bool_the_spec_maps_to_the_wire(client_class: Any, tmp_path: Path) -> None:
    import inspect
    import typing

    from tcia_sdk.testing import FakeTCIA, LoopbackServer
    from tcia_sdk.testing._dataset import default_dataset

    hints = typing.get_type_hints(client_class.get_image)
    assert hints["new_file_names"] == bool | None  # not Literal["Yes"]: the wire spelling stays inside
    assert inspect.signature(client_class.get_image).parameters["new_file_names"].default is None
    version = "nbia_v1" if client_class is V1 else "nbia_v2"
    fake = FakeTCIA([version])
    uid = default_dataset()[0].uid
    with LoopbackServer(fake) as srv:
        options: dict[str, Any] = {"base_url": fake.base_url(srv.url, version)}
        if client_class is V2:
            options.update(username="alice", password="pw")
        with client_class(**options) as nbia:
            for flag in (True, False, None):
                nbia.get_image(series_instance_uid=uid, new_file_names=flag, to=tmp_path / f"{flag}.zip")
        sent = [dict(r.query) for r in srv.requests if r.path.endswith("getImage")]
    assert sent[0] == {"SeriesInstanceUID": uid, "NewFileNames": "Yes"}
    assert sent[1] == {"SeriesInstanceUID": uid}  # False: left out, the server's default names
    assert sent[2] == {"SeriesInstanceUID": uid}
    with client_class(**options) as nbia, pytest.raises(TypeError, match="new_file_names"):
        nbia.get_image(series_instance_uid=uid, new_file_names="Yes", to=tmp_path / "x")
