from __future__ import annotations

from pathlib import Path

import pytest

from tcia_sdk import read_manifest, write_manifest

UIDS = ["1.2.826.0.1.3680043.2.1125.1.1", "1.3.6.1.4.1.14519.5.2.1.2"]


def test_tcia_manifest_round_trip(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "cart.tcia", UIDS)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("downloadServerUrl=")
    assert lines[2] == "noOfrRetry=4"
    assert lines[5] == "ListOfSeriesToDownload="
    assert lines[6:] == UIDS
    assert read_manifest(path) == UIDS


def test_csv_manifest_round_trip(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "series.csv", UIDS)
    assert path.read_text() == "SeriesInstanceUID\n" + "\n".join(UIDS) + "\n"
    assert read_manifest(path) == UIDS


def test_real_manifest_sample(tmp_path: Path) -> None:
    text = (
        "downloadServerUrl=https://public.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet\n"
        "includeAnnotation=true\nnoOfrRetry=4\ndatabasketId=manifest-3KyAiw0R5775573072353953835.tcia\n"
        "manifestVersion=3.0\nListOfSeriesToDownload=\n"
        "1.2.826.0.1.3680043.2.1125.1.30536316803053218003044132217233156\n\n"
        "1.2.826.0.1.3680043.2.1125.1.30536316803053218003044132217233156\n"
    )
    (tmp_path / "m.tcia").write_text(text)
    assert read_manifest(tmp_path / "m.tcia") == [
        "1.2.826.0.1.3680043.2.1125.1.30536316803053218003044132217233156"
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.tcia", "downloadServerUrl=x\na=b\nc=d\nListOfSeriesToDownload=\n1.2\n", "six key=value"),
        ("bad.csv", "PatientID\nX\n", r"a SeriesInstanceUID \(or Series UID\) column"),
        ("bad2.csv", "SeriesInstanceUID\n1.2.3\nnot-a-uid\n", "bad2.csv:3: 'not-a-uid' is not a DICOM UID"),
    ],
)
def test_bad_manifests_say_where(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_manifest(tmp_path / name)


def test_any_csv_with_a_series_uid_column(tmp_path: Path) -> None:
    # `tcia get-series -o csv`: many columns, every cell quoted, the UID column anywhere.
    (tmp_path / "s.csv").write_text(
        '"Collection","SeriesInstanceUID","Modality"\n'
        f'"TCGA-X","{UIDS[0]}","MR"\n"TCGA-X","{UIDS[1]}","CT"\n"TCGA-X","{UIDS[0]}","MR"\n'
    )
    assert read_manifest(tmp_path / "s.csv") == UIDS
    # The SDK's own metadata.csv heads the column "Series UID".
    (tmp_path / "metadata.csv").write_text(f"Series UID,Collection\r\n{UIDS[1]},X\r\n{UIDS[0]},X\r\n")
    assert read_manifest(tmp_path / "metadata.csv") == [UIDS[1], UIDS[0]]
    (tmp_path / "bad.csv").write_text(f"Collection,SeriesInstanceUID\nX,{UIDS[0]}\nY,../../x\n")
    with pytest.raises(ValueError, match=r"bad\.csv:3: '\.\./\.\./x' is not a DICOM UID"):
        read_manifest(tmp_path / "bad.csv")
