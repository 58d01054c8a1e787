"""rss: peak memory of decoding 1M NBIA v4 getSeries rows, each contender in a fresh process.

The body (1M rows of `_rows.v4_series_rows`, about 1 GB) is written to a temporary file once; each
run is ``python -m tests.benchmarks._rss MODE FILE``, which measures the peak RSS of the decode alone
over the RSS with the body already read. Contenders: ``json.loads`` (the baseline), orjson, the
hand-written msgspec Structs and the SDK (typed rows). The GC is left as each contender has it (the
SDK pauses it on large bodies; it changes no peak, since nothing is garbage until the decode ends).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from . import _rows
from ._common import Config, Figure, Target, progress, rotated
from ._procs import last_json, run_python
from .decode import rows_label

NAME = "rss"
TARGET = Target("<=", 1.0)
MODES = ("json", "orjson", "msgspec", "sdk")
CHUNK = 50_000


def write_body(path: Path, n: int) -> None:
    """``n`` rows as one JSON array, generated in chunks (the rows never all exist as dicts)."""
    with path.open("wb") as out:
        out.write(b"[")
        for start in range(0, n, CHUNK):
            chunk = _rows.jettison(_rows.v4_series_rows(min(CHUNK, n - start), seed=start))
            if start:
                out.write(b",")
            out.write(chunk[1:-1])
        out.write(b"]")


def run(config: Config) -> list[Figure]:
    n = config.pick(1_000_000, 50_000)
    reps = config.pick(5, 2)
    with tempfile.TemporaryDirectory(prefix="tcia-bench-rss-") as tmp:
        path = Path(tmp) / "series.json"
        write_body(path, n)
        size = path.stat().st_size / 1e6
        peaks: dict[str, list[float]] = {mode: [] for mode in MODES}
        for rep in range(reps):
            for mode in rotated(list(MODES), rep):
                report = last_json(
                    run_python(["-m", "tests.benchmarks._rss", mode, str(path)], timeout=900)[1]
                )
                if report["rows"] != n:
                    raise RuntimeError(f"{mode} decoded {report['rows']} rows, not {n}")
                peaks[mode].append(float(report["peak_mb"]))
            progress(
                f"rss: repetition {rep + 1}/{reps}: "
                + ", ".join(f"{m} +{v[-1]:.0f} MB" for m, v in peaks.items())
            )
    ratios = tuple(s / j for s, j in zip(peaks["sdk"], peaks["json"], strict=True))
    note = "median peak over the RSS with the body read: " + ", ".join(
        f"{mode} +{statistics.median(values):.0f} MB" for mode, values in peaks.items()
    )
    what = (
        f"fresh process, {rows_label(n)} of v4 getSeries ({size:.0f} MB body): SDK peak RSS of the decode "
        "(VmHWM delta) ÷ json.loads'"
    )
    return [Figure("peak RSS", what, ratios, TARGET, notes=(note,))]
