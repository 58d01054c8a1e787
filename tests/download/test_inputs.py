"""What download_series accepts, and the mistakes it refuses before any request."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from tcia_sdk import download_series, estimate_download, to_dataframe
from tcia_sdk.testing import LoopbackServer
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import AsyncClient, Client, Series

from .conftest import outside

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]
HOSTILE = ["/abs/x", "../../x", "1.2.3/../../x", "1.2..3", "1" * 65, ""]


@pytest.mark.parametrize("uid", HOSTILE)
@pytest.mark.parametrize("source", ["mapping", "model", "dataframe", "string"])
def test_a_hostile_uid_from_any_source_fails_before_any_request(
    client: Client, tmp_path: Path, server: LoopbackServer, uid: str, source: str
) -> None:
    row = {**{k: v for k, v in TCGA[0].row.items() if isinstance(v, str | int)}, "SeriesInstanceUID": uid}
    series: Any
    if source == "mapping":
        series = [row]
    elif source == "model":
        series = [Series(series_instance_uid=uid, collection="TCGA-FAKE", image_count=4)]
    elif source == "dataframe":
        pd = pytest.importorskip("pandas")
        series = pd.DataFrame([row])
    else:
        series = [uid]
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match=r"SeriesInstanceUID|not a DICOM UID"):
        download_series(client, series, dest)
    assert server.count() == 0
    assert not dest.exists()
    assert outside(tmp_path, dest) == []


def test_a_mapping_row_without_series_instance_uid(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    rows = [{"SeriesInstanceUID": TCGA[0].uid}, {"Collection": "TCGA-FAKE", "PatientID": "X"}]
    with pytest.raises(ValueError, match=r"series row 1 has no SeriesInstanceUID"):
        download_series(client, rows, tmp_path)
    assert server.count() == 0


def test_a_non_uid_string_that_is_no_file(
    client: Client, tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"'TCGA-FAKE' is neither a SeriesInstanceUID.*nor an existing"):
        download_series(client, "TCGA-FAKE", tmp_path / "d")
    assert server.count() == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dest": ""}, "dest must name a folder"),
        ({"dest": "   "}, "dest must name a folder"),
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"workers": 0}, "workers must be an int >= 1"),
        ({"workers": True}, "workers must be an int >= 1"),
        ({"max_series_bytes": 0}, "max_series_bytes must be an int >= 1"),
    ],
)
def test_bad_options_name_the_parameter(
    client: Client,
    tmp_path: Path,
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # dest="" must not mean "here"
    kwargs: dict[str, Any] = {"dest": tmp_path / "d", **options}
    dest = kwargs.pop("dest")
    with pytest.raises(ValueError, match=message):
        download_series(client, [TCGA[0].uid], dest, **kwargs)
    assert server.count() == 0
    assert list(tmp_path.iterdir()) == []


def test_a_dataframe_with_a_series_instance_uid_column(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    frame = to_dataframe(client.get_series(collection="TCGA-FAKE"))
    report = download_series(client, frame, tmp_path, layout="%Collection/%PatientID/%SeriesInstanceUID")
    assert [r.series_instance_uid for r in report] == list(frame["SeriesInstanceUID"])
    assert report.ok
    assert server.count("getSeries") == 1  # the frame's own columns served as metadata
    assert report[0].directory == tmp_path / "TCGA-FAKE" / "TCGA-FK-0001" / TCGA[0].uid


def test_a_dataframe_without_the_column(client: Client, tmp_path: Path, server: LoopbackServer) -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="no SeriesInstanceUID column"):
        download_series(client, pd.DataFrame({"Series": [TCGA[0].uid]}), tmp_path)
    assert server.count() == 0


def test_any_csv_with_a_series_instance_uid_column_is_a_manifest(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    # `tcia get-series -o csv > s.csv`: every column of the API, quoted.
    csv_text = client.get_series(collection="TCGA-FAKE", format="csv")
    (tmp_path / "s.csv").write_text(csv_text)
    report = download_series(client, tmp_path / "s.csv", tmp_path / "a", layout="flat")
    assert [r.series_instance_uid for r in report] == [s.uid for s in TCGA]
    assert report.ok
    # The SDK's own metadata.csv ("Series UID") works as a manifest too.
    again = download_series(client, str(tmp_path / "a" / "metadata.csv"), tmp_path / "b", layout="flat")
    assert sorted(r.series_instance_uid for r in again) == sorted(s.uid for s in TCGA)
    assert again.ok


def test_sync_download_series_refuses_an_async_client(
    aclient: AsyncClient, tmp_path: Path, server: LoopbackServer
) -> None:
    with pytest.raises(TypeError, match=r"await adownload_series\(\.\.\.\)"):
        download_series(aclient, [TCGA[0].uid], tmp_path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"await aestimate_download\(\.\.\.\)"):
        estimate_download(aclient, [TCGA[0].uid])  # type: ignore[arg-type]
    assert server.count() == 0


def test_errors_of_the_sync_entry_points_carry_no_event_loop_noise(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layout") as caught:
        download_series(client, [TCGA[0].uid], tmp_path, layout="bogus")
    text = "".join(traceback.format_exception(caught.value))
    assert "no running event loop" not in text
    assert caught.value.__context__ is None
    with pytest.raises(ValueError, match="not a DICOM UID") as estimated:
        estimate_download(client, ["1.2.3", "x/y"])
    assert "no running event loop" not in "".join(traceback.format_exception(estimated.value))
