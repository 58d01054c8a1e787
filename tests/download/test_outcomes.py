"""How a series ends when the server's zip or metadata is empty, odd or unreadable."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from tcia_sdk import DownloadError, download_series, nbia_v4
from tcia_sdk.testing import FakeTCIA, LoopbackServer, Request, Response
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import Client

from .conftest import FAST

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]


def serving(fake: FakeTCIA, bodies: dict[str, bytes]) -> Any:
    """The fake, except that the zips of the series in ``bodies`` are those bytes."""

    def app(request: Request) -> Response:
        uid = dict(request.query).get("SeriesInstanceUID", "")
        if request.path.endswith("getImage") and uid in bodies:
            return Response(200, bodies[uid], {"Content-Type": "application/zip"})
        return fake(request)

    return app


def zip_bytes(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_series_with_no_instances_is_failed_not_downloaded(tmp_path: Path, fake: FakeTCIA) -> None:
    a, b = TCGA[0], TCGA[1]
    bodies = {a.uid: zip_bytes([]), b.uid: zip_bytes([("./", b"")])}
    rows = [{"SeriesInstanceUID": a.uid, "Collection": "TCGA-FAKE"}, {"SeriesInstanceUID": b.uid}]
    with LoopbackServer(serving(fake, bodies)) as srv:
        with Client(
            api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3"), retry_policy=FAST
        ) as c:
            report = download_series(c, rows, tmp_path, layout="flat", retries=0)  # no ImageCount given
    assert [r.status for r in report] == ["failed", "failed"]
    assert all("no DICOM instances" in str(r.error) for r in report)
    assert report.paths == []
    assert not (tmp_path / ".tcia" / "series" / f"{a.uid}.json").exists()


def test_an_unreadable_entry_fails_the_series_with_its_cause(tmp_path: Path, fake: FakeTCIA) -> None:
    a, b = TCGA[0], TCGA[1]
    body = bytearray(zip_bytes([("./1-101.dcm", a.instances[0].data)], zipfile.ZIP_LZMA))
    start = body.find(b"1-101.dcm") + len("1-101.dcm")
    for i in range(start + 10, start + 40):
        body[i] ^= 0x5A
    rows = [{"SeriesInstanceUID": a.uid, "ImageCount": 1}, {"SeriesInstanceUID": b.uid}]
    with LoopbackServer(serving(fake, {a.uid: bytes(body)})) as srv:
        with Client(
            api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3"), retry_policy=FAST
        ) as c:
            report = download_series(c, rows, tmp_path, layout="flat", retries=1)
    # Complete, in input order; the failure is a DownloadError with the zipfile error chained.
    assert [r.series_instance_uid for r in report] == [a.uid, b.uid]
    assert [r.status for r in report] == ["failed", "downloaded"]
    assert isinstance(report[0].error, DownloadError)
    assert report[0].error.__cause__ is not None
    assert report[0].attempts == 2


def test_an_unparseable_file_size_is_unknown_in_the_record(
    client4: nbia_v4.Client, tmp_path: Path, server4: LoopbackServer
) -> None:
    series = TCGA[0]
    row = {**{k: v for k, v in series.row.items() if isinstance(v, str | int)}, "FileSize": "3.5 kB"}
    report = download_series(client4, [row], tmp_path, layout="flat")
    assert report.ok
    record = json.loads((tmp_path / ".tcia" / "series" / f"{series.uid}.json").read_text())
    assert record["checks"]["dicom_bytes"] == "unknown"
    assert "'3.5 kB' is not a number" in record["check_notes"]["dicom_bytes"]
    assert record["checks"]["instance_count"] == "verified"
