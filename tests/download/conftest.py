from __future__ import annotations

from collections.abc import Iterator

import pytest

from tcia_sdk import RetryPolicy
from tcia_sdk.testing import DEFAULT_API_KEY, FakeTCIA, LoopbackServer
from tcia_sdk.v3 import AsyncClient, Client

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02, max_retry_after=0.2)


@pytest.fixture(scope="module")
def fake() -> FakeTCIA:
    return FakeTCIA(["v3"])


@pytest.fixture(scope="module")
def server(fake: FakeTCIA) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: LoopbackServer) -> None:
    server.reset()


@pytest.fixture
def client(server: LoopbackServer, fake: FakeTCIA) -> Iterator[Client]:
    with Client(api_key=DEFAULT_API_KEY, base_url=fake.base_url(server.url, "v3"), retry_policy=FAST) as tcia:
        yield tcia


@pytest.fixture
def aclient(server: LoopbackServer, fake: FakeTCIA) -> AsyncClient:
    return AsyncClient(api_key=DEFAULT_API_KEY, base_url=fake.base_url(server.url, "v3"), retry_policy=FAST)
