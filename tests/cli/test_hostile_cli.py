"""The installed ``tcia`` command against hostile or slow servers, run as a subprocess: nothing
escapes the destination, no series replaces another, a trickle ends in time, a password with a
newline works and is never shown, and files written with ``--to`` respect the umask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tcia_sdk.testing import FakeTCIA, LoopbackServer, Request, Response, RunningFake, Trickle
from tcia_sdk.testing._dataset import default_dataset

from .helpers import TCIA, against, clean_env, one_error_line, run_installed

TCGA = [s for s in default_dataset() if s.row["Collection"] == "TCGA-FAKE"]
CT1, MR1 = TCGA[2], TCGA[3]  # TCGA-FK-0002: a CT and an MR, both series number 1


def _outside(root: Path, dest: Path) -> list[str]:
    keep = {dest, *dest.parents}
    return sorted(str(p) for p in root.rglob("*") if p not in keep and dest not in p.parents)


def _rewriting_series(fake: FakeTCIA, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """The fake, except that each getSeries row passes through ``change`` (a hostile server)."""

    def app(request: Request) -> Response:
        answer = fake(request)
        if request.path.endswith("getSeries") and answer.status == 200 and isinstance(answer.body, bytes):
            rows = [change(dict(row)) for row in json.loads(answer.body)]
            return Response(200, json.dumps(rows).encode(), {"Content-Type": "application/json"})
        return answer

    return app


# -- a server-supplied SeriesInstanceUID ------------------------------------------------------------
@pytest.mark.parametrize("hostile", ["../../x", "/abs/x"])
def test_download_where_with_a_hostile_uid_writes_nothing_outside_and_fails_that_series(
    tmp_path: Path, hostile: str
) -> None:
    fake = FakeTCIA(["nbia_v4"])
    victim = TCGA[0].uid

    def change(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "SeriesInstanceUID": hostile} if row.get("SeriesInstanceUID") == victim else row

    dest = tmp_path / "work" / "dest"
    with LoopbackServer(_rewriting_series(fake, change)) as srv:
        base = fake.base_url(srv.url, "nbia_v4")
        ran = run_installed(
            "--api", "nbia_v4", "--server", base, "--max-retries", "0",
            "download", "--where", "Collection=TCGA-FAKE", "--dest", str(dest), "--retries", "0",
        )  # fmt: skip
        asked = [r.query for r in srv.requests if r.path.endswith("getImage")]
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA) - 1} downloaded, 0 skipped, 1 failed"), ran.stdout
    assert hostile in ran.stdout
    assert "not a DICOM UID" in ran.stdout
    assert _outside(tmp_path, dest) == []  # not ../../x, not /abs/x: nothing outside dest
    assert not Path("/abs/x").exists()
    assert all(hostile not in str(q) for q in asked)  # never asked the server for it either
    assert not any(hostile.strip("/.") in p.name for p in dest.rglob("*"))


# -- layout collisions --------------------------------------------------------------------------------
def test_a_layout_collision_keeps_both_series(fake_tcia: RunningFake, tmp_path: Path) -> None:
    layout = "%PatientID/%SeriesNumber"
    args = [*against(fake_tcia, "nbia_v4"), "download", CT1.uid, MR1.uid, "--dest", str(tmp_path)]
    ran = run_installed(*args, "--layout", layout, "--retries", "0")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("2 downloaded, 0 skipped, 0 failed")
    first, second = tmp_path / "TCGA-FK-0002" / "1", tmp_path / "TCGA-FK-0002" / f"1_{MR1.uid}"

    def holds(folder: Path, series: Any) -> bool:
        files = {p.read_bytes() for p in folder.iterdir()}
        return {i.data for i in series.instances} <= files

    assert holds(first, CT1)
    assert not holds(first, MR1)
    assert holds(second, MR1)
    assert not holds(second, CT1)
    # A rerun flips nothing: both are found where they are.
    again = run_installed(*args, "--layout", layout, "--retries", "0")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 downloaded, 2 skipped, 0 failed")
    assert holds(first, CT1)
    assert holds(second, MR1)


# -- trickles -------------------------------------------------------------------------------------------
def test_timeout_3_against_a_trickling_server_ends_within_a_minute_in_one_line(
    fake_tcia: RunningFake,
) -> None:
    fake_tcia.faults.add(Trickle(rate=1.0, headers=True), path="getCollectionValues", times=None)
    args = ["--api", "nbia_v4", "--server", fake_tcia.base_url("nbia_v4"), "--timeout", "3"]
    started = time.monotonic()
    ran = run_installed(*args, "get-collection-values")
    elapsed = time.monotonic() - started
    assert ran.returncode == 1
    assert elapsed < 60
    assert "deadline" in one_error_line(ran.stderr)
    assert ran.stdout == ""


# -- the v2 password ------------------------------------------------------------------------------
PASSWORD = "s3cr3t-pa55word-for-v2"


def test_a_v2_password_with_a_trailing_newline_works_and_is_never_shown(fake_tcia: RunningFake) -> None:
    env = clean_env(NBIA_USERNAME="alice", NBIA_PASSWORD=PASSWORD + "\n")
    base = fake_tcia.base_url("nbia_v2")
    ran = run_installed("--api", "nbia_v2", "--server", base, "get-collection-values", "-o", "json", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "TCGA-FAKE" in ran.stdout
    assert PASSWORD not in ran.stdout + ran.stderr
    token = [r for r in fake_tcia.server.requests if r.path.endswith("/token")]
    assert token
    assert [dict(r.form)["password"] for r in token] == [PASSWORD] * len(token)  # stripped, then sent


def test_a_v2_password_is_absent_from_debug_logs_of_every_logger_in_the_cli(fake_tcia: RunningFake) -> None:
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(name)s %(message)s')\n"
        "from tcia_sdk.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = clean_env(NBIA_USERNAME="alice", NBIA_PASSWORD=PASSWORD + "\n")
    base = fake_tcia.base_url("nbia_v2")
    ran = subprocess.run(
        [sys.executable, "-c", script, "--api", "nbia_v2", "--server", base, "get-collection-values"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    names = {line.split(" ", 1)[0].split(".")[0] for line in ran.stderr.splitlines() if line}
    assert {"httpx", "httpcore"} <= names  # they did log at DEBUG
    assert PASSWORD not in ran.stdout + ran.stderr


# -- file modes ------------------------------------------------------------------------------------
def test_get_single_image_to_a_path_respects_the_umask(fake_tcia: RunningFake, tmp_path: Path) -> None:
    series = TCGA[0]
    target = tmp_path / "one.dcm"
    args = [
        *against(fake_tcia, "nbia_v4"),
        "get-single-image",
        "--series-instance-uid",
        series.uid,
        "--sop-instance-uid",
        series.instances[0].sop_instance_uid,
        "--to",
        str(target),
    ]
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        target.unlink(missing_ok=True)
        ran = subprocess.run(
            ["sh", "-c", f'umask {umask:03o} && exec "$0" "$@"', str(TCIA), *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        assert target.read_bytes() == series.instances[0].data
        assert target.stat().st_mode & 0o777 == mode, oct(target.stat().st_mode)
    assert os.listdir(tmp_path) == ["one.dcm"]  # no temporary file left beside it
