"""make demo's job, end to end, offline: the walkthrough for v3 and NBIA v4 against the fake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCIA_")}
    env["TCIA_DEMO_DEST"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "tcia_sdk.demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for section in (
        "=== TCIA REST API v3",
        "=== NBIA REST API v4",
        "Modalities",
        "Body parts",
        "Patients of",
        "Studies of",
        "Series of",
        "Downloaded and verified",
        "pydicom:",
        "demo finished",
    ):
        assert section in out
    files = sorted(tmp_path.rglob("*.dcm"))
    assert {p.relative_to(tmp_path).parts[0] for p in files} == {"v3", "nbia_v4"}
    assert all(str(p) in out for p in files)
