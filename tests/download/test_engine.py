"""download_series / adownload_series against the spec-driven fake TCIA on loopback, with faults."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pydicom
import pytest

from tcia_sdk import Progress, adownload_series, download_series, estimate_download, write_manifest
from tcia_sdk.testing import CorruptBody, FakeTCIA, LoopbackServer, ResetMidBody, Response, Status, Truncate
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import AsyncClient, Client

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]


def files_under(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".tcia" not in p.parts
    )


def test_classic_layout_paths_open_with_pydicom(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    series = client.get_series(collection="TCGA-FAKE")
    report = download_series(client, series, tmp_path, layout="classic", workers=3)
    assert [r.series_instance_uid for r in report] == [s.series_instance_uid for s in series]
    assert [r.status for r in report] == ["downloaded"] * len(series)
    assert report.ok
    assert not report.failed
    for result, data in zip(report, TCGA, strict=True):
        row = data.row
        assert (
            result.directory
            == tmp_path / row["Collection"] / row["PatientID"] / row["StudyInstanceUID"] / data.uid
        )
        assert len(result.paths) == row["ImageCount"] == result.instances
        assert result.dicom_bytes == data.file_size
        datasets = [pydicom.dcmread(p) for p in result.paths]
        assert {d.SeriesInstanceUID for d in datasets} == {data.uid}
        assert sorted(d.SOPInstanceUID for d in datasets) == sorted(
            i.sop_instance_uid for i in data.instances
        )
    assert server.count("getImage") == len(series)
    assert server.count("getSeries") == 1  # rows were given: no metadata calls


async def test_async_flat_layout_from_uids(
    aclient: AsyncClient, tmp_path: Path, server: LoopbackServer
) -> None:
    uids = [s.uid for s in DATA]
    async with aclient:
        report = await adownload_series(aclient, uids, tmp_path, layout="flat", workers=2)
    assert [r.status for r in report] == ["downloaded"] * len(uids)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name != ".tcia") == sorted(uids)
    assert server.count("getSeries") == len(uids)  # v3: one metadata call per series


def test_descriptive_and_template_layouts(client: Client, tmp_path: Path) -> None:
    series = TCGA[0]
    report = download_series(client, [series.uid], tmp_path / "d", layout="descriptive")
    row = series.row
    date, study_uid = f"{row['StudyDate']:%m-%d-%Y}", row["StudyInstanceUID"]
    study = f"{date}-{row['StudyID']}-{row['StudyDescription']}-{study_uid[-5:]}"
    name = f"{row['SeriesNumber']}-{row['SeriesDescription']}-{series.uid[-5:]}"
    assert report[0].directory == tmp_path / "d" / "TCGA-FAKE" / row["PatientID"] / study / name
    report = download_series(
        client, [series.uid], tmp_path / "t", layout="%Collection/%Modality_%SeriesInstanceUID"
    )
    assert report[0].directory == tmp_path / "t" / "TCGA-FAKE" / f"MR_{series.uid}"


def test_missing_layout_fields_come_from_dicom_headers(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    # v3 getSeries may omit PatientID: the folder still gets it, from the files themselves.
    rows = [
        {"SeriesInstanceUID": s.uid, "Collection": "TCGA-FAKE", "ImageCount": s.row["ImageCount"]}
        for s in TCGA[:1]
    ]
    report = download_series(client, rows, tmp_path, layout="%Collection/%PatientID/%StudyInstanceUID")
    assert report[0].directory == tmp_path / "TCGA-FAKE" / "TCGA-FK-0001" / TCGA[0].row["StudyInstanceUID"]
    record = json.loads((tmp_path / ".tcia" / "series" / f"{TCGA[0].uid}.json").read_text())
    assert record["layout_fields_from_dicom"] == ["PatientID", "StudyInstanceUID"]


def test_manifest_input_records_and_metadata_csv(client: Client, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "cart.tcia", [s.uid for s in TCGA[:2]])
    report = download_series(client, manifest, tmp_path / "out")
    assert report.ok
    assert len(report.paths) == sum(s.row["ImageCount"] for s in TCGA[:2])
    record = json.loads((tmp_path / "out" / ".tcia" / "series" / f"{TCGA[0].uid}.json").read_text())
    assert record["checks"] == {"zip_crc": "verified", "instance_count": "verified", "dicom_bytes": "unknown"}
    assert record["md5"] == "not offered"
    assert record["api"] == "TCIA REST API v3"
    assert record["instances"] == TCGA[0].row["ImageCount"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "metadata.csv").read_text())))
    assert [r["Series UID"] for r in rows] == [s.uid for s in TCGA[:2]]
    assert rows[0]["Subject ID"] == "TCGA-FK-0001"
    assert rows[0]["Number of Images"] == str(TCGA[0].row["ImageCount"])
    assert rows[0]["File Location"].startswith("./TCGA-FAKE/TCGA-FK-0001/")


def test_rerun_skips_verified_series_without_fetching(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uids = [s.uid for s in TCGA]
    first = download_series(client, uids, tmp_path)
    before = server.counts()
    second = download_series(client, uids, tmp_path)
    assert [r.status for r in second] == ["skipped"] * len(uids)
    assert [r.paths for r in second] == [r.paths for r in first]
    assert server.counts() == before  # neither zips nor metadata fetched again


def test_a_deleted_file_makes_the_series_unverified(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uids = [s.uid for s in TCGA[:2]]
    first = download_series(client, uids, tmp_path)
    first[1].paths[0].unlink()
    second = download_series(client, uids, tmp_path)
    assert [r.status for r in second] == ["skipped", "downloaded"]
    assert second[1].paths[0].is_file()
    assert server.count("getImage") == 3


def test_force_redoes_and_stale_temporaries_are_cleaned(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    download_series(client, [uid], tmp_path)
    stale = tmp_path / ".tcia" / "tmp" / "left-by-a-killed-run"
    stale.mkdir(parents=True)
    (stale / "series.zip.part").write_bytes(b"partial")
    report = download_series(client, [uid], tmp_path, force=True)
    assert report[0].status == "downloaded"
    assert server.count("getImage") == 2
    assert list((tmp_path / ".tcia" / "tmp").iterdir()) == []


def test_reset_mid_body_and_429_are_retried(client: Client, tmp_path: Path, server: LoopbackServer) -> None:
    a, b = TCGA[0].uid, TCGA[1].uid
    server.faults.add(ResetMidBody(after=500), path="getImage", params={"SeriesInstanceUID": a}, times=1)
    server.faults.add(
        Status(429, headers={"Retry-After": "0"}), path="getImage", params={"SeriesInstanceUID": b}
    )
    report = download_series(client, [a, b], tmp_path)
    assert [r.status for r in report] == ["downloaded", "downloaded"]
    assert server.count("getImage") == 4


def test_truncated_zip_is_caught_and_the_series_retried(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    server.faults.add(
        Truncate(after=700, keep_length=False), path="getImage", params={"SeriesInstanceUID": uid}
    )
    report = download_series(client, [uid], tmp_path)
    assert report[0].status == "downloaded"
    assert report[0].attempts == 2
    assert server.count("getImage") == 2


def test_failures_are_collected_and_leave_nothing(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    bad, good = TCGA[0].uid, TCGA[1].uid
    server.faults.add(
        Truncate(after=700, keep_length=False), path="getImage", params={"SeriesInstanceUID": bad}, times=None
    )
    report = download_series(client, [bad, good, "1.2.3.999"], tmp_path, retries=1)
    assert [r.status for r in report] == ["failed", "downloaded", "failed"]
    assert "does not open" in str(report[0].error)
    assert report[0].attempts == 2
    assert "no metadata" in str(report[2].error)
    assert [r.series_instance_uid for r in report.failed] == [bad, "1.2.3.999"]
    assert not any(bad in p for p in files_under(tmp_path))
    assert list((tmp_path / ".tcia" / "tmp").iterdir()) == []
    with pytest.raises(Exception, match="2 of 3 series failed"):
        report.raise_for_failures()


def test_fail_fast_stops_starting_new_series(client: Client, tmp_path: Path, server: LoopbackServer) -> None:
    server.faults.add(Status(404), path="getImage", times=None)
    report = download_series(client, [s.uid for s in TCGA], tmp_path, workers=1, fail_fast=True)
    assert [r.status for r in report] == ["failed"] * len(TCGA)
    assert server.count("getImage") == 1
    assert "fail_fast" in str(report[-1].error)


def test_progress_reports_bytes_and_series(client: Client, tmp_path: Path) -> None:
    events: list[Progress] = []
    report = download_series(client, [s.uid for s in TCGA[:2]], tmp_path, progress=events.append, workers=1)
    series_events = [e for e in events if e.event == "series"]
    assert [e.series_done for e in series_events] == [1, 2]
    assert all(e.series_total == 2 for e in events)
    # v3 gives no sizes: a series counts its verified DICOM bytes when it is done.
    assert events[-1].bytes_done == sum(r.dicom_bytes for r in report) > 0
    assert all(e.bytes_expected is None for e in events)


def test_dry_run_estimate(client: Client, server: LoopbackServer) -> None:
    estimate = estimate_download(client, [s.uid for s in TCGA] + ["1.2.3.999"])
    assert estimate.series == len(TCGA)
    assert estimate.instances == sum(s.row["ImageCount"] for s in TCGA)
    assert estimate.dicom_bytes is None  # v3 series metadata has no size
    assert estimate.unknown_series == ("1.2.3.999",)
    assert server.count("getImage") == 0


def test_zip_slip_from_the_server_fails_the_series(tmp_path: Path, fake: FakeTCIA) -> None:
    def evil(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("getImage"):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("../evil", b"owned")
            return Response(200, buffer.getvalue(), {"Content-Type": "application/zip"})
        return fake(request)

    with LoopbackServer(evil) as srv:
        with Client(api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3")) as tcia:
            report = download_series(tcia, [TCGA[0].uid], tmp_path / "dest", retries=0)
    assert report[0].status == "failed"
    assert "outside the target" in str(report[0].error)
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "dest" / ".tcia" / "evil").exists()


async def test_sync_entry_point_works_inside_a_running_loop(client: Client, tmp_path: Path) -> None:
    # As in a notebook: download_series is called while an event loop runs.
    report = download_series(client, [TCGA[0].uid], tmp_path)
    assert report[0].status == "downloaded"


def test_a_file_left_short_makes_the_series_unverified(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    # As after a power cut: the journal line survived, a file did not reach the disk whole.
    first = download_series(client, [TCGA[0].uid], tmp_path)
    first[0].paths[1].write_bytes(first[0].paths[1].read_bytes()[:10])
    second = download_series(client, [TCGA[0].uid], tmp_path)
    assert second[0].status == "downloaded"
    assert second[0].paths[1].stat().st_size == len(TCGA[0].instances[1].data)
    assert server.count("getImage") == 2


def test_a_corrupt_byte_fails_the_crc_and_the_series_is_fetched_again(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    # Offset 700 lies inside the first DICOM entry's data (the bindaas zip starts with './').
    server.faults.add(CorruptBody(offset=700), path="getImage", params={"SeriesInstanceUID": uid})
    report = download_series(client, [uid], tmp_path)
    assert report[0].status == "downloaded"
    assert report[0].attempts == 2
    assert [p.read_bytes() for p in report[0].paths] == [i.data for i in TCGA[0].instances]


def test_an_unknown_layout_fails_before_any_request(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    with pytest.raises(ValueError, match="unknown layout 'bogus'"):
        download_series(client, [TCGA[0].uid], tmp_path, layout="bogus")
    assert server.count() == 0
