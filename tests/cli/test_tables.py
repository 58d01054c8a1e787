"""Tables people can read and pipes scripts can parse: the spec's display columns by default, the
caller's on request, UIDs never cut, piped output never truncated or wrapped."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
from collections.abc import Callable

from rich.console import Console

from tcia_sdk._versions import load_version
from tcia_sdk.cli._columns import FALLBACK_COLUMNS
from tcia_sdk.cli._output import render_table
from tcia_sdk.testing import RunningFake
from tcia_sdk.testing._dataset import default_dataset

from .helpers import TCIA, Ran, against, clean_env, run_installed

Tcia = Callable[..., Ran]
DATASET = default_dataset()
SERIES_MODEL = load_version("nbia_v4").MODELS["Series"]
DISPLAY = [f.wire for f in SERIES_MODEL.fields if f.display]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # styles and cursor moves of a terminal


def test_default_columns_are_the_spec_display_fields(tcia: Tcia) -> None:
    assert 2 <= len(DISPLAY) < len(SERIES_MODEL.fields)
    code, out, _ = tcia("nbia_v4", "get-series")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t") == DISPLAY
    assert [line.split("\t")[0] for line in lines[1:]] == [s.uid for s in DATASET]


def test_a_model_without_display_fields_shows_its_first_few(tcia: Tcia) -> None:
    model = load_version("v3").MODELS["Series"]
    assert not any(f.display for f in model.fields)
    code, out, _ = tcia("v3", "get-series")
    assert code == 0
    assert out.splitlines()[0].split("\t") == [f.wire for f in model.fields[:FALLBACK_COLUMNS]]


def test_columns_all_columns_and_limit(tcia: Tcia, fake_tcia: RunningFake) -> None:
    code, out, _ = tcia("nbia_v4", "get-series", "--columns", "ImageCount,seriesinstanceuid,patient_id")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "ImageCount\tSeriesInstanceUID\tPatientID"  # any spelling, the wire name shown
    assert lines[1] == f"{len(DATASET[0].instances)}\t{DATASET[0].uid}\t{DATASET[0].row['PatientID']}"
    code, out, _ = tcia("nbia_v4", "get-series", "--all-columns", "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t") == [f.wire for f in SERIES_MODEL.fields]
    assert len(lines) == 3
    assert all(len(line.split("\t")) == len(SERIES_MODEL.fields) for line in lines)
    code, out, _ = tcia("nbia_v4", "get-series", "--columns", "SeriesInstanceUID", "-o", "json", "--limit=1")
    assert json.loads(out) == [{"SeriesInstanceUID": DATASET[0].uid}]
    code, _, err = tcia("nbia_v4", "get-series", "--columns", "NoSuchColumn")
    assert code == 2
    assert "NoSuchColumn" in err
    assert "SeriesInstanceUID" in err  # lists what there is
    code, _, _ = tcia("nbia_v4", "get-series", "--limit", "0")
    assert code == 2


def test_csv_has_every_column_by_default(tcia: Tcia) -> None:
    code, out, _ = tcia("nbia_v4", "get-series", "-o", "csv")
    assert code == 0
    assert out.splitlines()[0].split(",") == [f.wire for f in SERIES_MODEL.fields]


def test_piped_output_is_never_truncated_or_wrapped_at_80_columns(fake_tcia: RunningFake) -> None:
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"), "get-series", "--all-columns", env=clean_env(COLUMNS="80")
    )
    assert ran.returncode == 0
    lines = ran.stdout.splitlines()
    assert len(lines) == 1 + len(DATASET)  # one line per row: nothing wrapped
    assert max(len(line) for line in lines) > 80  # longer than the terminal, and left so
    assert "…" not in ran.stdout
    for series, line in zip(DATASET, lines[1:], strict=True):
        cells = line.split("\t")
        assert cells[0] == series.uid
        assert cells[1] == series.row["StudyInstanceUID"]
        assert series.row["SeriesDescription"] in cells


def _on_a_terminal(args: list[str], columns: int) -> str:
    """The installed command's output with stdout on a pseudo-terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    env = clean_env(COLUMNS=str(columns), TERM="xterm")
    with subprocess.Popen([str(TCIA), *args], stdout=follower, stderr=subprocess.PIPE, env=env) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    return ANSI.sub("", b"".join(chunks).decode("utf-8")).replace("\r\n", "\n")


def test_terminal_tables_never_cut_uids(fake_tcia: RunningFake) -> None:
    args = [*against(fake_tcia, "nbia_v4"), "get-series"]
    narrow = _on_a_terminal(args, 80)
    assert "…" not in narrow
    for series in DATASET:
        assert series.uid in narrow  # whole, on one line
        assert series.row["SeriesDescription"] in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())  # and it fits the terminal
    wide = _on_a_terminal(args, 200)
    header = next(line for line in wide.splitlines() if "SeriesInstanceUID" in line)
    assert header.split() == DISPLAY  # a table, every display column side by side
    for series in DATASET:
        assert any(line.split()[:1] == [series.uid] for line in wide.splitlines())


def _render(width: int, columns: list[str], records: list[dict[str, object]]) -> str:
    out = io.StringIO()
    render_table(Console(file=out, width=width, color_system=None), columns, records)
    return out.getvalue()


def test_rendering_keeps_uid_values_whole_whatever_the_column_name() -> None:
    uids = [s.uid for s in DATASET]
    records: list[dict[str, object]] = [
        {"studyId": uids[0], "seriesList": uids[1:4], "description": "a [bold]literal[/bold] text " * 3}
    ]
    for width in (40, 80, 120):
        text = _render(width, ["studyId", "seriesList", "description"], records)
        assert "…" not in text
        for uid in uids[:4]:
            assert uid in text  # a list of UIDs: one whole UID a line
        assert "[bold]literal[/bold]" in text  # values are text, not markup


def test_rendering_an_empty_result_says_so() -> None:
    assert "(no results)" in _render(80, ["SeriesInstanceUID"], [])
