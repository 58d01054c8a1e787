"""Running ``tcia``: the installed console script as a subprocess (what scripts and people run), and
what its output must look like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tcia_sdk.testing import RunningFake

# The console script pip installed next to this interpreter (the venv's bin/ or Scripts/).
TCIA = Path(sys.executable).parent / "tcia"


class Ran(NamedTuple):
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's TCIA settings (a developer's TCIA_BASE_URL, keys)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCIA_", "NBIA_"))}
    env.update(extra)
    return env


def run_installed(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The installed ``tcia`` with ``args``; the timeout only stops a hung test, it asserts nothing."""
    assert TCIA.exists(), f"the tcia console script is not installed at {TCIA}"
    return subprocess.run(
        [str(TCIA), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env() if env is None else env,
        timeout=300,
        check=False,
    )


def against(fake: RunningFake, version: str) -> list[str]:
    """Global options pointing ``tcia`` at the fake server for ``version``, without retries."""
    return ["--api", version, "--server", fake.base_url(version), "--max-retries", "0"]


def one_error_line(stderr: str) -> str:
    """The single line a failure prints; fails the test on a traceback or a second line."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    return lines[0]
