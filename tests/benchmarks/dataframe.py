"""dataframe: 100k NBIA v4 getSeries rows from the body to a pandas DataFrame.

SDK: `decode_json_result` (cold memo tables) then `tcia_sdk.to_dataframe`, which gives the spec's
nullable dtypes (``string``, ``Int64``, ``boolean``, ``datetime64``). Baseline:
``pandas.DataFrame.from_records(json.loads(body))``, untyped ``object`` and ``float`` columns.
Both start from the same bytes; the note also gives `to_dataframe` of the decoded models alone.
GC paused for all.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from tcia_sdk import to_dataframe
from tcia_sdk._runtime.decode import decode_json_result
from tcia_sdk.nbia_v4._endpoints import GET_SERIES

from . import _rows
from ._common import Config, Figure, Target, progress, rotated, timed
from .decode import context, forget, ratio_note, rows_label

NAME = "dataframe"
TARGET = Target("<=", 1.5)


def _records(body: bytes) -> Any:
    import pandas as pd

    return pd.DataFrame.from_records(json.loads(body))


def _sdk(body: bytes) -> Any:
    return to_dataframe(decode_json_result(context(GET_SERIES, body)))


def run(config: Config) -> list[Figure]:
    n = config.pick(100_000, 10_000)
    reps = config.pick(7, 3)
    body = _rows.jettison(_rows.v4_series_rows(n))
    models = decode_json_result(context(GET_SERIES, body))
    frame = to_dataframe(models)
    if len(frame) != n or str(frame["ImageCount"].dtype) != "Int64":
        raise RuntimeError(f"to_dataframe gave {len(frame)} rows, ImageCount {frame['ImageCount'].dtype}")
    del frame
    runners = {
        "json": partial(_records, body),
        "sdk": partial(_sdk, body),
        "to_dataframe alone": partial(to_dataframe, models),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    for rep in range(reps):
        for name in rotated(list(runners), rep):
            forget()
            elapsed, result = timed(runners[name], pause_gc=True)
            del result
            times[name].append(elapsed)
        progress(f"dataframe: repetition {rep + 1}/{reps}")
    ratios = tuple(s / j for s, j in zip(times["sdk"], times["json"], strict=True))
    note = ratio_note("contenders ÷ from_records(json.loads)", times, "from_records(json.loads(body))")
    what = (
        f"v4 getSeries body ({rows_label(n)}) to a DataFrame: decode + to_dataframe (typed, nullable "
        "dtypes) ÷ pandas.DataFrame.from_records(json.loads(body)), GC paused for all"
    )
    return [Figure("to_dataframe", what, ratios, TARGET, notes=(note,))]
