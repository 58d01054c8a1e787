"""`make live-check`, offline: against the fake it passes; a drifting or failing server is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tcia_sdk import livecheck
from tcia_sdk.testing import FakeTCIA, LoopbackServer, Request, Response, Status


def by_endpoint(checks: list[livecheck.EndpointCheck], version: str) -> dict[str, livecheck.EndpointCheck]:
    return {c.endpoint: c for c in checks if c.version == version}


def test_every_endpoint_of_every_version_passes_against_the_fake(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    status = livecheck.main(["--fake", "--writes", "--json", str(report), "--workdir", str(tmp_path / "w")])
    checks = json.loads(report.read_text())
    assert status == 0
    from tcia_sdk._versions import available_versions, load_version

    for version in available_versions():
        names = {c["endpoint"] for c in checks if c["version"] == version}
        assert {e.name for e in load_version(version).ENDPOINTS} <= names  # every endpoint, once
    statuses = {c["status"] for c in checks}
    assert statuses <= {"passed", "broken"}
    broken = sorted(c["endpoint"] for c in checks if c["status"] == "broken")
    assert broken == ["getStudyDrillDown", "getStudyDrillDownWithSeriesIds"]  # known to fail live
    downloads = [c for c in checks if c["endpoint"] == "download_series"]
    assert downloads
    assert all(c["status"] == "passed" and "verified" in c["detail"] for c in downloads)


class Drifting:
    """The fake, but getSeries grew a column and one row holds a value of the wrong type."""

    def __init__(self) -> None:
        self.fake = FakeTCIA(["nbia_v4"])

    def __call__(self, request: Request) -> Response:
        response = self.fake(request)
        if request.path.endswith("/getSeries") and isinstance(response.body, bytes) and response.body:
            rows: list[dict[str, Any]] = json.loads(response.body)
            for row in rows:
                row["ScannerRoom"] = "B2"
            rows[0]["ImageCount"] = "n/a"
            response.body = json.dumps(rows).encode()
        return response


def test_drift_and_failures_are_reported_per_endpoint(tmp_path: Path) -> None:
    app = Drifting()
    with LoopbackServer(app) as server:
        server.faults.add(Status(503, b"down for maintenance"), path="getPatientStudy", times=None)
        base = app.fake.base_url(server.url, "nbia_v4")
        checks = livecheck.check(
            ["nbia_v4"], {"nbia_v4": base}, workdir=tmp_path, client_options={"max_retries": 0}
        )
    found = by_endpoint(checks, "nbia_v4")
    series = found["getSeries"]
    assert series.status == "drift"
    assert series.unknown_columns == ("ScannerRoom",)
    assert len(series.odd_values) == 1
    assert "ImageCount" in series.odd_values[0]
    assert found["getPatientStudy"].status == "failed"
    assert "down for maintenance" in found["getPatientStudy"].detail
    assert found["getCollectionValues"].status == "passed"
    assert livecheck.exit_status(checks) == 1
    text = livecheck.render(checks)
    assert "unknown columns: ScannerRoom" in text
    assert livecheck.exit_status([c for c in checks if c.status != "failed"]) == 3


def test_a_retired_api_is_skipped_without_a_base_url(tmp_path: Path) -> None:
    (only,) = livecheck.check(["v3"], {}, workdir=tmp_path)
    assert (only.status, only.endpoint) == ("skipped", "*")
    assert "retired" in only.detail


def test_usage_errors_exit_2() -> None:
    assert livecheck.main(["--versions", "v9"]) == 2
    assert livecheck.main(["--base-url", "nonsense"]) == 2
