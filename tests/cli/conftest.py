"""The ``tcia`` fixture: `main` in-process (what the console script calls) against the fake TCIA."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tcia_sdk.cli import main
from tcia_sdk.testing import RunningFake

from .helpers import Ran, against


@pytest.fixture
def tcia(
    fake_tcia: RunningFake, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """``tcia(version, *args)``: `main` in-process against the fake, stdout and stderr apart."""
    for name in [k for k in os.environ if k.startswith(("TCIA_", "NBIA_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TCIA_API_KEY", fake_tcia.api_key)
    capsys.readouterr()

    def run(version: str, *args: str) -> Ran:
        code = main([*against(fake_tcia, version), *args])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
