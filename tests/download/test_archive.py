"""Zip verification and safe extraction, one hostile or broken zip at a time."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from tcia_sdk import DownloadError
from tcia_sdk.download._archive import extract_verified

DCM = [b"\0" * 128 + b"DICM" + bytes([i]) * 50 for i in range(3)]


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def nbia_entries(md5: bool = True, wrong: bool = False) -> list[tuple[str | zipfile.ZipInfo, bytes]]:
    names = [f"{i:08d}.dcm" for i in range(1, 4)]
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [("LICENSE", b"CC BY 4.0\n")]
    entries += list(zip(names, DCM, strict=True))
    if md5:
        digests = [hashlib.md5(d).hexdigest() for d in DCM]
        if wrong:
            digests[1] = "0" * 32
        text = "Filename,MD5Hash\n" + "".join(f"{n},{h}\n" for n, h in zip(names, digests, strict=True))
        entries.append(("md5hashes.csv", text.encode()))
    return entries


def extract(zip_path: Path, target: Path, **kw: object) -> object:
    target.mkdir(exist_ok=True)
    options: dict[str, object] = {
        "uid": "1.2.3",
        "expected_count": 3,
        "expected_bytes": sum(map(len, DCM)),
        "md5_file": "md5hashes.csv",
        "md5_required": True,
    }
    options.update(kw)
    return extract_verified(zip_path, target, **options)  # type: ignore[arg-type]


def test_a_good_nbia_zip(tmp_path: Path) -> None:
    result = extract(make_zip(tmp_path / "s.zip", nbia_entries()), tmp_path / "out")
    assert result.files == ("00000001.dcm", "00000002.dcm", "00000003.dcm")  # type: ignore[attr-defined]
    assert result.extra_files == ("LICENSE", "md5hashes.csv")  # type: ignore[attr-defined]
    assert result.md5 == "verified"  # type: ignore[attr-defined]
    assert result.md5_checked == 3  # type: ignore[attr-defined]
    assert (tmp_path / "out" / "LICENSE").read_bytes() == b"CC BY 4.0\n"


def test_a_bindaas_zip_with_dot_slash_names(tmp_path: Path) -> None:
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [("./", b"")]
    entries += [(f"./{i}-15{i}.dcm", d) for i, d in enumerate(DCM, start=1)]
    result = extract(make_zip(tmp_path / "s.zip", entries), tmp_path / "out", md5_file=None)
    assert result.files == ("1-151.dcm", "2-152.dcm", "3-153.dcm")  # type: ignore[attr-defined]
    assert result.md5 == "not offered"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("../evil.dcm", "outside the target"),
        ("/etc/evil.dcm", "absolute path"),
        ("C:/evil.dcm", "absolute path"),
        ("sub/dir/evil.dcm", "subfolder"),
        ("a/../../evil.dcm", "outside the target"),
    ],
)
def test_zip_slip_entries_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    zip_path = make_zip(tmp_path / "s.zip", [*nbia_entries(md5=False), (entry, b"x")])
    with pytest.raises(DownloadError, match=message):
        extract(zip_path, tmp_path / "out", expected_count=None, expected_bytes=None, md5_required=False)
    assert not (tmp_path / "evil.dcm").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("00000009.dcm")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zip_path = make_zip(tmp_path / "s.zip", [*nbia_entries(md5=False), (link, b"/etc/passwd")])
    with pytest.raises(DownloadError, match="is a link"):
        extract(zip_path, tmp_path / "out", md5_required=False)


def test_a_corrupt_crc_is_caught(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", nbia_entries())
    data = bytearray(zip_path.read_bytes())
    offset = data.find(DCM[1][:200]) + 140
    data[offset] ^= 0xFF
    zip_path.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="corrupt"):
        extract(zip_path, tmp_path / "out")


def test_a_truncated_zip_does_not_open(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", nbia_entries())
    zip_path.write_bytes(zip_path.read_bytes()[:300])
    with pytest.raises(DownloadError, match="does not open"):
        extract(zip_path, tmp_path / "out")


def test_a_wrong_md5(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"MD5 mismatch for 00000002\.dcm"):
        extract(make_zip(tmp_path / "s.zip", nbia_entries(wrong=True)), tmp_path / "out")


def test_md5_file_missing_when_requested(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"no md5hashes\.csv"):
        extract(make_zip(tmp_path / "s.zip", nbia_entries(md5=False)), tmp_path / "out")


def test_missing_instances_and_wrong_size(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", nbia_entries(md5=False))
    with pytest.raises(DownloadError, match="holds 3 DICOM instances, the series metadata says 4"):
        extract(zip_path, tmp_path / "a", expected_count=4, md5_required=False)
    with pytest.raises(DownloadError, match="add up to"):
        extract(zip_path, tmp_path / "b", expected_bytes=1, md5_required=False)


def test_duplicate_names_after_sanitising(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", [("./a.dcm", DCM[0]), ("a.dcm", DCM[1])])
    with pytest.raises(DownloadError, match="appears twice"):
        extract(zip_path, tmp_path / "out", expected_count=None, expected_bytes=None, md5_file=None)


def test_server_file_names_are_sanitised(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", [("we ird:name?.dcm", DCM[0])])
    result = extract(zip_path, tmp_path / "out", expected_count=1, expected_bytes=None, md5_file=None)
    assert result.files == ("we_ird_name_.dcm",)  # type: ignore[attr-defined]
