"""The tcia command line against the fake TCIA (click's CliRunner, and one real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcia_sdk import write_manifest
from tcia_sdk._versions import available_versions, load_version
from tcia_sdk.cli import cli
from tcia_sdk.testing import RunningFake, Status
from tcia_sdk.testing._dataset import default_dataset

SERIES = default_dataset()[0]


def run(fake: RunningFake, version: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["--api", version, "--base-url", fake.base_url(version), "--max-retries", "0", *args],
        env={"TCIA_API_KEY": fake.api_key},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


@pytest.mark.parametrize("version", available_versions())
def test_every_endpoint_has_a_command(fake_tcia: RunningFake, version: str) -> None:
    code, output = run(fake_tcia, version, "endpoints", "-o", "json")
    assert code == 0
    listed = {row["command"]: row["endpoint"] for row in json.loads(output)}
    for endpoint in load_version(version).ENDPOINTS:
        assert listed[endpoint.python_name.replace("_", "-")] == endpoint.name
        help_code, help_text = run(fake_tcia, version, endpoint.python_name.replace("_", "-"), "--help")
        assert help_code == 0
        for param in endpoint.params:
            assert param.wire in help_text  # each parameter is an option naming its wire key


def test_table_json_and_csv_output(fake_tcia: RunningFake) -> None:
    code, table = run(fake_tcia, "nbia_v4", "get-modality-values", "--collection", "TCGA-FAKE")
    assert code == 0
    assert "Modality" in table
    assert "MR" in table
    code, out = run(fake_tcia, "nbia_v4", "get-series", "--collection", "TCGA-FAKE", "-o", "json")
    rows = json.loads(out)
    assert [r["SeriesInstanceUID"] for r in rows] == [s.uid for s in default_dataset()[:4]]
    assert rows[0]["SeriesDate"] == "11-21-2001"  # the wire format, as the API writes it
    code, out = run(fake_tcia, "v3", "get-patient", "--collection", "TCGA-FAKE", "-o", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [r["PatientID"] for r in parsed] == ["TCGA-FK-0001", "TCGA-FK-0002"]
    code, out = run(
        fake_tcia, "nbia_v4", "get-series-size", "--series-instance-uid", SERIES.uid, "-o", "json"
    )
    assert json.loads(out) == [{"TotalSizeInBytes": SERIES.file_size, "ObjectCount": len(SERIES.instances)}]


def test_date_options_and_binary_to_file(fake_tcia: RunningFake, tmp_path: Path) -> None:
    code, out = run(
        fake_tcia,
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
    code, out = run(
        fake_tcia,
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


def test_errors_are_one_line_and_exit_non_zero(fake_tcia: RunningFake) -> None:
    fake_tcia.faults.add(Status(400, b"Series not public."), path="getSeries", times=1)
    code, out = run(fake_tcia, "nbia_v4", "get-series")
    assert code == 1
    assert "Error: getSeries: HTTP 400 Bad Request: Series not public." in out
    assert "Traceback" not in out


def test_download_from_a_query_with_dry_run_and_summary(fake_tcia: RunningFake, tmp_path: Path) -> None:
    code, out = run(
        fake_tcia,
        "nbia_v4",
        "download",
        "--where",
        "Collection=TCGA-FAKE",
        "--where",
        "Modality=MR",
        "--dry-run",
    )
    mr = [s for s in default_dataset() if s.row["Modality"] == "MR" and s.row["Collection"] == "TCGA-FAKE"]
    assert code == 0
    assert out.strip() == (
        f"{len(mr)} series, {sum(len(s.instances) for s in mr)} instances, "
        f"{sum(s.file_size for s in mr):,} bytes"
    )
    assert fake_tcia.count("getImage") == 0
    code, out = run(
        fake_tcia,
        "nbia_v4",
        "download",
        "--where",
        "collection=TCGA-FAKE",
        "--dest",
        str(tmp_path),
        "--layout",
        "flat",
        "--no-progress",
    )
    assert code == 0
    assert out.startswith("4 downloaded, 0 skipped, 0 failed")
    code, out = run(
        fake_tcia,
        "nbia_v4",
        "download",
        "--where",
        "Collection=TCGA-FAKE",
        "--dest",
        str(tmp_path),
        "--layout",
        "flat",
        "--no-progress",
    )
    assert out.startswith("0 downloaded, 4 skipped, 0 failed")


def test_download_from_uids_and_manifest_reports_failures(fake_tcia: RunningFake, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "cart.tcia", [SERIES.uid, "1.2.3.999"])
    code, out = run(
        fake_tcia,
        "v3",
        "download",
        "--manifest",
        str(manifest),
        "--dest",
        str(tmp_path / "d"),
        "--no-progress",
        "--retries",
        "0",
    )
    assert code == 1
    assert "1 downloaded, 0 skipped, 1 failed" in out
    assert "1.2.3.999" in out
    code, out = run(fake_tcia, "v3", "download", SERIES.uid, "--dest", str(tmp_path / "d"), "--no-progress")
    assert code == 0
    code, out = run(fake_tcia, "v3", "download", "--dest", str(tmp_path / "d"))
    assert code == 2
    assert "give series UIDs, --manifest or --where" in out


def test_installed_tcia_script_runs(fake_tcia: RunningFake) -> None:
    script = Path(sys.executable).parent / "tcia"
    out = subprocess.run(
        [str(script), "--base-url", fake_tcia.base_url("nbia_v4"), "get-collection-values", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == ["TCGA-FAKE", "PHANTOM-FAKE"]
