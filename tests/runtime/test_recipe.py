"""Clients rebuilt in another process (a cluster worker), errors that cross process boundaries, and
the request gate a cluster's cap plugs into."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

import tcia_sdk.errors as errors
from tcia_sdk import Limits, RetryPolicy, nbia_v4, v3
from tcia_sdk._runtime.auth import OAuth2PasswordAuth
from tcia_sdk._runtime.recipe import build_async, recipe_of
from tcia_sdk.testing import DEFAULT_API_KEY, FakeTCIA, LoopbackServer


def test_a_recipe_holds_no_secret_and_rebuilds_the_same_client() -> None:
    with v3.Client(
        api_key="key-never-in-a-recipe",
        base_url="http://127.0.0.1:9/services/v3",
        timeout=7,
        max_retries=4,
        headers={"X-Trace": "t1", "X-Api-Key": "header-secret-0001"},
        retry_policy=RetryPolicy(initial_delay=0.1),
        limits=Limits(max_in_flight=5),
        strict=True,
    ) as client:
        recipe, credentials = recipe_of(client)
    shipped = pickle.dumps(recipe)
    assert b"key-never-in-a-recipe" not in shipped
    assert b"header-secret-0001" not in shipped
    assert "key-never-in-a-recipe" not in repr(credentials)
    assert "header-secret-0001" not in repr(credentials)
    twin = build_async(pickle.loads(shipped), pickle.loads(pickle.dumps(credentials)))
    assert isinstance(twin, v3.AsyncClient)
    assert twin.base_url == "http://127.0.0.1:9/services/v3"
    assert (twin.timeout, twin.max_retries, twin.strict) == (client.timeout, 4, True)
    assert twin.limits.max_in_flight == 5
    assert twin.retry_policy.initial_delay == 0.1
    assert twin._headers["X-Trace"] == "t1"
    assert twin._headers["X-Api-Key"] == "header-secret-0001"
    assert twin._auth.headers() == {"api_key": "key-never-in-a-recipe"}


def test_an_oauth_login_travels_as_credentials_not_tokens() -> None:
    auth = OAuth2PasswordAuth(token_url="https://h/oauth/token", username="u", password="pw-0001")
    auth._access = "live-token-0001"
    copy = pickle.loads(pickle.dumps(auth))
    assert copy.username == "u"
    assert "pw-0001" in copy.secret_values()
    assert copy.headers() == {}  # it makes its own grant
    assert b"live-token-0001" not in pickle.dumps(auth)


ERRORS = [
    errors.ServerError(
        "boom",
        endpoint="getImage",
        method="GET",
        url="https://h/getImage",
        status_code=503,
        headers=httpx.Headers({"Retry-After": "3"}),
        body_excerpt="<html>",
        server_message="busy",
        retries_taken=2,
    ),
    errors.DownloadError("bad zip", series_instance_uid="1.2.3"),
    errors.DestinationLockedError("held"),
    errors.ConfigurationError("wrong"),
    errors.WrongServerError("elsewhere", server="nlst", url="https://nlst"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling_with_their_fields(error: errors.TCIAError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__.keys() == error.__dict__.keys()
    for name, value in error.__dict__.items():
        assert str(getattr(copy, name)) == str(value)


class CountingGate:
    def __init__(self) -> None:
        self.entered = 0
        self.inside = 0
        self.peak = 0

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        self.entered += 1
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        try:
            yield
        finally:
            self.inside -= 1

    @contextlib.asynccontextmanager
    async def async_(self) -> AsyncIterator[None]:
        with self.sync():
            yield


def test_every_request_passes_the_gate_sync_and_async() -> None:
    import asyncio

    fake = FakeTCIA(["nbia_v4", "v3"])
    with LoopbackServer(fake) as server:
        gate = CountingGate()
        with nbia_v4.Client(base_url=fake.base_url(server.url, "nbia_v4")) as client:
            client._in_flight.gate = gate
            client.get_collection_values()
            client.get_modality_values()
        assert gate.entered == 2

        async def many() -> None:
            async with v3.AsyncClient(api_key=DEFAULT_API_KEY, base_url=fake.base_url(server.url, "v3")) as c:
                c._in_flight.gate = gate
                await asyncio.gather(*(c.get_collection_values() for _ in range(10)))

        asyncio.run(many())
        assert gate.entered == 12
        assert gate.inside == 0  # every lease returned
