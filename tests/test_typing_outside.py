"""mypy sees the installed package from outside the repository (as a user's project does): the
editable install must be visible to type checkers, not only to the import system."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TYPED = """\
from __future__ import annotations

from tcia_sdk import TCIAError
from tcia_sdk.nbia_v4 import Client, Series


def uids(tcia: Client) -> list[str]:
    rows: list[Series] = tcia.get_series(collection="TCGA-GBM")
    return [s.series_instance_uid for s in rows if s.series_instance_uid is not None]


def image(tcia: Client, uid: str) -> None:
    try:
        tcia.get_image(series_instance_uid=uid, include_md5=True, to="s.zip")
    except TCIAError as exc:
        print(exc)
"""

# Each line is an error only if mypy really reads the package's annotations: with the package
# unseen (an untyped or missing module) all of them pass as Any, or fail as import-not-found.
WRONG = """\
from __future__ import annotations

from tcia_sdk.nbia_v4 import Client


def count(tcia: Client) -> int:
    return tcia.get_collection_values()


def flag(tcia: Client) -> None:
    tcia.get_image(series_instance_uid="1.2", include_md5="yes", to="s.zip")
"""


def _mypy(script: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-executable",
            sys.executable,
            script.name,
        ],
        cwd=script.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_mypy_sees_the_package_from_outside_the_repository(tmp_path: Path) -> None:
    assert ROOT not in tmp_path.parents  # outside the checkout: no tcia_sdk/ beside the script
    assert not (tmp_path / "tcia_sdk").exists()
    (tmp_path / "typed.py").write_text(TYPED)
    ok = _mypy(tmp_path / "typed.py")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Success: no issues found in 1 source file" in ok.stdout

    (tmp_path / "wrong.py").write_text(WRONG)
    bad = _mypy(tmp_path / "wrong.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "import-not-found" not in bad.stdout
    assert "import-untyped" not in bad.stdout
    assert 'wrong.py:7: error: Incompatible return value type (got "list[str]", expected "int")' in bad.stdout
    assert 'wrong.py:11: error: Argument "include_md5"' in bad.stdout
