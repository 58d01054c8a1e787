from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def samples() -> dict[str, Any]:
    """Realistic responses per endpoint (a copy of the project's reference tcia_samples.json)."""
    return json.loads((DATA / "tcia_samples.json").read_text(encoding="utf-8"))
