"""Options from the spec's parameters: paged searches iterated, criteria as typed options, what the
SDK sets itself hidden; the same request the Python method makes; every command runs."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tcia_sdk._runtime.endpoint import Endpoint
from tcia_sdk._runtime.structure import unstructure
from tcia_sdk._versions import available_versions, load_version
from tcia_sdk.cli._options import offered, option_name
from tcia_sdk.nbia_v4 import Client
from tcia_sdk.testing import RunningFake
from tcia_sdk.testing._dataset import default_dataset

from .helpers import Ran

Tcia = Callable[..., Ran]
SERIES = default_dataset()[0]


def _search_forms(fake: RunningFake) -> list[dict[str, str]]:
    return [dict(r.form) for r in fake.server.requests if r.path.endswith("getSimpleSearch")]


def test_search_help_offers_typed_criteria_and_hides_the_page_start(tcia: Tcia) -> None:
    code, text, _ = tcia("nbia_v4", "get-simple-search", "--help")
    assert code == 0
    assert "--start" not in text  # the pager moves it
    assert "--page-size" in text
    assert "--patient-age FROM TO" in text
    assert "--released FROM TO" in text
    assert "--all-modalities" in text
    code, text, _ = tcia("nbia_v4", "get-manifest-for-simple-search", "--help")
    for internal in ("--sort-field", "--sort-direction", "--start", "--size "):
        assert internal not in text


def test_a_paged_search_is_iterated_to_its_end(tcia: Tcia, fake_tcia: RunningFake) -> None:
    with Client(base_url=fake_tcia.base_url("nbia_v4")) as client:
        expected = [unstructure(p) for p in client.get_simple_search(modality=["MR", "CT"])]
    assert len(expected) == 3
    fake_tcia.server.reset()
    args = ["get-simple-search", "--modality", "MR", "--modality", "CT", "--page-size", "1", "-o", "json"]
    code, out, _ = tcia("nbia_v4", *args)
    assert code == 0
    assert json.loads(out) == expected
    forms = _search_forms(fake_tcia)
    assert [f["start"] for f in forms] == ["0", "1", "2"]  # one page a request, to the total
    assert {(f["criteriaType0"], f["value0"], f["criteriaType1"], f["value1"]) for f in forms} == {
        ("ImageModalityCriteria", "MR", "ImageModalityCriteria", "CT")
    }


def test_limit_stops_fetching_pages(tcia: Tcia, fake_tcia: RunningFake) -> None:
    code, out, _ = tcia("nbia_v4", "get-simple-search", "--page-size", "1", "--limit", "2", "-o", "json")
    assert code == 0
    assert len(json.loads(out)) == 2
    assert [f["start"] for f in _search_forms(fake_tcia)] == ["0", "1"]  # no third page
    fake_tcia.server.reset()
    code, out, _ = tcia("nbia_v4", "get-simple-search", "--limit", "2", "-o", "json")
    assert len(json.loads(out)) == 2
    assert [(f["start"], f["size"]) for f in _search_forms(fake_tcia)] == [("0", "2")]  # a page of 2


def test_range_criteria_take_two_values(tcia: Tcia, fake_tcia: RunningFake) -> None:
    args = ["--patient-age", "40", "60", "--released", "2014-01-01", "2014-12-31", "-o", "json"]
    code, _, err = tcia("nbia_v4", "get-simple-search", *args)
    assert code == 0, err
    form = _search_forms(fake_tcia)[0]
    kinds = {form[k]: k.removeprefix("criteriaType") for k in form if k.startswith("criteriaType")}
    age, released = kinds["PatientAgeRangeCriteria"], kinds["DateRangeCriteria"]
    assert (form[f"from{age}"], form[f"to{age}"]) == ("40", "60")
    assert (form[f"fromDate{released}"], form[f"toDate{released}"]) == ("01-01-2014", "12-31-2014")
    code, _, err = tcia("nbia_v4", "get-simple-search", "--patient-age", "40")
    assert code == 2  # a range needs both ends
    assert "--patient-age" in err


def test_bool_criteria_are_flags(tcia: Tcia, fake_tcia: RunningFake) -> None:
    code, _, _ = tcia("nbia_v4", "get-simple-search", "--modality", "MR", "--all-modalities", "-o", "json")
    assert code == 0
    form = _search_forms(fake_tcia)[0]
    criteria = {form[k]: form["value" + k.removeprefix("criteriaType")] for k in form if "criteriaType" in k}
    assert criteria == {"ImageModalityCriteria": "MR", "ModalityAndedSearchCriteria": "all"}
    fake_tcia.server.reset()
    code, _, _ = tcia("nbia_v4", "get-simple-search", "--modality", "MR", "-o", "json")
    assert "ModalityAndedSearchCriteria" not in _search_forms(fake_tcia)[0].values()  # absent: not sent
    code, _, err = tcia("nbia_v4", "get-simple-search", "--all-modalities")
    assert code == 2  # the SDK's own check, before any request: it needs a modality
    assert "modality" in err


def test_internal_parameters_are_set_by_the_sdk(tcia: Tcia, fake_tcia: RunningFake) -> None:
    code, out, err = tcia("nbia_v4", "get-manifest-for-simple-search", "--collection", "TCGA-FAKE")
    assert code == 0, err
    assert out.startswith("downloadServerUrl=")
    form = dict(fake_tcia.server.requests[-1].form)
    assert form["sortField"] == "subject"  # the spec's internal values
    assert form["size"] == "1000000"


def test_plain_bool_parameters_are_on_off_flags(tcia: Tcia, fake_tcia: RunningFake) -> None:
    for flag, sent in (("--include-annotation", "true"), ("--no-include-annotation", "false"), (None, None)):
        args = ["get-manifest-for-collection", "--collection", "TCGA-FAKE"] + ([flag] if flag else [])
        code, _, err = tcia("nbia_v4", *args)
        assert code == 0, err
        query = dict(fake_tcia.server.requests[-1].query) | dict(fake_tcia.server.requests[-1].form)
        assert query.get("includeAnnotation") == sent


def test_a_required_on_off_flag_must_be_given(tcia: Tcia, fake_tcia: RunningFake) -> None:
    args = ["get-manifest-text", "--series-instance-uids", SERIES.uid]
    code, _, err = tcia("nbia_v4", *args)
    assert code == 2  # click does not check required flags: the CLI does, before any request
    assert "--include-annotation" in err
    assert fake_tcia.count() == 0
    code, out, err = tcia("nbia_v4", *args, "--include-annotation")
    assert code == 0, err
    assert dict(fake_tcia.server.requests[-1].form)["includeAnnotation"] == "true"
    assert SERIES.uid in out


def _required_arguments(endpoint: Endpoint) -> list[str]:
    """Values of the right type for every required option (the dataset's where it matters)."""
    known = {
        "collection": SERIES.row["Collection"],
        "patient_id": SERIES.row["PatientID"],
        "study_instance_uid": SERIES.row["StudyInstanceUID"],
        "series_instance_uid": SERIES.uid,
        "series_instance_uids": SERIES.uid,
        "sop_instance_uid": SERIES.instances[0].sop_instance_uid,
        "modality": SERIES.row["Modality"],
    }
    args: list[str] = []
    for param in endpoint.params:
        if not (offered(param) and param.required and param.default is None):
            continue
        if param.type == "bool":
            args.append(option_name(param))
            continue
        value = known.get(param.python) or {"int": "1", "float": "1.5", "date": "2014-01-01"}.get(param.type)
        args += [option_name(param), value or (param.enum[0] if param.enum else "x")]
    if endpoint.result == "binary":
        args += ["--to", str(Path(tempfile.gettempdir()) / f"tcia-cli-{endpoint.python_name}.bin")]
    return args


@pytest.mark.parametrize("version", available_versions())
def test_every_command_runs_or_fails_in_one_line(tcia: Tcia, version: str) -> None:
    """No endpoint's command ends in an exception, whatever the fake answers it."""
    for endpoint in load_version(version).ENDPOINTS:
        code, _, err = tcia(version, endpoint.python_name.replace("_", "-"), *_required_arguments(endpoint))
        assert code in (0, 1), (endpoint.python_name, err)
        if code == 1:  # the fake refuses some made-up values, as the server would
            assert len(err.splitlines()) == 1
            assert err.startswith(f"Error: {endpoint.name}: ")
