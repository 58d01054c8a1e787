"""csv: NBIA v4 getSeriesMetadata, 10k rows of CSV as the server writes it, against csv.DictReader.

The body is `_rows.metadata_csv`: a header of wire names, every cell quoted (``toCsvQuoted``), NULLs
as empty cells, pixel spacing and slice thickness as joined lists (``"0.703125, 0.78125"``). The SDK
runs its real path, `decode_csv_result`, from a fresh response each time (its text is decoded from
the bytes, as the baseline's is) and with cold memo tables. Baseline: ``csv.DictReader`` over the
same text, decoded from the same bytes; ``csv.reader`` is shown for scale. GC paused for all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import partial

from tcia_sdk._runtime.decode import decode_csv_result
from tcia_sdk.nbia_v4._endpoints import GET_SERIES_METADATA

from . import _rows
from ._common import Config, Figure, Target, progress, rotated, timed
from .decode import context, forget, ratio_note, rows_label

NAME = "csv"
TARGET = Target("<=", 1.5)


def run(config: Config) -> list[Figure]:
    n = config.pick(10_000, 2_000)
    reps = config.pick(9, 3)
    body = _rows.metadata_csv(n).encode()

    def dict_reader() -> object:
        return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))

    def reader() -> object:
        return list(csv.reader(io.StringIO(body.decode("utf-8"))))

    ctx = context(GET_SERIES_METADATA, body, "text/csv")
    sample = decode_csv_result(ctx)
    if len(sample) != n or ctx.odd or sample[0].pixel_spacing_row_mm is None:
        raise RuntimeError(f"the SDK did not decode the CSV cleanly: {len(sample)} rows, {ctx.odd[:3]}")
    times: dict[str, list[float]] = {"json": [], "csv.reader": [], "sdk": []}  # "json": the baseline slot
    for rep in range(reps):
        for name in rotated(list(times), rep):
            run_one: Callable[[], object]
            if name == "sdk":
                forget()
                fresh = context(GET_SERIES_METADATA, body, "text/csv")
                run_one = partial(decode_csv_result, fresh)
            else:
                run_one = dict_reader if name == "json" else reader
            elapsed, result = timed(run_one, pause_gc=True)
            del result
            times[name].append(elapsed)
        progress(f"csv: repetition {rep + 1}/{reps}")
    ratios = tuple(s / d for s, d in zip(times["sdk"], times["json"], strict=True))
    note = ratio_note("contenders ÷ csv.DictReader", times, "csv.DictReader")
    what = (
        f"getSeriesMetadata CSV ({rows_label(n)}, {len(body) / 1e6:.1f} MB, every cell quoted, "
        "joined pixel spacings): SDK typed rows ÷ csv.DictReader of the same text, GC paused for all"
    )
    return [Figure("decode CSV", what, ratios, TARGET, notes=(note,))]
