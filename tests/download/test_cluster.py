"""Bulk downloads on a real Dask LocalCluster of worker processes, against the fake TCIA on
loopback, into a shared folder and into a loopback S3 (moto's server)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pytest

from tcia_sdk import DownloadError, Progress, ServerError, download_series, nbia_v4, v3
from tcia_sdk.download._cluster import RunSecrets, ShardItem, balance, semaphore_name
from tcia_sdk.testing import DEFAULT_API_KEY, Delay, FakeTCIA, LoopbackServer, Status, cohort_dataset
from tests._s3 import MotoServer

from .conftest import FAST

COHORT = cohort_dataset(16)
UIDS = [s.uid for s in COHORT if s.row["Collection"] == "COHORT-FAKE"]


@pytest.fixture(scope="module")
def dask(moto: MotoServer) -> Iterator[distributed.Client]:
    """Two worker processes, one thread each (they inherit the loopback S3's variables)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        distributed.Client(lc) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def cohort() -> Iterator[tuple[FakeTCIA, LoopbackServer]]:
    fake = FakeTCIA(["nbia_v4", "v3"], dataset=COHORT)
    with LoopbackServer(fake) as server:
        yield fake, server


@pytest.fixture
def tcia(cohort: tuple[FakeTCIA, LoopbackServer]) -> Iterator[nbia_v4.Client]:
    fake, server = cohort
    server.reset()
    with nbia_v4.Client(base_url=fake.base_url(server.url, "nbia_v4"), retry_policy=FAST) as client:
        yield client


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".tcia" not in p.parts and p.name != "metadata.csv"
    }


def commits(root: Path) -> dict[str, str]:
    """uid -> the commit id of its record: a series verified again would get a new one."""
    return {p.stem: json.loads(p.read_text())["commit"] for p in (root / ".tcia" / "series").glob("*.json")}


def test_a_cluster_run_gives_what_one_machine_gives(
    tcia: nbia_v4.Client, dask: distributed.Client, tmp_path: Path
) -> None:
    wanted = [*UIDS[:10], UIDS[3]]  # a duplicate: one result per input, in input order
    alone = download_series(tcia, wanted, tmp_path / "one", workers=2)
    spread = download_series(tcia, wanted, tmp_path / "many", workers=2, cluster=dask)
    assert [r.series_instance_uid for r in spread] == wanted
    assert [r.status for r in spread] == [r.status for r in alone] == ["downloaded"] * len(wanted)
    assert files_of(tmp_path / "many") == files_of(tmp_path / "one")
    for a, b in zip(alone, spread, strict=True):
        assert (a.instances, a.dicom_bytes) == (b.instances, b.dicom_bytes)
        assert b.directory is not None
        assert a.directory is not None
        assert b.directory.relative_to(tmp_path / "many") == a.directory.relative_to(tmp_path / "one")
    lines = (tmp_path / "many" / "metadata.csv").read_text().splitlines()
    assert len(lines) == 1 + 10  # the driver wrote it from every worker's records
    again = download_series(tcia, wanted, tmp_path / "many", workers=2, cluster=dask)
    assert [r.status for r in again] == ["skipped"] * len(wanted)


def test_the_series_are_split_by_size_one_shard_per_worker(
    tcia: nbia_v4.Client, dask: distributed.Client, tmp_path: Path
) -> None:
    with distributed.get_task_stream(client=dask) as stream:
        report = download_series(tcia, UIDS, tmp_path, workers=2, cluster=dask)
    assert report.ok
    shards = [t for t in stream.data if "tcia-download" in str(t["key"])]
    assert len(shards) == 2
    assert len({t["worker"] for t in shards}) == 2  # one per worker process
    sizes = {s.uid: s.row["FileSize"] for s in COHORT}
    sizes[UIDS[0]] = 10 * sizes[UIDS[1]]  # one big series: it gets a shard nearly to itself
    split = balance([ShardItem(uid, {}, None) for uid in UIDS], sizes, 2)
    loads = [sum(sizes[i.uid] for i in shard) for shard in split]
    assert max(loads) - min(loads) <= max(sizes.values())
    assert sorted(i.uid for shard in split for i in shard) == sorted(UIDS)
    for shard in split:  # each shard keeps input order (its folder plan depends on it)
        assert [i.uid for i in shard] == [u for u in UIDS if u in {i.uid for i in shard}]


def test_into_a_loopback_s3_then_a_rerun_asks_tcia_nothing(
    tcia: nbia_v4.Client,
    cohort: tuple[FakeTCIA, LoopbackServer],
    dask: distributed.Client,
    moto: MotoServer,
    bucket: str,
) -> None:
    _, server = cohort
    report = download_series(tcia, UIDS, f"s3://{bucket}/c", workers=2, cluster=dask)
    assert report.ok, [str(r.error) for r in report.failed]
    records = moto.keys(bucket, "c/.tcia/series/")
    assert len(records) == len(UIDS)
    assert report[0].location is not None
    assert report[0].location.startswith(f"s3://{bucket}/c/COHORT-FAKE/")
    assert moto.read(bucket, "c/metadata.csv").decode().count("\n") == 1 + len(UIDS)
    server.reset()
    again = download_series(tcia, UIDS, f"s3://{bucket}/c", workers=2, cluster=dask)
    assert [r.status for r in again] == ["skipped"] * len(UIDS)
    assert server.count() == 0


def test_one_failing_series_fails_alone(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    _, server = cohort
    bad = UIDS[5]
    server.faults.add(Status(500, b"boom"), path="getImage", params={"SeriesInstanceUID": bad}, times=None)
    report = download_series(tcia, UIDS, tmp_path, workers=2, retries=1, cluster=dask)
    failed = report.failed
    assert [r.series_instance_uid for r in failed] == [bad]
    assert isinstance(failed[0].error, ServerError)  # the same error a single machine reports
    assert len(report.downloaded) == len(UIDS) - 1


def test_the_cap_holds_across_the_cluster(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    _, server = cohort
    server.faults.add(Delay(0.2), path="getImage", times=None)
    report = download_series(tcia, UIDS, tmp_path, workers=4, cluster=dask, cluster_max_requests=3)
    assert report.ok
    # 2 workers x 4 downloads each would be 8 at once; the cluster's semaphore allows 3.
    assert server.peak("getImage") == 3
    # Every lease went back: the next run (or another run sharing the cap) has all 3.
    name = semaphore_name(tcia.base_url, 3)
    held = dask.run_on_scheduler(
        lambda dask_scheduler: len(dask_scheduler.extensions["semaphores"].leases[name])
    )
    assert held == 0


def test_progress_is_one_bar_in_series_and_dicom_bytes(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    _, server = cohort
    server.faults.add(Delay(0.1), path="getImage", times=None)
    events: list[Progress] = []
    threads: set[int] = set()

    def progress(event: Progress) -> None:
        events.append(event)
        threads.add(threading.get_ident())

    report = download_series(tcia, UIDS, tmp_path, workers=2, cluster=dask, progress=progress)
    total_bytes = sum(s.row["FileSize"] for s in COHORT if s.uid in UIDS)
    assert report.ok
    assert len(threads) == 1  # delivered on the driver, never from Dask's threads
    assert {e.series_total for e in events} == {len(UIDS)}
    assert {e.bytes_expected for e in events} <= {None, total_bytes}
    assert events[-1].series_done == len(UIDS)
    assert events[-1].bytes_done == total_bytes == sum(r.dicom_bytes for r in report)
    assert [e.series_done for e in events] == sorted(e.series_done for e in events)
    assert [e.bytes_done for e in events] == sorted(e.bytes_done for e in events)


def test_a_worker_killed_mid_shard_leaves_nothing_undone_or_verified_twice(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    _, server = cohort
    server.faults.add(Delay(0.25), path="getImage", times=None)
    pids = dask.run(os.getpid)
    victim = pids[sorted(pids)[0]]
    before_kill: dict[str, str] = {}

    def progress(event: Progress) -> None:
        if event.event == "series" and event.series_done >= 4 and not before_kill:
            before_kill.update(commits(tmp_path))
            os.kill(victim, signal.SIGKILL)

    report = download_series(tcia, UIDS, tmp_path, workers=2, cluster=dask, progress=progress)
    assert before_kill, "the worker was never killed"
    assert report.ok, [str(r.error) for r in report.failed]
    assert victim not in dask.run(os.getpid).values()  # it really died (the nanny started another)
    after = commits(tmp_path)
    assert set(after) == set(UIDS)
    # What was verified before the kill kept its commit: nothing was verified twice.
    assert {uid: after[uid] for uid in before_kill} == before_kill
    # At most the killed worker's downloads in flight (2) were fetched again.
    assert len(UIDS) <= server.count("getImage") <= len(UIDS) + 2
    dask.wait_for_workers(2, timeout=60)


DRIVER = """
import sys
import distributed
from tcia_sdk import download_series, nbia_v4
client = nbia_v4.Client(base_url=sys.argv[1])
with distributed.Client(sys.argv[3]) as cluster:
    download_series(client, client.get_series(collection="COHORT-FAKE"), sys.argv[2], workers=2,
                    cluster=cluster)
"""


def test_a_killed_driver_is_resumed_by_a_rerun_from_the_records(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    fake, server = cohort
    server.faults.add(Delay(0.3), path="getImage", times=None)
    base_url = fake.base_url(server.url, "nbia_v4")
    address = dask.scheduler.address
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DRIVER), base_url, str(tmp_path), address]
    )
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / ".tcia" / "series").exists() or len(commits(tmp_path)) < 3:
            assert time.monotonic() < deadline, "no series was committed in time"
            assert child.poll() is None, "the driver ended before it could be killed"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    # The dead driver's tasks stop starting series once the scheduler lets them go.
    deadline = time.monotonic() + 60
    while any(dask.run(lambda dask_worker: len(dask_worker.state.executing)).values()):
        assert time.monotonic() < deadline, "the killed driver's shards kept running"
        time.sleep(0.1)
    done = set(commits(tmp_path))
    assert 3 <= len(done) < len(UIDS)
    server.reset()
    report = download_series(tcia, UIDS, tmp_path, workers=2, cluster=dask)
    assert report.ok
    assert {r.series_instance_uid for r in report.skipped} == done
    assert server.count("getImage") == len(UIDS) - len(done)


def test_secrets_stay_out_of_the_task_graph(
    cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    fake, server = cohort
    server.reset()
    server.faults.add(Delay(0.2), path="getImage", times=None)
    specs: list[bytes] = []

    def progress(event: Progress) -> None:
        if not specs:  # mid-run: every task the scheduler holds, as it would ship or show them
            specs.extend(
                dask.run_on_scheduler(
                    lambda dask_scheduler: [
                        pickle.dumps((str(ts.key), ts.run_spec)) for ts in dask_scheduler.tasks.values()
                    ]
                )
            )

    with v3.Client(api_key=DEFAULT_API_KEY, base_url=fake.base_url(server.url, "v3")) as client:
        report = download_series(client, UIDS[:6], tmp_path, workers=2, cluster=dask, progress=progress)
    assert report.ok  # the workers had the key: the fake refuses v3 calls without it
    assert specs
    assert not [s for s in specs if DEFAULT_API_KEY.encode() in s]
    assert any(b"tcia-download" in s for s in specs)  # the shard tasks were among them
    plugin = RunSecrets("r1", _credentials(DEFAULT_API_KEY), {"secret_access_key": "k-0001"})
    assert DEFAULT_API_KEY not in repr(plugin)
    assert "k-0001" not in repr(plugin)


def _credentials(key: str) -> Any:
    from tcia_sdk._runtime.recipe import recipe_of

    with v3.Client(api_key=key) as client:
        return recipe_of(client)[1]


def test_bad_cluster_arguments_fail_before_any_request(
    tcia: nbia_v4.Client, cohort: tuple[FakeTCIA, LoopbackServer], dask: distributed.Client, tmp_path: Path
) -> None:
    _, server = cohort
    with pytest.raises(TypeError, match=r"dask\.distributed\.Client"):
        download_series(tcia, UIDS, tmp_path, cluster="tcp://nowhere:8786")
    with pytest.raises(ValueError, match="cluster_max_requests"):
        download_series(tcia, UIDS, tmp_path, cluster=dask, cluster_max_requests=0)
    assert server.count() == 0


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # a second cluster beside the module's
def test_a_shard_that_cannot_run_fails_its_series_only(
    cohort: tuple[FakeTCIA, LoopbackServer], moto: MotoServer, tmp_path: Path
) -> None:
    """With no second chance for a task (allowed-failures 0), killing a worker ends its shard with
    KilledWorker: each of its series says so, and the other shard's series are downloaded."""
    import dask

    fake, server = cohort
    server.reset()
    server.faults.add(Delay(0.25), path="getImage", times=None)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        distributed.Client(lc) as cluster,
        nbia_v4.Client(base_url=fake.base_url(server.url, "nbia_v4"), retry_policy=FAST) as tcia,
    ):
        pids = cluster.run(os.getpid)
        killed: list[int] = []

        def progress(event: Progress) -> None:
            if event.event == "series" and event.series_done >= 2 and not killed:
                killed.append(pids[sorted(pids)[0]])
                os.kill(killed[0], signal.SIGKILL)

        report = download_series(tcia, UIDS, tmp_path, workers=2, cluster=cluster, progress=progress)
    assert killed
    failed = report.failed
    assert failed, "the killed worker's shard should have failed"
    assert len(report.downloaded) + len(report.failed) == len(UIDS)
    assert len(report.downloaded) >= len(UIDS) // 2 - 2  # the other shard (about half) stands
    for result in failed:
        assert "could not run this series' shard" in str(result.error)
        assert isinstance(result.error, DownloadError)
        assert result.error.series_instance_uid == result.series_instance_uid
    lines = (tmp_path / "metadata.csv").read_text().splitlines()
    assert len(lines) == 1 + len(commits(tmp_path))  # read back from the records: a shard did not report
