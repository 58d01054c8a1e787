"""download: one large series zip streamed from loopback, SDK against raw httpx.stream.

The server process streams a valid stored zip in 1 MiB chunks without a Content-Length. Each
repetition downloads it with ``Client.get_image(..., to=path)``, with ``httpx.stream`` writing to a
file, and (informational) with ``httpx.stream`` plus the ``fsync`` the SDK does before renaming its
temporary file into place. Each run is a fresh process (`_download_client`) that also reports its
idle and peak RSS; the runs take turns at going first, every file is deleted right after its run,
and dirty pages are flushed (``os.sync``) after each run so that no run pays for another's writeback.
A first raw run warms up both processes and is not recorded.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from ._common import Config, Figure, Target, progress, rotated
from ._procs import ServerProcess, last_json, run_python

NAME = "download"
TARGET_SPEED = Target(">=", 0.9)
TARGET_RSS = Target("<", 60.0, "< +60 MB")
MIB = 1 << 20
UID = "1.3.6.1.4.1.14519.5.2.1.9999.9999.1411"
MODES = ["raw", "sdk", "raw_fsync"]


def _one(mode: str, base: str, folder: Path, size: int) -> dict[str, Any]:
    path = folder / f"{mode}.zip"
    try:
        _, out = run_python(["-m", "tests.benchmarks._download_client", mode, base, UID, str(path)])
    finally:
        path.unlink(missing_ok=True)
        for partial in folder.glob(".tcia-partial-*"):
            partial.unlink(missing_ok=True)
        os.sync()
    report = last_json(out)
    if report["file_bytes"] != report["bytes"] or report["bytes"] < size:
        raise RuntimeError(f"{mode}: wrote {report['bytes']} bytes, expected a zip of at least {size}")
    if report["entries"] != size // MIB:
        raise RuntimeError(f"{mode}: the zip has {report['entries']} entries, not {size // MIB}")
    return report


def _speed_ratios(reports: dict[str, list[dict[str, Any]]], baseline: str) -> tuple[float, ...]:
    """Throughput of the SDK over the baseline's, per repetition (the same bytes each side)."""
    pairs = zip(reports[baseline], reports["sdk"], strict=True)
    return tuple(base["seconds"] / sdk["seconds"] for base, sdk in pairs)


def _rss_mb(report: dict[str, Any]) -> float:
    return float(report["peak_kib"] - report["idle_kib"]) / 1024


def run(config: Config) -> list[Figure]:
    size = config.pick(1024 * MIB, 64 * MIB)
    reps = config.pick(7, 2)
    reports: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with (
        ServerProcess("zip", "--size", str(size)) as server,
        tempfile.TemporaryDirectory(prefix="tcia-bench-download-") as tmp,
    ):
        base = server.url + "/services/v3"
        _one("raw", base, Path(tmp), size)  # warm-up, not recorded: first-touch costs of both processes
        for rep in range(reps):
            for mode in rotated(MODES, rep):
                reports[mode].append(_one(mode, base, Path(tmp), size))
            seconds = ", ".join(f"{mode} {reports[mode][-1]['seconds']:.2f} s" for mode in MODES)
            peak = _rss_mb(reports["sdk"][-1])
            progress(f"download: repetition {rep + 1}/{reps}: {seconds}, sdk peak {peak:+.1f} MB")
    mb = size / MIB
    speeds = ", ".join(f"{m} {statistics.median(mb / r['seconds'] for r in reports[m]):.0f}" for m in MODES)
    raw_rss = statistics.median(_rss_mb(r) for r in reports["raw"])
    reset = all(r["peak_reset"] for r in reports["sdk"])
    what = f"{mb:.0f} MiB zip in 1 MiB chunks, no Content-Length: SDK get_image(to=path) throughput ÷"
    return [
        Figure(
            "download throughput",
            f"{what} raw httpx.stream to a file",
            _speed_ratios(reports, "raw"),
            TARGET_SPEED,
            notes=(f"median MiB/s: {speeds}",),
        ),
        Figure(
            "download vs raw+fsync",
            f"{what} raw httpx.stream to a file + fsync (the SDK's durability step)",
            _speed_ratios(reports, "raw_fsync"),
            Target(None),
        ),
        Figure(
            "download peak RSS",
            f"SDK get_image of the {mb:.0f} MiB zip, fresh process: peak RSS (VmHWM) - idle RSS",
            tuple(_rss_mb(r) for r in reports["sdk"]),
            TARGET_RSS,
            unit="MB",
            notes=(
                f"raw httpx.stream, same measure: {raw_rss:+.1f} MB (median)"
                + ("" if reset else "; VmHWM could not be reset, so the peak includes start-up"),
            ),
        ),
    ]
