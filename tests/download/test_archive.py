"""Zip verification and safe extraction, one hostile or broken zip at a time."""

from __future__ import annotations

import hashlib
import stat
import sys
import time
import zipfile
from collections.abc import Callable
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


# -- the central directory is checked before anything is extracted ------------------------------
def _patch_method(path: Path, method: int) -> None:
    """Rewrite every entry's compression method in the local and central headers (zipfile cannot
    write deflate64, method 9, or an encrypted entry, so the tests make them by hand)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + offset : start + offset + 2] = method.to_bytes(2, "little")
            start += 4
    path.write_bytes(bytes(data))


def _set_flag(path: Path, flag: int) -> None:
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            old = int.from_bytes(data[start + offset : start + offset + 2], "little")
            data[start + offset : start + offset + 2] = (old | flag).to_bytes(2, "little")
            start += 4
    path.write_bytes(bytes(data))


def test_an_encrypted_entry_is_refused_before_extracting(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", nbia_entries())
    _set_flag(zip_path, 0x1)
    with pytest.raises(DownloadError, match="is encrypted"):
        extract(zip_path, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_compression_method_9_is_refused_before_extracting(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "s.zip", nbia_entries())
    _patch_method(zip_path, 9)  # deflate64: zipfile raises NotImplementedError on read
    with pytest.raises(DownloadError, match="compression method 9"):
        extract(zip_path, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_corrupt_lzma_entry_is_a_download_error(tmp_path: Path) -> None:
    zip_path = tmp_path / "s.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_LZMA) as archive:
        for name, data in nbia_entries(md5=False):
            archive.writestr(name, data)
    data = bytearray(zip_path.read_bytes())
    first = data.find(b"00000001.dcm") + len("00000001.dcm")
    for i in range(first + 10, first + 40):  # inside the LZMA stream of the first DICOM entry
        data[i] ^= 0x5A
    zip_path.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match=r"cannot be read \(LZMAError|is corrupt") as caught:
        extract(zip_path, tmp_path / "out", md5_required=False)
    assert caught.value.__cause__ is not None


def test_a_corrupt_bzip2_entry_is_a_download_error(tmp_path: Path) -> None:
    zip_path = tmp_path / "s.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_BZIP2) as archive:
        for name, data in nbia_entries(md5=False):
            archive.writestr(name, data)
    data = bytearray(zip_path.read_bytes())
    first = data.find(b"00000001.dcm") + len("00000001.dcm")
    for i in range(first + 4, first + 30):
        data[i] ^= 0x5A
    zip_path.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match=r"cannot be read|is corrupt"):
        extract(zip_path, tmp_path / "out", md5_required=False)


def test_200000_entries_for_a_one_image_series_are_refused_at_once(tmp_path: Path) -> None:
    zip_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(200_000):
            archive.writestr(f"{i:08d}.dcm", b"")
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"at least 2 DICOM instances, the series metadata says 1"):
        extract(zip_path, tmp_path / "out", expected_count=1, expected_bytes=None, md5_file=None)
    assert list((tmp_path / "out").iterdir()) == []  # nothing extracted
    assert time.monotonic() - started < 10


def test_declared_sizes_beyond_the_bound_are_refused_before_extracting(tmp_path: Path) -> None:
    # One entry inflating to 64 MiB of zeros (64 kB compressed) where the series has no size
    # in its metadata: the cap (max_bytes) refuses it from the central directory alone.
    zip_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("00000001.dcm", bytes(64 << 20))
    assert zip_path.stat().st_size < 1 << 20
    with pytest.raises(DownloadError, match=r"declare 67108864 bytes, more than the 1048576 allowed"):
        extract(
            zip_path,
            tmp_path / "out",
            expected_count=1,
            expected_bytes=None,
            md5_file=None,
            max_bytes=1 << 20,
        )
    assert list((tmp_path / "out").iterdir()) == []
    # With a FileSize in the metadata, the declared DICOM bytes must match it, also up front.
    with pytest.raises(DownloadError, match=r"add up to 67108864 bytes, the series metadata says 5000"):
        extract(zip_path, tmp_path / "out", expected_count=1, expected_bytes=5000, md5_file=None)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_empty_zip_or_one_with_only_a_license_is_no_series(tmp_path: Path) -> None:
    empty = make_zip(tmp_path / "empty.zip", [])
    with pytest.raises(DownloadError, match="no DICOM instances"):
        extract(empty, tmp_path / "a", expected_count=None, expected_bytes=None, md5_file=None)
    license_only = make_zip(tmp_path / "l.zip", [("LICENSE", b"CC BY 4.0\n")])
    with pytest.raises(DownloadError, match="no DICOM instances"):
        extract(license_only, tmp_path / "b", expected_count=None, expected_bytes=None, md5_required=False)


def _md5_calls(run: Callable[[], object]) -> int:
    """How many MD5 objects ``run`` creates (hashlib.md5 is a C function: profiled as c_call)."""
    calls = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event == "c_call" and getattr(arg, "__name__", "") in ("openssl_md5", "md5"):
            calls += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def test_md5s_are_computed_only_when_there_is_an_md5_file_to_check(tmp_path: Path) -> None:
    no_md5 = make_zip(tmp_path / "a.zip", nbia_entries(md5=False))
    with_md5 = make_zip(tmp_path / "b.zip", nbia_entries())
    for target in ("a1", "a2", "b1", "b2"):
        (tmp_path / target).mkdir()

    def plain(path: Path, target: str, **kw: object) -> Callable[[], object]:
        options: dict[str, object] = {
            "uid": "1.2.3",
            "expected_count": 3,
            "expected_bytes": sum(map(len, DCM)),
            "md5_file": "md5hashes.csv",
            "md5_required": True,
        }
        options.update(kw)
        return lambda: extract_verified(path, tmp_path / target, **options)  # type: ignore[arg-type]

    # The API offers no MD5 file (v3): no MD5 at all, CRC-32 only.
    assert _md5_calls(plain(no_md5, "a1", md5_file=None, md5_required=False)) == 0
    # MD5s offered but not requested: none computed either.
    assert _md5_calls(plain(with_md5, "b1", md5_required=False)) == 0
    # Offered and requested: one per DICOM entry, and they are checked.
    assert _md5_calls(plain(with_md5, "b2")) == 3
    # Requested, but the zip has no MD5 file: refused before hashing anything.
    with pytest.raises(DownloadError, match=r"no md5hashes\.csv"):
        _md5_calls(plain(no_md5, "a2"))
    assert list((tmp_path / "a2").iterdir()) == []


# -- the extraction-time bound: what a central directory declares is not trusted either -----------
def _lying(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A deflated zip whose local and central headers declare ``declared`` bytes per entry, while
    each entry's data inflates to ``real`` (a bomb the central directory hides)."""
    import io
    import struct

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, real, _ in entries:
            archive.writestr(name, real)
    data = bytearray(buffer.getvalue())
    local = central = 0
    for name, _, declared in entries:
        local = data.index(b"PK\x03\x04", local)
        struct.pack_into("<I", data, local + 22, declared)  # uncompressed size, local header
        central = data.index(b"PK\x01\x02", max(central, local))
        struct.pack_into("<I", data, central + 24, declared)  # uncompressed size, central directory
        local += 4
        central += 4
        assert name.encode() in data
    return bytes(data)


def test_an_entry_inflating_past_the_budget_is_stopped_while_extracting(tmp_path: Path) -> None:
    from tcia_sdk.download._archive import _extract_one

    zip_path = make_zip(tmp_path / "s.zip", [("00000001.dcm", bytes(256 << 10))])
    target = tmp_path / "out"
    target.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.infolist()[0]
        with pytest.raises(DownloadError, match="extracts to more bytes than this series may hold"):
            _extract_one(archive, info, target / "00000001.dcm", "1.2.3", 64 << 10, None)
    # It stopped at the budget: no more than one read past it reached the disk.
    assert (target / "00000001.dcm").stat().st_size <= 64 << 10


def test_a_central_directory_declaring_small_sizes_never_inflates_more(tmp_path: Path) -> None:
    zip_path = tmp_path / "bomb.zip"
    declared = len(DCM[0])
    zip_path.write_bytes(_lying([(f"{i:08d}.dcm", bytes(32 << 20), declared) for i in range(1, 4)]))
    assert zip_path.stat().st_size < 1 << 20
    target = tmp_path / "out"
    with pytest.raises(DownloadError, match=r"corrupt|more bytes than this series may hold"):
        extract(zip_path, target, expected_bytes=3 * declared, md5_file=None, md5_required=False)
    assert sum(p.stat().st_size for p in target.iterdir()) <= 3 * declared  # not 96 MiB


def test_a_zip_bomb_behind_small_declared_sizes_fails_the_series_leaving_nothing(
    tmp_path: Path, fake4: object
) -> None:
    import hashlib as _hashlib

    from tcia_sdk import download_series, nbia_v4
    from tcia_sdk.testing import FakeTCIA, LoopbackServer, Request, Response
    from tcia_sdk.testing._dataset import default_dataset

    from .conftest import FAST, outside

    assert isinstance(fake4, FakeTCIA)
    series = default_dataset()[0]
    bomb = 16 << 20

    def hostile(request: Request) -> Response:
        if request.path.endswith("getImage"):
            entries = [("LICENSE", b"CC BY 3.0\n", 10)]
            names = [f"{i:08d}.dcm" for i in range(1, len(series.instances) + 1)]
            entries += [(n, bytes(bomb), len(i.data)) for n, i in zip(names, series.instances, strict=True)]
            md5 = "Filename,MD5Hash\n" + "".join(
                f"{n},{_hashlib.md5(i.data).hexdigest()}\n"
                for n, i in zip(names, series.instances, strict=True)
            )
            entries.append(("md5hashes.csv", md5.encode(), len(md5)))
            return Response(200, _lying(entries), {"Content-Type": "application/zip"})
        return fake4(request)  # type: ignore[operator]

    dest = tmp_path / "dest"
    with LoopbackServer(hostile) as srv:
        with nbia_v4.Client(base_url=fake4.base_url(srv.url, "nbia_v4"), retry_policy=FAST) as nbia:
            report = download_series(nbia, [series.uid], dest, retries=0)
    assert report[0].status == "failed"
    assert "corrupt" in str(report[0].error) or "more bytes than this series may hold" in str(report[0].error)
    assert outside(tmp_path, dest) == []
    dicoms = [p for p in dest.rglob("*") if p.is_file() and not p.is_relative_to(dest / ".tcia")]
    assert [p.name for p in dicoms] == ["metadata.csv"] or dicoms == []  # no series files left
    assert not any(p.is_file() and p.suffix == ".dcm" for p in dest.rglob("*"))
    assert not list((dest / ".tcia").glob("*/*.dcm"))
    assert not (dest / ".tcia" / "series" / f"{series.uid}.json").exists()  # never recorded as verified
