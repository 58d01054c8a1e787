from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._s3 import MotoServer, aws_environment, env_patch

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def samples() -> dict[str, Any]:
    """Realistic responses per endpoint (a copy of the project's reference tcia_samples.json)."""
    return json.loads((DATA / "tcia_samples.json").read_text(encoding="utf-8"))


# -- a real S3 API on loopback (moto's server) ------------------------------------------------
@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's S3 server, with the standard AWS variables pointing at it for this session (child
    processes, Dask workers among them, inherit them)."""
    with MotoServer() as server, contextlib.contextmanager(env_patch)(aws_environment(server.url)):
        yield server


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    """A fresh, empty bucket."""
    name = f"tcia-{uuid.uuid4().hex[:12]}"
    moto.boto3().create_bucket(Bucket=name)
    return name
