"""Exit codes of the installed ``tcia`` command, as a shell script sees them: 0, 1, 2 and 130."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import filelock

from tcia_sdk.testing import RunningFake, Status, Trickle
from tcia_sdk.testing._dataset import default_dataset

from .helpers import TCIA, against, clean_env, one_error_line, run_installed

TCGA = [s for s in default_dataset() if s.row["Collection"] == "TCGA-FAKE"]


def _download(fake: RunningFake, dest: Path, *extra: str) -> list[str]:
    return [
        *against(fake, "nbia_v4"),
        "download",
        "--where",
        "Collection=TCGA-FAKE",
        "--dest",
        str(dest),
        "--retries",
        "0",
        *extra,
    ]


def test_exit_0_when_every_series_is_verified(fake_tcia: RunningFake, tmp_path: Path) -> None:
    ran = run_installed(*_download(fake_tcia, tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed")
    assert ran.stderr == ""


def test_exit_1_when_a_series_fails(fake_tcia: RunningFake, tmp_path: Path) -> None:
    broken = TCGA[1].uid
    fake_tcia.faults.add(
        Status(500, b"zip failed"), path="getImage", params={"SeriesInstanceUID": broken}, times=None
    )
    ran = run_installed(*_download(fake_tcia, tmp_path))
    assert ran.returncode == 1
    assert ran.stdout.startswith(f"{len(TCGA) - 1} downloaded, 0 skipped, 1 failed")
    assert broken in ran.stdout  # the failure table names the series
    assert "Traceback" not in ran.stderr


def test_exit_1_when_a_call_fails(fake_tcia: RunningFake) -> None:
    fake_tcia.faults.add(Status(503, b"down for maintenance"), path="getCollectionValues", times=None)
    ran = run_installed(*against(fake_tcia, "nbia_v4"), "get-collection-values")
    assert ran.returncode == 1
    assert "down for maintenance" in one_error_line(ran.stderr)


def test_exit_2_for_usage_errors(fake_tcia: RunningFake) -> None:
    for args in (
        ["download"],  # no series given
        ["get-series", "--no-such-option"],
        ["no-such-command"],
        ["--timeout", "-3", "get-collection-values"],
    ):
        ran = run_installed(*against(fake_tcia, "nbia_v4"), *args)
        assert ran.returncode == 2, args
        assert one_error_line(ran.stderr).startswith("Error: ")
    assert fake_tcia.count() == 0  # usage errors are found before any request


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TCIA), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        # A shell without job control starts background jobs with SIGINT ignored, and Python then
        # keeps it ignored: restore the default so that the child turns SIGINT into Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupted(args: list[str], under_way: Callable[[], bool]) -> tuple[str, str]:
    """Run the installed command, send SIGINT once ``under_way()``; exit code 130."""
    process = _start(args)
    try:
        while not under_way():  # waits for the command to get there
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    return out, err


def test_exit_130_after_sigint_during_a_download_and_the_rerun_resumes(
    fake_tcia: RunningFake, tmp_path: Path
) -> None:
    fast, *slow = TCGA
    for series in slow:  # these zips trickle at 1 byte/s: surely unfinished when Ctrl-C arrives
        fake_tcia.faults.add(
            Trickle(rate=1.0, headers=False), path="getImage", params={"SeriesInstanceUID": series.uid}
        )
    args = _download(fake_tcia, tmp_path)
    committed = tmp_path / ".tcia" / "series" / f"{fast.uid}.json"  # the README's commit point

    def under_way() -> bool:
        return committed.exists() and fake_tcia.count("getImage") >= len(TCGA)

    out, err = _interrupted(args, under_way)
    line = one_error_line(err)
    assert line == (
        f"interrupted: 1 of {len(TCGA)} series verified in {tmp_path}; running the same command again resumes"
    )
    assert out == ""
    # What the message promises: the same command, rerun, completes the download.
    fake_tcia.faults.clear()
    ran = run_installed(*args)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA) - 1} downloaded, 1 skipped, 0 failed")


def test_a_held_destination_waits_by_default_and_no_wait_exits_1(
    fake_tcia: RunningFake, tmp_path: Path
) -> None:
    (tmp_path / ".tcia").mkdir()
    lock = filelock.FileLock(tmp_path / ".tcia" / "lock")  # the README's lock: another run holds it
    with lock:
        ran = run_installed(*_download(fake_tcia, tmp_path), "--no-wait")
        assert ran.returncode == 1
        line = one_error_line(ran.stderr)
        assert line.startswith(f"Error: --dest {tmp_path} is in use by another download run")
        assert "--no-wait" in line
        assert fake_tcia.count("getImage") == 0
        process = _start(_download(fake_tcia, tmp_path))
        # Only stops a hung test (the line never coming): then readline returns "" and it fails.
        guard = threading.Timer(120, process.kill)
        guard.start()
        try:
            assert process.stderr is not None
            waiting = process.stderr.readline()  # said before it blocks
            assert "in use by another download run; waiting for it to finish" in waiting
            assert process.poll() is None  # and it does wait
        except BaseException:
            process.kill()
            raise
        finally:
            guard.cancel()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed")


def test_exit_130_after_sigint_during_a_call(fake_tcia: RunningFake) -> None:
    fake_tcia.faults.add(Trickle(rate=1.0, headers=True), path="getSeries", times=None)
    args = [*against(fake_tcia, "nbia_v4"), "get-series"]
    out, err = _interrupted(args, lambda: fake_tcia.count("getSeries") > 0)
    assert one_error_line(err) == "interrupted"
    assert out == ""
