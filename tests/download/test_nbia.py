"""NBIA v4 downloads: the getImage?IncludeMD5 fallback, bulk metadata pipelined with the zips, and
the progress contract in DICOM bytes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tcia_sdk import Progress, adownload_series, download_series, nbia_v4
from tcia_sdk.testing import Delay, FakeTCIA, LoopbackServer, Status
from tcia_sdk.testing._dataset import default_dataset

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]
OLD_SERVER = (
    b"Invalid query parameter: 'IncludeMD5'. Allowed parameters are: [SeriesInstanceUID, NewFileNames]"
)


def record(dest: Path, uid: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((dest / ".tcia" / "series" / f"{uid}.json").read_text())
    return data


def test_a_server_without_include_md5_falls_back_for_the_client_life(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    # A deployment before 2025-11-26: v4's strict parameter check refuses IncludeMD5.
    server4.faults.add(Status(400, OLD_SERVER), path="getImage", params={"IncludeMD5": "yes"}, times=None)
    uids = [s.uid for s in TCGA[:3]]
    report = download_series(client4, uids, tmp_path / "a", workers=1)
    assert report.ok, [str(r.error) for r in report]
    assert server4.count("getImage") == 1  # refused once, then never asked again
    assert server4.count("getImageWithMD5Hash") == 3
    for uid in uids:
        data = record(tmp_path / "a", uid)
        assert data["zip_route"] == "getImageWithMD5Hash"
        assert data["md5"] == "verified"
        assert "md5hashes.csv" in data["extra_files"]  # type: ignore[operator]
    # Remembered on the client: a later run goes to the fallback at once.
    again = download_series(client4, uids[:1], tmp_path / "b")
    assert again.ok
    assert server4.count("getImage") == 1


def test_a_bad_request_for_a_series_that_is_not_public_is_no_fallback(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    a, b = TCGA[0], TCGA[1]
    server4.faults.add(
        Status(400, b"Series not found or not public."), path="getImage", params={"SeriesInstanceUID": a.uid}
    )
    report = download_series(client4, [a.uid, b.uid], tmp_path, workers=1)
    assert [r.status for r in report] == ["failed", "downloaded"]
    assert "not public" in str(report[0].error)
    assert server4.count("getImageWithMD5Hash") == 0
    assert record(tmp_path, b.uid)["zip_route"] == "getImage"
    assert record(tmp_path, b.uid)["extra_files"] == ["LICENSE", "md5hashes.csv"]


def test_bulk_metadata_chunks_are_pipelined_with_the_zips(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    info = client4._download_info
    assert info is not None
    assert info.metadata_list_param == "list"
    client4._download_info = info._replace(metadata_chunk=2)  # two chunks of two series
    uids = [s.uid for s in TCGA]
    server4.faults.add(Delay(1.5), path="getSeriesMetadata", params={"list": ",".join(uids[2:])})
    finished: list[tuple[float, str]] = []
    started = time.monotonic()

    def progress(event: Progress) -> None:
        if event.event == "series":
            finished.append((time.monotonic() - started, event.series_instance_uid))

    report = download_series(client4, uids, tmp_path, workers=4, progress=progress)
    assert report.ok
    assert server4.count("getSeriesMetadata") == 2
    first_chunk = [t for t, uid in finished if uid in uids[:2]]
    # The first chunk's series were done while the second chunk was still being answered.
    assert len(first_chunk) == 2
    assert max(first_chunk) < 1.2, finished


def test_progress_counts_dicom_bytes_and_ends_at_the_total(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    uids = [s.uid for s in TCGA]
    download_series(client4, uids[:1], tmp_path)  # done before: skipped below
    events: list[Progress] = []
    report = download_series(client4, uids, tmp_path, workers=2, progress=events.append)
    assert [r.status for r in report] == ["skipped", "downloaded", "downloaded", "downloaded"]
    expected = sum(s.file_size for s in TCGA[1:])  # FileSize units; the skipped series not counted
    assert events[-1].bytes_expected == expected
    assert events[-1].bytes_done == expected
    assert all(e.series_total == 4 for e in events)
    assert [e.series_done for e in events if e.event == "series"] == [1, 2, 3, 4]
    assert all(e.bytes_done <= expected for e in events)
    done = [e.bytes_done for e in events]
    assert done == sorted(done)  # monotone: no retry here
    assert any(e.event == "bytes" and 0 < e.bytes_done < expected for e in events)
    # Rows with FileSize: the total is known from the first event on.
    rows = client4.get_series(collection="TCGA-FAKE")
    events.clear()
    download_series(client4, rows, tmp_path / "rows", workers=2, progress=events.append)
    assert {e.bytes_expected for e in events} == {sum(s.file_size for s in TCGA)}
    assert events[-1].bytes_done == sum(s.file_size for s in TCGA)


def test_a_failed_metadata_chunk_fails_its_series_only(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    info = client4._download_info
    assert info is not None
    client4._download_info = info._replace(metadata_chunk=2)
    uids = [s.uid for s in TCGA]
    server4.faults.add(Status(500, b"boom"), path="getSeriesMetadata", params={"list": ",".join(uids[:2])})
    report = download_series(client4, uids, tmp_path, workers=2)
    assert [r.status for r in report] == ["failed", "failed", "downloaded", "downloaded"]
    assert "500" in str(report[0].error)
    assert server4.count("getImage") <= 4


async def test_concurrent_runs_on_one_async_client_share_the_fallback(
    tmp_path: Path, server4: LoopbackServer, fake4: FakeTCIA
) -> None:
    import asyncio

    server4.reset()
    server4.faults.add(Status(400, OLD_SERVER), path="getImage", params={"IncludeMD5": "yes"}, times=None)
    uids = [s.uid for s in TCGA]
    async with nbia_v4.AsyncClient(base_url=fake4.base_url(server4.url, "nbia_v4")) as tcia:
        reports = await asyncio.gather(
            adownload_series(tcia, uids[:2], tmp_path / "a", workers=1),
            adownload_series(tcia, uids[2:], tmp_path / "b", workers=1),
        )
        assert all(r.ok for r in reports)
        refused = server4.count("getImage")
        assert 1 <= refused <= 2  # each run may meet the refusal once before the switch is known
        third = await adownload_series(tcia, uids[:1], tmp_path / "c")
    assert third.ok
    assert server4.count("getImage") == refused
    assert server4.count("getImageWithMD5Hash") == len(uids) + 1
