"""The tcia command line against the fake TCIA: every endpoint a command, outputs, downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tcia_sdk import write_manifest
from tcia_sdk._versions import available_versions, load_version
from tcia_sdk.cli._options import offered, option_name
from tcia_sdk.testing import RunningFake, Status
from tcia_sdk.testing._dataset import default_dataset

from .helpers import Ran, against, run_installed

SERIES = default_dataset()[0]
Tcia = Callable[..., Ran]


@pytest.mark.parametrize("version", available_versions())
def test_every_endpoint_has_a_command(tcia: Tcia, version: str) -> None:
    code, out, _ = tcia(version, "endpoints", "-o", "json")
    assert code == 0
    listed = {row["command"]: row["endpoint"] for row in json.loads(out)}
    for endpoint in load_version(version).ENDPOINTS:
        assert listed[endpoint.python_name.replace("_", "-")] == endpoint.name
        help_code, help_text, _ = tcia(version, endpoint.python_name.replace("_", "-"), "--help")
        assert help_code == 0
        for param in endpoint.params:
            if offered(param):
                # each parameter is an option naming its wire key, or its kind of criterion
                assert (param.criterion or param.wire) in help_text
                assert option_name(param) in help_text
            else:  # set by the SDK: internal, or the pager's start
                assert f"{option_name(param)} " not in help_text


def test_table_json_and_csv_output(tcia: Tcia) -> None:
    code, table, _ = tcia("nbia_v4", "get-modality-values", "--collection", "TCGA-FAKE")
    assert code == 0
    assert table.splitlines() == ["Modality", "MR", "CT"]  # piped: TSV, one value a line
    code, out, _ = tcia("nbia_v4", "get-series", "--collection", "TCGA-FAKE", "-o", "json")
    rows = json.loads(out)
    assert [r["SeriesInstanceUID"] for r in rows] == [s.uid for s in default_dataset()[:4]]
    assert rows[0]["SeriesDate"] == "11-21-2001"  # the wire format, as the API writes it
    code, out, _ = tcia("v3", "get-patient", "--collection", "TCGA-FAKE", "-o", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [r["PatientID"] for r in parsed] == ["TCGA-FK-0001", "TCGA-FK-0002"]
    code, out, _ = tcia("nbia_v4", "get-series-size", "--series-instance-uid", SERIES.uid, "-o", "json")
    assert json.loads(out) == [{"TotalSizeInBytes": SERIES.file_size, "ObjectCount": len(SERIES.instances)}]
    code, out, _ = tcia("nbia_v4", "get-collection-values", "-o", "json")
    assert json.loads(out) == ["TCGA-FAKE", "PHANTOM-FAKE"]  # values stay a list of strings


def test_date_options_and_binary_to_file(tcia: Tcia, fake_tcia: RunningFake, tmp_path: Path) -> None:
    code, out, _ = tcia(
        "nbia_v4",
        "new-patients-in-collection",
        "--collection",
        "TCGA-FAKE",
        "--from-date",
        "2014-01-01",
        "-o",
        "json",
    )
    assert code == 0
    assert len(json.loads(out)) == 2
    assert dict(fake_tcia.server.requests[-1].query)["fromDate"] == "01-01-2014"
    target = tmp_path / "one.dcm"
    code, out, _ = tcia(
        "nbia_v4",
        "get-single-image",
        "--series-instance-uid",
        SERIES.uid,
        "--sop-instance-uid",
        SERIES.instances[0].sop_instance_uid,
        "--to",
        str(target),
    )
    assert code == 0
    assert target.read_bytes() == SERIES.instances[0].data
    assert out == f"wrote {target} ({len(SERIES.instances[0].data):,} bytes)\n"


def test_errors_are_one_line_and_exit_non_zero(tcia: Tcia, fake_tcia: RunningFake) -> None:
    fake_tcia.faults.add(Status(400, b"Series not public."), path="getSeries", times=1)
    code, out, err = tcia("nbia_v4", "get-series")
    assert code == 1
    assert out == ""
    assert err.startswith("Error: getSeries: HTTP 400 Bad Request: Series not public.")
    assert len(err.splitlines()) == 1
    html = b"<html>\n<body>\n<h1>Proxy Error</h1>\n<p>The gateway\ntimed out</p>\n</body></html>"
    fake_tcia.faults.add(Status(502, html, {"Content-Type": "text/html"}), path="getSeries", times=1)
    code, _, err = tcia("nbia_v4", "get-series")
    assert code == 1
    assert len(err.splitlines()) == 1  # a multi-line server body is folded into the one line
    assert "502" in err


def test_download_from_a_query_with_dry_run_and_summary(
    tcia: Tcia, fake_tcia: RunningFake, tmp_path: Path
) -> None:
    code, out, _ = tcia(
        "nbia_v4", "download", "--where", "Collection=TCGA-FAKE", "--where", "Modality=MR", "--dry-run"
    )
    mr = [s for s in default_dataset() if s.row["Modality"] == "MR" and s.row["Collection"] == "TCGA-FAKE"]
    size = sum(s.file_size for s in mr)
    assert code == 0
    assert out.strip() == (
        f"{len(mr)} series, {sum(len(s.instances) for s in mr)} instances, "
        f"{size / 1000:.1f} kB ({size:,} bytes)"
    )
    assert fake_tcia.count("getImage") == 0
    assert not (tmp_path / "nothing").exists()
    args = ["download", "--where", "collection=TCGA-FAKE", "--dest", str(tmp_path), "--layout", "flat"]
    code, out, _ = tcia("nbia_v4", *args, "--no-progress")
    assert code == 0
    assert out.startswith("4 downloaded, 0 skipped, 0 failed")
    code, out, _ = tcia("nbia_v4", *args, "--no-progress")
    assert out.startswith("0 downloaded, 4 skipped, 0 failed")


def test_download_from_uids_and_manifest_reports_failures(tcia: Tcia, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "cart.tcia", [SERIES.uid, "1.2.3.999"])
    dest = str(tmp_path / "d")
    code, out, _ = tcia(
        "v3", "download", "--manifest", str(manifest), "--dest", dest, "--no-progress", "--retries", "0"
    )
    assert code == 1
    assert "1 downloaded, 0 skipped, 1 failed" in out
    assert "1.2.3.999" in out
    code, out, _ = tcia("v3", "download", SERIES.uid, "--dest", dest, "--no-progress")
    assert code == 0
    code, out, err = tcia("v3", "download", "--dest", dest)
    assert code == 2
    assert "give series UIDs, --manifest or --where" in err


def test_installed_tcia_script_runs(fake_tcia: RunningFake) -> None:
    ran = run_installed(*against(fake_tcia, "nbia_v4"), "get-collection-values", "-o", "json")
    assert ran.returncode == 0
    assert json.loads(ran.stdout) == ["TCGA-FAKE", "PHANTOM-FAKE"]


@pytest.mark.parametrize("version", ["nbia_v1", "nbia_v2"])
def test_new_file_names_is_a_flag_that_sends_the_wire_value(
    fake_tcia: RunningFake, tmp_path: Path, version: str
) -> None:
    from .helpers import clean_env

    env = clean_env(NBIA_USERNAME="alice", NBIA_PASSWORD="pw")
    base = ["--api", version, "--server", fake_tcia.base_url(version), "get-image"]
    for flag, wire in ((["--new-file-names"], {"NewFileNames": "Yes"}), ([], {})):
        target = tmp_path / f"{len(flag)}.zip"
        ran = run_installed(*base, "--series-instance-uid", SERIES.uid, *flag, "--to", str(target), env=env)
        assert ran.returncode == 0, ran.stderr
        assert target.stat().st_size > 0
        sent = [dict(r.query) for r in fake_tcia.server.requests if r.path.endswith("getImage")][-1]
        assert sent == {"SeriesInstanceUID": SERIES.uid, **wire}
