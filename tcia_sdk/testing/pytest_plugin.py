"""pytest fixtures for services that test their own TCIA pipelines offline.

Registered as the ``tcia_sdk`` pytest plugin when tcia-sdk is installed::

    def test_my_pipeline(fake_tcia):
        with Client(base_url=fake_tcia.base_url("nbia_v4")) as tcia:
            assert tcia.get_collection_values()
        fake_tcia.faults.add(Status(503), path="getSeries", times=2)   # scripted faults
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._serve import RunningFake, fake_tcia_server


@pytest.fixture(scope="session")
def fake_tcia_session() -> Iterator[RunningFake]:
    """One fake TCIA (every API version) for the whole test session."""
    with fake_tcia_server() as running:
        yield running


@pytest.fixture
def fake_tcia(fake_tcia_session: RunningFake) -> RunningFake:
    """The session's fake TCIA with its request log and scripted faults cleared for this test."""
    fake_tcia_session.server.reset()
    return fake_tcia_session
