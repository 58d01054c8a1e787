"""Kill -9 mid-run, then rerun: verified series are not fetched again, the rest completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tcia_sdk import download_series
from tcia_sdk.testing import DEFAULT_API_KEY, FakeTCIA, LoopbackServer
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import Client


def zip_requests(server: LoopbackServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in server.requests:
        if request.path.endswith("getImage"):
            uid = dict(request.query)["SeriesInstanceUID"]
            counts[uid] = counts.get(uid, 0) + 1
    return counts


def test_kill_9_then_resume(tmp_path: Path, server: LoopbackServer, fake: FakeTCIA) -> None:
    uids = [s.uid for s in default_dataset()]
    dest = tmp_path / "dest"
    records = dest / ".tcia" / "series"
    server.faults.latency = 0.4  # slow enough to be killed mid-run
    base_url = fake.base_url(server.url, "v3")
    script = textwrap.dedent(
        f"""
        from tcia_sdk import download_series
        from tcia_sdk.v3 import Client
        with Client(api_key={DEFAULT_API_KEY!r}, base_url={base_url!r}) as tcia:
            download_series(tcia, {uids!r}, {str(dest)!r}, workers=1)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if records.is_dir() and len(list(records.glob("*.json"))) >= 2:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first run verified nothing in time")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    # The records are the commit points: a series without one was never committed.
    verified_before = [json.loads(p.read_text())["uid"] for p in records.glob("*.json")]
    assert 2 <= len(verified_before) < len(uids)  # killed mid-run
    fetched_before = zip_requests(server)

    server.faults.latency = 0.0
    with Client(api_key=DEFAULT_API_KEY, base_url=base_url) as tcia:
        report = download_series(tcia, uids, dest, workers=2)
    assert report.ok
    statuses = {r.series_instance_uid: r.status for r in report}
    assert all(statuses[uid] == "skipped" for uid in verified_before)
    assert all(statuses[uid] == "downloaded" for uid in uids if uid not in verified_before)
    fetched_after = zip_requests(server)
    for uid in verified_before:
        assert fetched_after[uid] == fetched_before[uid]  # not fetched again
    for uid in uids:
        if uid not in verified_before:
            assert fetched_after[uid] == fetched_before.get(uid, 0) + 1
    assert list((dest / ".tcia" / "tmp").iterdir()) == []
    assert len(report.paths) == sum(s.row["ImageCount"] for s in default_dataset())
    # A new run finds everything verified.
    with Client(api_key=DEFAULT_API_KEY, base_url=base_url) as tcia:
        assert {r.status for r in download_series(tcia, uids, dest)} == {"skipped"}
