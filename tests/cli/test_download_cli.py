"""``tcia download`` for people: bars that count what they say, sizes people read, and progress
shown through the installed command."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tcia_sdk.cli._download import ByteSize
from tcia_sdk.cli._progress import DownloadProgress, human_bytes
from tcia_sdk.download import Progress
from tcia_sdk.testing import RunningFake
from tcia_sdk.testing._dataset import default_dataset

from .helpers import against, one_error_line, run_installed

TCGA = [s for s in default_dataset() if s.row["Collection"] == "TCGA-FAKE"]


def test_human_sizes() -> None:
    assert human_bytes(1_234_567_890) == "1.2 GB"
    assert human_bytes(14_096) == "14.1 kB"
    assert human_bytes(999) == "999 bytes"


def _drawn(events: list[Progress]) -> tuple[DownloadProgress, str, str]:
    """The series line and the byte line of the bars after ``events``."""
    console = Console(file=io.StringIO(), width=100, color_system=None)
    with DownloadProgress(4, show=True, console=console) as tracker:
        for event in events:
            tracker(event)
        bars = tracker.bars
        assert bars is not None
        series, dicom = bars.tasks
        assert (series.completed, series.total) == (events[-1].series_done, events[-1].series_total)
        assert (dicom.completed, dicom.total) == (events[-1].bytes_done, events[-1].bytes_expected)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    series_line = next(line for line in lines if line.startswith("series"))
    bytes_line = next(line for line in lines if line.startswith("DICOM"))
    return tracker, series_line, bytes_line


def test_bars_count_series_in_series_and_dicom_bytes_against_dicom_bytes() -> None:
    # The engine's contract: bytes_done and bytes_expected are both DICOM bytes.
    tracker, series_line, bytes_line = _drawn(
        [
            Progress("bytes", TCGA[0].uid, 0, 4, 2_500, 14_096),
            Progress("series", TCGA[0].uid, 1, 4, 3_744, 14_096),
        ]
    )
    assert "1/4 series" in series_line
    assert "bytes" not in series_line  # the series bar counts series
    assert "3.7 kB/14.1 kB" in bytes_line
    assert (tracker.series_done, tracker.series_total) == (1, 4)
    _, _, unknown = _drawn([Progress("series", TCGA[0].uid, 1, 4, 3_744, None)])  # TCIA v3: no sizes
    assert "3.7 kB" in unknown
    assert "3.7 kB/" not in unknown  # no total it does not have


def test_progress_through_the_installed_command(fake_tcia: RunningFake, tmp_path: Path) -> None:
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"),
        "download",
        "--where",
        "Collection=TCGA-FAKE",
        "--dest",
        str(tmp_path),
        "--progress",
    )
    assert ran.returncode == 0, ran.stderr
    size = human_bytes(sum(s.file_size for s in TCGA))
    assert f"{len(TCGA)}/{len(TCGA)} series" in ran.stderr  # the bars go to stderr
    assert f"{size}/{size}" in ran.stderr  # the byte bar ends exactly at its total
    assert ran.stdout.startswith(f"{len(TCGA)} downloaded")  # stdout keeps the summary only
    quiet = run_installed(
        *against(fake_tcia, "nbia_v4"), "download", "--where", "Collection=TCGA-FAKE", "--dest", str(tmp_path)
    )
    assert quiet.stderr == ""  # no terminal, no bars
    assert quiet.stdout.startswith(f"0 downloaded, {len(TCGA)} skipped")


def test_dry_run_shows_human_sizes_and_unknown_series(fake_tcia: RunningFake) -> None:
    size = sum(s.file_size for s in TCGA)
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"), "download", *(s.uid for s in TCGA), "1.2.3.4.999", "--dry-run"
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        f"{len(TCGA)} series, {sum(len(s.instances) for s in TCGA)} instances, "
        f"{human_bytes(size)} ({size:,} bytes)",
        "not found: 1.2.3.4.999",
    ]
    assert fake_tcia.count("getImage") == 0


def test_manifest_from_stdin(fake_tcia: RunningFake, tmp_path: Path) -> None:
    listing = run_installed(
        *against(fake_tcia, "nbia_v4"),
        "get-series",
        "--collection",
        "TCGA-FAKE",
        "--columns",
        "SeriesInstanceUID",
        "-o",
        "csv",
    )
    assert listing.returncode == 0
    download = [*against(fake_tcia, "nbia_v4"), "download", "--manifest", "-", "--dest", str(tmp_path)]
    ran = run_installed(*download, stdin=listing.stdout)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed")
    bad = run_installed(*download, stdin="SeriesInstanceUID\n../../etc\n")
    assert bad.returncode == 2
    line = one_error_line(bad.stderr)
    assert line.startswith("Error: <stdin>:2: '../../etc' is not a DICOM UID")
    assert "tcia-manifest-" not in line  # the temporary file is not what the user gave


def test_manifest_any_csv_and_the_sdks_own_metadata_csv(fake_tcia: RunningFake, tmp_path: Path) -> None:
    listing = run_installed(
        *against(fake_tcia, "nbia_v4"), "get-series", "--collection", "TCGA-FAKE", "-o", "csv"
    )
    assert listing.returncode == 0
    assert listing.stdout.count(",") > 10 * len(TCGA)  # every column, not one
    first = [*against(fake_tcia, "nbia_v4"), "download", "--dest", str(tmp_path / "a")]
    ran = run_installed(*first, "--manifest", "-", stdin=listing.stdout)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA)} downloaded")
    saved = tmp_path / "series.csv"
    saved.write_text(listing.stdout, encoding="utf-8")
    again = run_installed(*first, "--manifest", str(saved))
    assert again.stdout.startswith(f"0 downloaded, {len(TCGA)} skipped")
    metadata = tmp_path / "a" / "metadata.csv"
    copy = run_installed(
        *against(fake_tcia, "nbia_v4"), "download", "--manifest", str(metadata), "--dest", str(tmp_path / "b")
    )
    assert copy.returncode == 0, copy.stderr
    assert copy.stdout.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed")


def test_max_series_bytes_bounds_a_series_without_a_size(fake_tcia: RunningFake, tmp_path: Path) -> None:
    v3 = ["--api", "v3", "--server", fake_tcia.base_url("v3"), "--api-key", fake_tcia.api_key]
    args = [*v3, "download", TCGA[0].uid, "--retries", "0", "--no-progress"]
    small = run_installed(*args, "--dest", str(tmp_path / "small"), "--max-series-bytes", "1kB")
    assert small.returncode == 1  # TCIA v3 gives no FileSize: the cap is the bound
    assert "1 failed" in small.stdout
    large = run_installed(*args, "--dest", str(tmp_path / "large"), "--max-series-bytes", "10 MiB")
    assert large.returncode == 0, large.stderr
    bad = run_installed(*args, "--dest", str(tmp_path / "bad"), "--max-series-bytes", "lots")
    assert bad.returncode == 2
    assert "--max-series-bytes" in one_error_line(bad.stderr)


def test_byte_sizes() -> None:
    size = ByteSize()
    assert [size.convert(v, None, None) for v in ("2000", "2kB", "1.5 GiB", "500MB", "1b")] == [
        2000,
        2000,
        3 << 29,
        500_000_000,
        1,
    ]


def test_an_unknown_layout_keyword_is_a_usage_error(fake_tcia: RunningFake, tmp_path: Path) -> None:
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"),
        "download",
        TCGA[0].uid,
        "--dest",
        str(tmp_path),
        "--layout",
        "%Colection",
    )
    assert ran.returncode == 2
    assert "%Collection" in one_error_line(ran.stderr)  # the engine suggests the closest keyword
    assert fake_tcia.count("getImage") == 0
