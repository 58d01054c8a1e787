"""NBIA v4's hosts (production, NLST, staging, TCIA_BASE_URL) and its optional login."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import respx

from tcia_sdk import WrongServerError, download_series
from tcia_sdk.nbia_v4 import AsyncClient, Client
from tcia_sdk.testing import FakeTCIA, LoopbackServer

NLST = "https://nlst.cancerimagingarchive.net/nbia-api/services/v4"


def test_named_servers_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCIA_BASE_URL", raising=False)
    assert Client().base_url == "https://nbia.cancerimagingarchive.net/nbia-api/services/v4"
    assert Client(server="nlst").base_url == NLST
    assert Client(server="staging").base_url.startswith("https://nbia-stage.")
    monkeypatch.setenv("TCIA_BASE_URL", "http://127.0.0.1:8080/nbia-api/services/v4/")
    assert Client().base_url == "http://127.0.0.1:8080/nbia-api/services/v4"
    assert AsyncClient().base_url == "http://127.0.0.1:8080/nbia-api/services/v4"


def test_nlst_asked_of_the_main_host_names_the_nlst_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCIA_BASE_URL", raising=False)
    with respx.mock(assert_all_called=False) as router:
        route = router.get(path__regex=r".*")
        with Client() as tcia, pytest.raises(WrongServerError) as info:
            tcia.get_series(collection="NLST")  # the main host would answer an empty 200
        assert not route.called
    assert info.value.server == "nlst"
    assert info.value.url == NLST
    assert 'Client(server="nlst")' in str(info.value)
    with respx.mock() as router:
        router.get(f"{NLST}/getPatient").mock(
            return_value=httpx.Response(200, json=[{"PatientId": "100002"}])
        )
        with Client(server="nlst") as tcia:
            assert tcia.get_patient(collection="NLST")[0].patient_id == "100002"


def test_a_download_of_a_series_the_main_host_does_not_know_names_the_nlst_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An NLST series asked of the main host: its metadata comes back empty, and the failure says
    where such series live (the hosts whose collections are theirs alone; not staging)."""
    monkeypatch.delenv("TCIA_BASE_URL", raising=False)
    main = "https://nbia.cancerimagingarchive.net/nbia-api/services/v4"
    with respx.mock() as router:
        router.post(f"{main}/getSeriesMetadata").mock(return_value=httpx.Response(200, text=""))
        with Client() as tcia:
            report = download_series(tcia, ["1.2.840.113654.2.55.1234"], tmp_path)
    error = str(report[0].error)
    assert report[0].status == "failed"
    assert "on production has no metadata for this series" in error
    assert "server='nlst' (The National Lung Screening Trial" in error
    assert "staging" not in error


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_v4_is_anonymous_by_default_and_logs_in_when_asked(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBIA_USERNAME", raising=False)
    fake = FakeTCIA(["nbia_v4"])
    with LoopbackServer(fake) as server:
        base = fake.base_url(server.url, "nbia_v4")

        async def run_async(**login: str) -> list[str]:
            async with AsyncClient(base_url=base, **login) as tcia:
                return await tcia.get_collection_values()

        def run(**login: str) -> list[str]:
            if mode == "async":
                return asyncio.run(run_async(**login))
            with Client(base_url=base, **login) as tcia:
                return tcia.get_collection_values()

        assert run() == ["TCGA-FAKE", "PHANTOM-FAKE"]
        assert "authorization" not in server.requests[-1].headers  # the guest: no header at all
        assert [r.path for r in server.requests] == ["/nbia-api/services/v4/getCollectionValues"]
        assert run(username="alice", password="pw") == ["TCGA-FAKE", "PHANTOM-FAKE"]
        token_request, call = server.requests[-2:]
        assert token_request.path == "/nbia-api/oauth/token"  # ../../oauth/token from the v4 base
        assert dict(token_request.form)["client_id"] == "nbia"
        assert call.headers["authorization"].startswith("Bearer fake-access-")
        fake.revoke_tokens()  # a server restart: the next call gets a 401 and renews once
        server.reset()
        with Client(base_url=base, username="bob", password="pw") as tcia:
            tcia.get_collection_values()
            fake.revoke_tokens()
            assert tcia.get_collection_values()
        paths = [r.path.rsplit("/", 1)[-1] for r in server.requests]
        assert paths == [
            "token",
            "getCollectionValues",
            "getCollectionValues",
            "token",
            "getCollectionValues",
        ]
