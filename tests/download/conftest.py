from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcia_sdk import RetryPolicy, nbia_v4
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


@pytest.fixture(scope="module")
def fake4() -> FakeTCIA:
    return FakeTCIA(["nbia_v4"])


@pytest.fixture(scope="module")
def server4(fake4: FakeTCIA) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake4) as srv:
        yield srv


@pytest.fixture
def client4(server4: LoopbackServer, fake4: FakeTCIA) -> Iterator[nbia_v4.Client]:
    server4.reset()
    with nbia_v4.Client(base_url=fake4.base_url(server4.url, "nbia_v4"), retry_policy=FAST) as tcia:
        yield tcia


def outside(root: Path, dest: Path) -> list[str]:
    """Everything under ``root`` that is not under ``dest`` (nor ``dest`` itself or its parents)."""
    keep = {dest, *dest.parents}
    return sorted(str(p) for p in root.rglob("*") if p not in keep and dest not in p.parents)
