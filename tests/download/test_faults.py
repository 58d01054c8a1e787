"""File-system faults, made by the kernel: a file where a folder must go, a read-only folder (a
real unprivileged process), a full disk (/dev/full: ENOSPC) and a file size limit (RLIMIT_FSIZE:
EFBIG). A fault of one series fails that series; one that makes the run impossible stops it with
one sentence; records and metadata.csv are never torn."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcia_sdk import DownloadError, download_series
from tcia_sdk.testing import DEFAULT_API_KEY, FakeTCIA, LoopbackServer, Request, Response
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import Client

from .conftest import outside

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]
FK2 = [s for s in TCGA if s.row["PatientID"] == "TCGA-FK-0002"]
FK1 = [s for s in TCGA if s.row["PatientID"] == "TCGA-FK-0001"]

CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    args = json.loads(sys.argv[1])
    from tcia_sdk import RetryPolicy, download_series
    from tcia_sdk.v3 import Client

    def run(series, dest):
        policy = RetryPolicy(initial_delay=0.01, max_delay=0.02)
        with Client(api_key=args["key"], base_url=args["base_url"], retry_policy=policy) as tcia:
            return download_series(tcia, series, dest, layout=args["layout"], retries=0)

    if args.get("drop") and os.getuid() == 0:
        # Root ignores permission bits: warm every lazy import up, then run as nobody.
        run(args["series"][:1], args["warmup"])
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    if args.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (args["fsize"], args["fsize"]))
    report = run(args["series"], args["dest"])
    out = []
    for r in report:
        cause = r.error.__cause__ if r.error is not None else None
        out.append({
            "uid": r.series_instance_uid, "status": r.status, "error": str(r.error) if r.error else None,
            "error_type": type(r.error).__name__ if r.error else None,
            "errno": getattr(cause, "errno", None), "directory": str(r.directory),
        })
    print(json.dumps(out))
    """
)


def run_child(**args: Any) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"key": DEFAULT_API_KEY, "layout": "classic", **args})],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder an unprivileged process may write (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="tcia-faults-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        for folder in [path, *path.rglob("*")]:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o777)
        shutil.rmtree(path, ignore_errors=True)


def test_a_read_only_subfolder_fails_only_its_series(
    shared_tmp: Path, server: LoopbackServer, fake: FakeTCIA
) -> None:
    dest = shared_tmp / "dest"
    patient = dest / "TCGA-FAKE" / "TCGA-FK-0002"
    patient.mkdir(parents=True)
    for folder in (dest, dest / "TCGA-FAKE"):
        folder.chmod(0o777)
    patient.chmod(0o555)  # read-only: for an unprivileged process (root is dropped to nobody)
    warmup = shared_tmp / "warmup"
    results = run_child(
        base_url=fake.base_url(server.url, "v3"),
        series=[s.uid for s in TCGA],
        dest=str(dest),
        warmup=str(warmup),
        drop=True,
    )
    assert [r["uid"] for r in results] == [s.uid for s in TCGA]  # complete, in input order
    by_uid = {r["uid"]: r for r in results}
    for series in FK2:
        assert by_uid[series.uid]["status"] == "failed"
        assert by_uid[series.uid]["error_type"] == "DownloadError"
        assert "Permission denied" in by_uid[series.uid]["error"]
        assert by_uid[series.uid]["errno"] == errno.EACCES
    for series in FK1:
        assert by_uid[series.uid]["status"] == "downloaded"
    assert list(patient.iterdir()) == []


def test_a_file_blocking_a_layout_path_fails_only_its_series(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    (tmp_path / "TCGA-FAKE").mkdir()
    (tmp_path / "TCGA-FAKE" / "TCGA-FK-0002").write_text("not a folder")
    report = download_series(client, [s.uid for s in TCGA], tmp_path, layout="classic", retries=0)
    assert [r.series_instance_uid for r in report] == [s.uid for s in TCGA]
    for result, series in zip(report, TCGA, strict=True):
        if series in FK2:
            assert result.status == "failed"
            assert isinstance(result.error, DownloadError)
            assert "Not a directory" in str(result.error)
            assert isinstance(result.error.__cause__, OSError)
            assert result.error.__cause__.errno == errno.ENOTDIR
        else:
            assert result.status == "downloaded"
    assert (tmp_path / "TCGA-FAKE" / "TCGA-FK-0002").read_text() == "not a folder"
    assert list((tmp_path / ".tcia" / "tmp").iterdir()) == []


def big_zip_app(fake: FakeTCIA, uid: str, body: bytes) -> Any:
    def app(request: Request) -> Response:
        if request.path.endswith("getImage") and dict(request.query).get("SeriesInstanceUID") == uid:
            return Response(200, iter([body[i : i + 65536] for i in range(0, len(body), 65536)]), {})
        return fake(request)

    return app


def zip_of(data: bytes, method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("./1-101.dcm", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("downloading", zip_of(os.urandom(400_000), zipfile.ZIP_STORED)),  # the zip passes the limit
        ("extracting", zip_of(bytes(400_000), zipfile.ZIP_DEFLATED)),  # a small zip, a large file
    ],
)
def test_a_file_size_limit_fails_the_series_being_written(
    tmp_path: Path, fake: FakeTCIA, where: str, body: bytes
) -> None:
    big, small = TCGA[0], TCGA[1]
    with LoopbackServer(big_zip_app(fake, big.uid, body)) as srv:
        results = run_child(
            base_url=fake.base_url(srv.url, "v3"),
            series=[{"SeriesInstanceUID": big.uid, "ImageCount": 1}, small.uid],
            dest=str(tmp_path / "dest"),
            fsize=200_000,
        )
    assert [r["status"] for r in results] == ["failed", "downloaded"], results
    assert results[0]["error_type"] == "DownloadError"
    assert "File too large" in results[0]["error"]
    assert results[0]["errno"] == errno.EFBIG
    assert not (tmp_path / "dest" / ".tcia" / "series" / f"{big.uid}.json").exists()
    assert outside(tmp_path, tmp_path / "dest") == []


def full_record(dest: Path, uid: str) -> Path:
    part = dest / ".tcia" / "series" / f"{uid}.json.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.symlink_to("/dev/full")  # writing the record's temporary file: ENOSPC
    return part


def test_a_full_disk_while_writing_a_record_fails_that_series(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    a, b = TCGA[0], TCGA[1]
    full_record(tmp_path, a.uid)
    report = download_series(client, [a.uid, b.uid], tmp_path, layout="flat", retries=0)
    assert [r.status for r in report] == ["failed", "downloaded"]
    error = report[0].error
    assert isinstance(error, DownloadError)
    assert "cannot write the series record" in str(error)
    assert "No space left on device" in str(error)
    assert isinstance(error.__cause__, OSError)
    assert error.__cause__.errno == errno.ENOSPC
    assert not (tmp_path / a.uid).exists()  # not committed: no files without a record
    assert not (tmp_path / ".tcia" / "series" / f"{a.uid}.json").exists()
    assert "Series UID" in (tmp_path / "metadata.csv").read_text()


def test_a_record_is_never_torn_and_a_failed_redo_keeps_the_old_copy(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    a = TCGA[0]
    first = download_series(client, [a.uid], tmp_path, layout="flat")
    record = tmp_path / ".tcia" / "series" / f"{a.uid}.json"
    before = record.read_text()
    full_record(tmp_path, a.uid)
    again = download_series(client, [a.uid], tmp_path, layout="flat", force=True, retries=0)
    assert again[0].status == "failed"
    assert record.read_text() == before  # the old record, whole
    assert [p.read_bytes() for p in first[0].paths] == [i.data for i in a.instances]  # its files too
    (tmp_path / ".tcia" / "series" / f"{a.uid}.json.part").unlink()
    assert download_series(client, [a.uid], tmp_path, layout="flat")[0].status == "skipped"


def test_a_full_disk_while_writing_metadata_csv(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    a, b = TCGA[0], TCGA[1]
    download_series(client, [a.uid], tmp_path, layout="flat")
    summary = tmp_path / "metadata.csv"
    before = summary.read_text()
    (tmp_path / "metadata.csv.part").symlink_to("/dev/full")
    with pytest.raises(
        DownloadError, match=r"metadata\.csv could not be written \(No space left on device\)"
    ):
        download_series(client, [a.uid, b.uid], tmp_path, layout="flat")
    assert summary.read_text() == before  # never torn
    assert (tmp_path / ".tcia" / "series" / f"{b.uid}.json").exists()  # b was committed
    (tmp_path / "metadata.csv.part").unlink()
    report = download_series(client, [a.uid, b.uid], tmp_path, layout="flat")
    assert [r.status for r in report] == ["skipped", "skipped"]
    assert b.uid in summary.read_text()


def test_a_destination_that_cannot_exist_stops_the_run_with_one_sentence(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        DownloadError, match=r"cannot use .*file/dest as a download destination.*Not a directory"
    ):
        download_series(client, [TCGA[0].uid], tmp_path / "file" / "dest")
    assert server.count() == 0


def test_records_that_cannot_be_written_stop_the_run_before_any_request(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    (tmp_path / ".tcia").mkdir()
    (tmp_path / ".tcia" / "series").write_text("a file where the records go")
    with pytest.raises(DownloadError, match=r"as a download destination: cannot create .*series"):
        download_series(client, [TCGA[0].uid], tmp_path)
    assert server.count() == 0
