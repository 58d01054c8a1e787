"""Two runs into one destination, in two real processes: the second fails at once, or waits."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tcia_sdk import DestinationLockedError, DownloadError, download_series
from tcia_sdk.testing import DEFAULT_API_KEY, FakeTCIA, LoopbackServer
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import Client

UIDS = [s.uid for s in default_dataset()]


def start_holder(base_url: str, dest: Path) -> subprocess.Popen[str]:
    """Another process downloading into ``dest``; it prints a line once it holds the destination."""
    script = textwrap.dedent(
        f"""
        import sys
        from tcia_sdk import download_series
        from tcia_sdk.v3 import Client
        said = []
        def progress(event):
            if not said:
                said.append(1)
                print("running", flush=True)
        with Client(api_key={DEFAULT_API_KEY!r}, base_url={base_url!r}) as tcia:
            report = download_series(tcia, {UIDS!r}, {str(dest)!r}, workers=1, progress=progress)
        print("ok" if report.ok else "failed", flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "running"
    return child


def finish(child: subprocess.Popen[str]) -> str:
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    return out.strip()


def test_a_second_run_fails_at_once_naming_the_destination(
    client: Client, tmp_path: Path, server: LoopbackServer, fake: FakeTCIA
) -> None:
    server.faults.latency = 0.25
    dest = tmp_path / "dest"
    holder = start_holder(fake.base_url(server.url, "v3"), dest)
    try:
        started = time.monotonic()
        with pytest.raises(DestinationLockedError, match=rf"{dest} is in use by another download run") as e:
            download_series(client, UIDS, dest)
        assert time.monotonic() - started < 2
        assert isinstance(e.value, DownloadError)
        assert "wait=True" in str(e.value)
    finally:
        assert finish(holder) == "ok"  # the holder was not disturbed


def test_a_second_run_with_wait_waits_and_says_so(
    client: Client,
    tmp_path: Path,
    server: LoopbackServer,
    fake: FakeTCIA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.faults.latency = 0.25
    dest = tmp_path / "dest"
    holder = start_holder(fake.base_url(server.url, "v3"), dest)
    try:
        with caplog.at_level(logging.WARNING, logger="tcia_sdk.download"):
            report = download_series(client, UIDS, dest, wait=True)
    finally:
        assert finish(holder) == "ok"
    assert any("in use by another download run; waiting" in r.message for r in caplog.records)
    assert [r.status for r in report] == ["skipped"] * len(UIDS)  # the holder had done them all
