"""Downloads into an object store: a real S3 API on loopback (moto's server), the fake TCIA, and
the same guarantees as on disk."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcia_sdk import ConfigurationError, DownloadError, Progress, download_series, nbia_v4
from tcia_sdk.download._objectstore import ObjectStore, StoreSpec, _folder_key
from tcia_sdk.testing import CorruptBody, Delay, FakeTCIA, LoopbackServer, Status, cohort_dataset
from tests._s3 import ACCESS_KEY, SECRET_KEY, MotoServer, proxy_to

from .conftest import FAST


def data_keys(keys: list[str], prefix: str) -> list[str]:
    """The keys a user sees as the download: everything but the SDK's state."""
    return sorted(k.removeprefix(prefix) for k in keys if "/.tcia/" not in f"/{k}")


def test_the_store_holds_what_a_folder_holds(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    series = client4.get_series()
    on_disk = download_series(client4, series, tmp_path, workers=3)
    in_store = download_series(client4, series, f"s3://{bucket}/mirror", workers=3)
    assert [r.status for r in in_store] == ["downloaded"] * len(series)
    files = sorted(
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file() and ".tcia" not in p.parts
    )
    keys = moto.keys(bucket, "mirror/")
    assert data_keys(keys, "mirror/") == files  # the same layout, metadata.csv included
    for name in files:
        if name != "metadata.csv":
            assert moto.read(bucket, f"mirror/{name}") == (tmp_path / name).read_bytes()
    for disk, store in zip(on_disk, in_store, strict=True):
        assert store.paths == ()
        assert store.directory is None
        assert (
            store.location
            == f"s3://{bucket}/mirror/{Path(disk.location or '').relative_to(tmp_path).as_posix()}"
        )
        local = json.loads((tmp_path / ".tcia" / "series" / f"{disk.series_instance_uid}.json").read_text())
        remote = json.loads(moto.read(bucket, f"mirror/.tcia/series/{store.series_instance_uid}.json"))
        differ = {"commit", "verified_at"}
        assert {k: v for k, v in remote.items() if k not in differ} == {
            k: v for k, v in local.items() if k not in differ
        }

    def rows(text: str) -> list[list[str]]:  # without the download timestamp
        return [row[:-1] for row in csv.reader(io.StringIO(text))]

    disk_csv = (tmp_path / "metadata.csv").read_text()
    assert rows(moto.read(bucket, "mirror/metadata.csv").decode()) == rows(disk_csv)


def test_a_rerun_lists_the_records_and_asks_tcia_nothing(
    client4: nbia_v4.Client, server4: LoopbackServer, bucket: str
) -> None:
    uids = [s.series_instance_uid for s in client4.get_series()]
    download_series(client4, uids, f"s3://{bucket}/p", workers=2)
    server4.reset()
    again = download_series(client4, uids, f"s3://{bucket}/p", workers=2)
    assert [r.status for r in again] == ["skipped"] * len(uids)
    assert server4.count() == 0  # not even metadata: the records are enough


def test_each_series_is_uploaded_before_its_record_the_commit_point(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    seen_mid_download: list[list[str]] = []

    def progress(event: Progress) -> None:
        if event.event == "bytes" and not seen_mid_download:
            seen_mid_download.append(moto.keys(bucket, "p/"))

    with LoopbackServer(proxy_to(moto.url)) as proxy:
        report = download_series(
            client4,
            client4.get_series(),
            f"s3://{bucket}/p",
            workers=1,
            progress=progress,
            storage_options={"endpoint_url": proxy.url},
        )
        puts = [r.path for r in proxy.requests if r.method == "PUT"]
    assert report.ok
    # While the first zip streamed, nothing of any series was in the store.
    assert [k for k in seen_mid_download[0] if ".tcia/probe" not in k] == []
    for result in report:
        uid = result.series_instance_uid
        folder = (result.location or "").removeprefix(f"s3://{bucket}/")
        record_put = puts.index(f"/{bucket}/p/.tcia/series/{uid}.json")
        file_puts = [i for i, path in enumerate(puts) if path.startswith(f"/{bucket}/{folder}/")]
        assert file_puts
        assert max(file_puts) < record_put  # every file first, the record last


def test_a_corrupt_zip_leaves_nothing_in_the_store(
    client4: nbia_v4.Client, server4: LoopbackServer, moto: MotoServer, bucket: str
) -> None:
    series = client4.get_series()
    bad = series[0].series_instance_uid
    server4.faults.add(CorruptBody(200), path="getImage", params={"SeriesInstanceUID": bad}, times=None)
    report = download_series(client4, series, f"s3://{bucket}/p", workers=2, retries=1)
    assert report[0].status == "failed"
    assert isinstance(report[0].error, DownloadError)
    assert [r.status for r in report[1:]] == ["downloaded"] * (len(series) - 1)
    keys = moto.keys(bucket, "p/")
    assert not [k for k in keys if bad in k]  # no file, no record, no folder claim
    claims = [json.loads(moto.read(bucket, k))["uid"] for k in keys if "/.tcia/folders/" in k]
    assert bad not in claims
    assert bad not in moto.read(bucket, "p/metadata.csv").decode()


def test_a_503_from_the_store_mid_upload_is_retried(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    series = client4.get_series()
    with LoopbackServer(proxy_to(moto.url)) as proxy:
        proxy.faults.add(Status(503, b"<Error><Code>SlowDown</Code></Error>"), path=".dcm", times=3)
        report = download_series(
            client4, series, f"s3://{bucket}/p", workers=2, storage_options={"endpoint_url": proxy.url}
        )
        refused = [r for r in proxy.requests if r.method == "PUT" and r.path.endswith(".dcm")]
    assert report.ok, [str(r.error) for r in report.failed]
    dcm_keys = [k for k in moto.keys(bucket, "p/") if k.endswith(".dcm")]
    assert len(refused) == len(dcm_keys) + 3  # three PUTs answered 503, each sent again
    assert sum(r.instances for r in report) == len(dcm_keys)


def test_an_explicit_endpoint_wins_over_aws_endpoint_url(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == moto.url
    with LoopbackServer(proxy_to(moto.url)) as proxy:
        download_series(
            client4, client4.get_series()[:1], f"s3://{bucket}/p", storage_options={"endpoint_url": proxy.url}
        )
        assert proxy.count() > 0


def test_a_folder_left_claimed_by_an_unfinished_upload_is_not_given_to_another_series(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    """A run killed mid-upload left series A's claim on a folder; series B, wanting the same
    folder under a coarse layout, gets a folder of its own; A's next run takes its folder back."""
    series = client4.get_series(collection="TCGA-FAKE")
    a, b = series[0], series[1]
    assert a.patient_id == b.patient_id  # one patient: %PatientID puts both in one folder
    folder = f"p/{a.patient_id}"
    claim = json.dumps({"uid": a.series_instance_uid, "dir": a.patient_id}).encode()
    moto.boto3().put_object(Bucket=bucket, Key=f"p/{_folder_key(a.patient_id)}", Body=claim)
    moto.boto3().put_object(Bucket=bucket, Key=f"{folder}/left-by-the-killed-run.dcm", Body=b"partial")
    second = download_series(client4, [b], f"s3://{bucket}/p", layout="%PatientID")
    assert second[0].status == "downloaded"
    assert second[0].location == f"s3://{bucket}/{folder}_{b.series_instance_uid}"
    first = download_series(client4, [a], f"s3://{bucket}/p", layout="%PatientID")
    assert first[0].status == "downloaded"
    assert first[0].location == f"s3://{bucket}/{folder}"
    keys = moto.keys(bucket, f"{folder}/")
    assert f"{folder}/left-by-the-killed-run.dcm" not in keys  # its own leftovers, replaced
    record = json.loads(moto.read(bucket, f"p/.tcia/series/{a.series_instance_uid}.json"))
    assert keys == sorted(f"{folder}/{n}" for n in [*record["files"], *record["extra_files"]])
    assert len(record["files"]) == a.image_count


def test_an_unrecorded_object_in_a_folder_is_never_replaced(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    row = client4.get_series()[0]
    moto.boto3().put_object(Bucket=bucket, Key=f"p/{row.series_instance_uid}/mine.txt", Body=b"user data")
    report = download_series(client4, [row], f"s3://{bucket}/p", layout="flat")
    assert report[0].status == "failed"
    assert "did not record" in str(report[0].error)
    assert moto.read(bucket, f"p/{row.series_instance_uid}/mine.txt") == b"user data"
    assert not [k for k in moto.keys(bucket, "p/") if k.endswith(".dcm")]


def test_two_runs_at_once_commit_each_series_once(
    client4: nbia_v4.Client, moto: MotoServer, bucket: str
) -> None:
    import concurrent.futures

    series = client4.get_series()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(download_series, client4, series, f"s3://{bucket}/p", workers=2) for _ in range(2)
        ]
        reports = [r.result() for r in runs]
    for report in reports:
        assert report.ok, [str(r.error) for r in report.failed]
    keys = moto.keys(bucket, "p/")
    records = [k for k in keys if "/.tcia/series/" in k]
    assert len(records) == len(series)
    for key in records:  # every recorded file is there at its recorded size
        record = json.loads(moto.read(bucket, key))
        for name, size in zip(record["files"], record["sizes"], strict=True):
            assert len(moto.read(bucket, f"p/{record['dir']}/{name}")) == size


# -- credentials ------------------------------------------------------------------------------
def test_a_store_error_names_the_store_and_never_a_credential(
    client4: nbia_v4.Client, server4: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DownloadError) as caught:
        download_series(
            client4,
            client4.get_series()[:1],
            "s3://no-such-bucket-here/p",
            storage_options={
                "secret_access_key": "an-explicit-secret-0001",
                "access_key_id": "AKIAEXPLICIT0001",
            },
        )
    text = f"{caught.value}\n{caught.value!r}\n{caplog.text}"
    assert "s3://no-such-bucket-here/p" in str(caught.value)
    for secret in (SECRET_KEY, ACCESS_KEY, "an-explicit-secret-0001", "AKIAEXPLICIT0001"):
        assert secret not in text
    assert server4.count("getImage") == 0  # the store is checked before any download


def test_a_store_spec_hides_its_secret_options() -> None:
    spec = StoreSpec("s3://b/p", options={"secret_access_key": "hidden-value-1", "region": "eu-west-1"})
    assert "hidden-value-1" not in repr(spec)
    assert dict(spec.public().options) == {"region": "eu-west-1"}


@pytest.mark.parametrize(
    "url", ["s3://AKIAX:secret@bucket/p", "s3://bucket/p?X-Amz-Security-Token=abc", "s3:///nobucket"]
)
def test_urls_carrying_credentials_or_no_bucket_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ObjectStore(StoreSpec(url))
    assert "secret" not in str(caught.value)
    assert "abc" not in str(caught.value)


def test_file_urls_are_local_folders(client4: nbia_v4.Client, tmp_path: Path) -> None:
    report = download_series(client4, client4.get_series()[:1], tmp_path.as_uri() + "/sub", layout="flat")
    assert report.ok
    assert report[0].directory == tmp_path / "sub" / report[0].series_instance_uid
    assert (tmp_path / "sub" / ".tcia" / "lock").exists()


def test_an_unknown_scheme_is_refused_before_any_request(client4: nbia_v4.Client) -> None:
    with pytest.raises(ValueError, match="unknown URL scheme"):
        download_series(client4, ["1.2.3"], "ftp://host/dir")


# -- kill -9 mid-run, then a rerun ------------------------------------------------------------
COHORT = cohort_dataset(16)


@pytest.fixture(scope="module")
def slow_fake() -> Iterator[tuple[FakeTCIA, LoopbackServer]]:
    fake = FakeTCIA(["nbia_v4"], dataset=COHORT)
    with LoopbackServer(fake) as server:
        yield fake, server


KILLED_RUN = """
import sys
from tcia_sdk import download_series, nbia_v4
client = nbia_v4.Client(base_url=sys.argv[1])
download_series(client, client.get_series(collection="COHORT-FAKE"), sys.argv[2], workers=2,
                storage_options={"staging_dir": sys.argv[3]})
"""


def test_kill_9_mid_run_then_a_rerun_fetches_only_what_is_missing(
    slow_fake: tuple[FakeTCIA, LoopbackServer], moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    fake, server = slow_fake
    server.reset()
    base_url = fake.base_url(server.url, "nbia_v4")
    server.faults.add(Delay(0.3), path="getImage", times=None)
    dest = f"s3://{bucket}/p"
    staging = tmp_path / "staging"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_RUN), base_url, dest, str(staging)]
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len([k for k in moto.keys(bucket, "p/.tcia/series/")]) >= 3:
                break
            assert child.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    committed = {k.rsplit("/", 1)[-1].removesuffix(".json") for k in moto.keys(bucket, "p/.tcia/series/")}
    total = len([s for s in COHORT if s.row["Collection"] == "COHORT-FAKE"])
    assert 3 <= len(committed) < total
    assert [p for p in (staging / "tcia-sdk-staging").iterdir() if p.name.startswith(f"{child.pid}-")]
    server.reset()
    with nbia_v4.Client(base_url=base_url, retry_policy=FAST) as client:
        report = download_series(
            client,
            client.get_series(collection="COHORT-FAKE"),
            dest,
            workers=4,
            storage_options={"staging_dir": str(staging)},
        )
    assert report.ok
    assert {r.series_instance_uid for r in report.skipped} == committed
    assert server.count("getImage") == total - len(committed)  # only what was missing
    # The killed run's staging folder is swept; every series is whole in the store.
    assert not [p for p in (staging / "tcia-sdk-staging").iterdir() if p.name.startswith(f"{child.pid}-")]
    records = [json.loads(moto.read(bucket, k)) for k in moto.keys(bucket, "p/.tcia/series/")]
    assert len(records) == total
    for record in records:
        assert sorted([*record["files"], *record["extra_files"]]) == sorted(
            k.rsplit("/", 1)[-1] for k in moto.keys(bucket, f"p/{record['dir']}/")
        )
