"""The spec differ: each change kind, rename detection, exit codes and the Markdown report."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import attrs
import pytest

from codegen.diff import Change, diff_apis, render_markdown, run
from codegen.files import ROOT, load_api, load_api_text
from codegen.ir import ApiIR

V3 = ROOT / "spec" / "tcia-v3.yaml"

BASE = textwrap.dedent(
    """\
    spec_version: 1
    api:
      name: Old API
      package: old
      doc: d
      base_url: https://example.invalid/api
      auth: {kind: api_key, header: api_key, env: KEY, required: true}
      empty_result: empty_array
      unknown_params: ignore
      error_style: json_error_message
      formats:
        param: format
        values: [json, csv]
        content_types: {json: application/json, csv: text/csv, xml: application/xml}
    resources:
      q: {path: query}
    parameters:
      Collection: {type: str, doc: c}
      PatientID: {type: str, doc: p}
      Date: {type: date, date_format: "%Y-%m-%d", doc: d}
    models:
      Series:
        doc: s
        fields:
          SeriesInstanceUID: {type: str, doc: series uid}
          PatientID: {type: str, doc: patient}
          ImageCount: {type: int, doc: count}
          TimeStamp: {type: datetime, date_format: "%Y-%m-%d %H:%M:%S", doc: time}
      Patient:
        doc: p
        fields:
          Collection: {type: str, doc: collection}
    endpoints:
      getSeries:
        resource: q
        doc: s
        params: [Collection, PatientID]
        response: {kind: rows, model: Series}
      getNew:
        resource: q
        doc: n
        params:
          - {use: Date, required: true}
          - Collection
        response: {kind: rows, model: Patient}
      getValues:
        resource: q
        doc: v
        params:
          - Collection
          - {wire: Kind, type: enum, enum: [a, b], doc: k}
        response: {kind: values, field: Collection}
      getImage:
        resource: q
        doc: i
        params:
          - {wire: SeriesInstanceUID, type: str, required: true, doc: u}
        response: {kind: binary, media_type: application/zip}
    """
)

GET_VALUES = """\
  getValues:
    resource: q
    doc: v
    params:
      - Collection
      - {wire: Kind, type: enum, enum: [a, b], doc: k}
    response: {kind: values, field: Collection}
"""
GET_TEXT = """\
  getText:
    resource: q
    doc: t
    response: {kind: text}
"""
IMAGE_PARAM = "{wire: SeriesInstanceUID, type: str, required: true, doc: u}"

Edit = tuple[str, str]
Row = tuple[str, "str | None", "str | None", bool]


def edit(text: str, *edits: Edit) -> str:
    """``text`` with each (old, new) replacement applied; each old text must occur exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"expected exactly one {old!r} in the spec"
        text = text.replace(old, new)
    return text


def load(text: str, label: str) -> ApiIR:
    return load_api_text(text, label)


def diff(*edits: Edit) -> list[Change]:
    return diff_apis(load(BASE, "old.yaml"), load(edit(BASE, *edits), "new.yaml"))


def rows(changes: list[Change]) -> list[Row]:
    return [(c.kind, c.endpoint, c.subject, c.breaking) for c in changes]


# -- each change kind ---------------------------------------------------------------------------

CASES: dict[str, tuple[list[Edit], list[Row]]] = {
    "endpoint removed": (
        [(GET_VALUES, "")],
        [("endpoint-removed", "getValues", None, True)],
    ),
    "endpoint added": (
        [("  getImage:\n", GET_TEXT + "  getImage:\n")],
        [("endpoint-added", "getText", None, False)],
    ),
    "renamed by case, not by python name": (
        [(IMAGE_PARAM, IMAGE_PARAM.replace("SeriesInstanceUID", "seriesinstanceuid"))],
        [("param-renamed", "getImage", "SeriesInstanceUID", True)],
    ),
    "renamed by python name": (
        [(IMAGE_PARAM, IMAGE_PARAM.replace("SeriesInstanceUID", "series_instance_uid"))],
        [("param-renamed", "getImage", "SeriesInstanceUID", True)],
    ),
    "date param renamed, format changed": (
        [
            (
                '  Date: {type: date, date_format: "%Y-%m-%d"',
                '  FromDate: {type: date, date_format: "%m/%d/%Y"',
            ),
            ("{use: Date, required: true}", "{use: FromDate, required: true}"),
        ],
        [
            ("param-renamed", "getNew", "Date", True),
            ("param-date-format-changed", "getNew", "FromDate", True),
        ],
    ),
    "unrelated names are not a rename": (
        [
            (
                "      - Collection\n      - {wire: Kind",
                "      - {wire: Modality, type: str, doc: m}\n      - {wire: Kind",
            )
        ],
        [
            ("param-removed", "getValues", "Collection", True),
            ("param-added", "getValues", "Modality", False),
        ],
    ),
    "required param added": (
        [("params: [Collection, PatientID]", "params: [Collection, PatientID, {use: Date, required: true}]")],
        [("param-added", "getSeries", "Date", True)],
    ),
    "param removed": (
        [("params: [Collection, PatientID]", "params: [Collection]")],
        [("param-removed", "getSeries", "PatientID", True)],
    ),
    "param now required": (
        [("params: [Collection, PatientID]", "params: [{use: Collection, required: true}, PatientID]")],
        [("param-now-required", "getSeries", "Collection", True)],
    ),
    "param no longer required": (
        [("{use: Date, required: true}", "Date")],
        [("param-no-longer-required", "getNew", "Date", False)],
    ),
    "param type": (
        [(IMAGE_PARAM, IMAGE_PARAM.replace("type: str", "type: int"))],
        [("param-type-changed", "getImage", "SeriesInstanceUID", True)],
    ),
    "param repeated": (
        [(IMAGE_PARAM, IMAGE_PARAM.replace("required: true", "required: true, repeated: true"))],
        [("param-type-changed", "getImage", "SeriesInstanceUID", True)],
    ),
    "enum value added": (
        [("enum: [a, b]", "enum: [a, b, c]")],
        [("param-enum-changed", "getValues", "Kind", False)],
    ),
    "enum value withdrawn": (
        [("enum: [a, b]", "enum: [a]")],
        [("param-enum-changed", "getValues", "Kind", True)],
    ),
    "date format": (
        [('date_format: "%Y-%m-%d", doc: d}', 'date_format: "%m-%d-%Y", doc: d}')],
        [("param-date-format-changed", "getNew", "Date", True)],
    ),
    "param python name": (
        [("  PatientID: {type: str, doc: p}", "  PatientID: {type: str, name: pid, doc: p}")],
        [("param-renamed", "getSeries", "PatientID", True)],
    ),
    "field added": (
        [("      ImageCount:", "      Modality: {type: str, doc: m}\n      ImageCount:")],
        [("field-added", "getSeries", "Modality", False)],
    ),
    "field removed": (
        [("      ImageCount: {type: int, doc: count}\n", "")],
        [("field-removed", "getSeries", "ImageCount", True)],
    ),
    "field renamed by case": (
        [("      PatientID: {type: str, doc: patient}", "      PatientId: {type: str, doc: patient}")],
        [("field-renamed", "getSeries", "PatientID", True)],
    ),
    "field renamed by the known table": (
        [("      TimeStamp:", "      MaxSubmissionTimestamp:")],
        [("field-renamed", "getSeries", "TimeStamp", True)],
    ),
    "field python name": (
        [("{type: int, doc: count}", "{type: int, name: images, doc: count}")],
        [("field-renamed", "getSeries", "ImageCount", True)],
    ),
    "field type": (
        [("{type: int, doc: count}", "{type: str, doc: count}")],
        [("field-type-changed", "getSeries", "ImageCount", True)],
    ),
    "field date format": (
        [('"%Y-%m-%d %H:%M:%S", doc: time', '"%Y-%m-%d %H:%M:%S.%f", doc: time')],
        [("field-type-changed", "getSeries", "TimeStamp", True)],
    ),
    "field may now arrive as a string": (
        [("{type: int, doc: count}", "{type: int, coerce_from_string: true, doc: count}")],
        [("field-type-changed", "getSeries", "ImageCount", True)],
    ),
    "result kind": (
        [("{kind: values, field: Collection}", "{kind: text}")],
        [("result-changed", "getValues", None, True)],
    ),
    "result model": (
        [("{kind: rows, model: Patient}", "{kind: rows, model: Series}")],
        [
            ("result-changed", "getNew", None, True),
            ("field-removed", "getNew", "Collection", True),
            *[("field-added", "getNew", f, False) for f in ("SeriesInstanceUID", "PatientID", "ImageCount")],
            ("field-added", "getNew", "TimeStamp", False),
        ],
    ),
    "binary media type": (
        [("media_type: application/zip", "media_type: application/dicom")],
        [("result-changed", "getImage", None, True)],
    ),
    "method": (
        [("    doc: s\n    params:", "    doc: s\n    method: POST\n    params:")],
        [("method-changed", "getSeries", None, True)],
    ),
    "path": (
        [("q: {path: query}", "q: {path: query/v2}")],
        [("path-changed", e, None, True) for e in ("getSeries", "getNew", "getValues", "getImage")],
    ),
    "endpoint python name": (
        [("    doc: s\n    params:", "    doc: s\n    name: fetch_series\n    params:")],
        [("endpoint-renamed", "getSeries", None, True)],
    ),
    "endpoint formats withdrawn": (
        [("    doc: s\n    params:", "    doc: s\n    formats: false\n    params:")],
        [("format-values-changed", "getSeries", "format", True)],
    ),
    "base url": (
        [("https://example.invalid/api", "https://example.invalid/api/v2")],
        [("base-url-changed", None, None, True)],
    ),
    "auth header": (
        [("header: api_key,", "header: X-Key,")],
        [("auth-changed", None, None, True)],
    ),
    "auth now optional": (
        [("env: KEY, required: true}", "env: KEY, required: false}")],
        [("auth-changed", None, None, False)],
    ),
    "auth removed": (
        [("{kind: api_key, header: api_key, env: KEY, required: true}", "{kind: none}")],
        [("auth-changed", None, None, False)],
    ),
    "empty result": (
        [("empty_result: empty_array", "empty_result: empty_body")],
        [("empty-result-changed", None, None, True)],
    ),
    "unknown params rejected": (
        [("unknown_params: ignore", "unknown_params: reject")],
        [("unknown-params-changed", None, None, True)],
    ),
    "error style": (
        [("error_style: json_error_message", "error_style: plain_text")],
        [("error-style-changed", None, None, False)],
    ),
    "format added": (
        [("values: [json, csv]", "values: [json, csv, xml]")],
        [("format-values-changed", None, "format", False)],
    ),
    "format withdrawn": (
        [("values: [json, csv]", "values: [json]")],
        [("format-values-changed", None, "format", True)],
    ),
    "default format": (
        [("values: [json, csv]", "values: [csv, json]")],
        [("format-values-changed", None, "format", True)],
    ),
}


@pytest.mark.parametrize(("edits", "expected"), CASES.values(), ids=CASES.keys())
def test_change_kinds(edits: list[Edit], expected: list[Row]) -> None:
    assert rows(diff(*edits)) == expected


def test_identical_specs_have_no_changes() -> None:
    assert diff() == []


def test_case_rename_is_one_change_with_both_names() -> None:
    changes = diff(
        ("\n  PatientID: {type: str, doc: p}\n", "\n  PatientId: {type: str, doc: p}\n"),
        ("params: [Collection, PatientID]", "params: [Collection, PatientId]"),
    )
    assert changes == [Change("param-renamed", "getSeries", "PatientID", "PatientID -> PatientId", True)]


def test_renamed_param_keeps_its_other_changes() -> None:
    changes = diff(
        ("\n  PatientID: {type: str, doc: p}\n", "\n  PatientId: {type: int, doc: p}\n"),
        ("params: [Collection, PatientID]", "params: [Collection, {use: PatientId, required: true}]"),
    )
    assert rows(changes) == [
        ("param-renamed", "getSeries", "PatientID", True),
        ("param-now-required", "getSeries", "PatientId", True),
        ("param-type-changed", "getSeries", "PatientId", True),
    ]


def test_known_field_rename_is_recognised_backwards() -> None:
    new = edit(BASE, ("      TimeStamp:", "      MaxSubmissionTimestamp:"))
    changes = diff_apis(load(new, "new.yaml"), load(BASE, "old.yaml"))
    assert rows(changes) == [("field-renamed", "getSeries", "MaxSubmissionTimestamp", True)]
    assert changes[0].detail.startswith("MaxSubmissionTimestamp -> TimeStamp")


@pytest.mark.parametrize(
    ("old", "new", "breaking"),
    [
        ("{kind: none}", "{kind: api_key, header: k, required: true}", True),
        ("{kind: none}", "{kind: api_key, header: k}", False),
        (
            "{kind: api_key, header: k, required: true}",
            "{kind: oauth2_password, token_url: t, required: true}",
            True,
        ),
    ],
)
def test_auth_breaking_when_the_new_api_requires_credentials(old: str, new: str, breaking: bool) -> None:
    auth = "{kind: api_key, header: api_key, env: KEY, required: true}"
    before = load(edit(BASE, (auth, old)), "old.yaml")
    after = load(edit(BASE, (auth, new)), "new.yaml")
    assert rows(diff_apis(before, after)) == [("auth-changed", None, None, breaking)]


def test_auth_detail_hides_client_secret() -> None:
    auth = "{kind: api_key, header: api_key, env: KEY, required: true}"
    oauth = "{kind: oauth2_password, token_url: t, client_id: c, client_secret: %s, required: true}"
    before = load(edit(BASE, (auth, oauth % "s3cret-old")), "old.yaml")
    after = load(edit(BASE, (auth, oauth % "s3cret-new")), "new.yaml")
    [change] = diff_apis(before, after)
    assert change.detail == "client_secret changed"


def test_unknown_params_accepted_again_is_not_breaking() -> None:
    reject = load(edit(BASE, ("unknown_params: ignore", "unknown_params: reject")), "old.yaml")
    assert rows(diff_apis(reject, load(BASE, "new.yaml"))) == [("unknown-params-changed", None, None, False)]


def test_method_change_does_not_also_report_each_param_location() -> None:
    changes = diff(("    doc: s\n    params:", "    doc: s\n    method: POST\n    params:"))
    assert [c.kind for c in changes] == ["method-changed"]
    assert changes[0].detail == "GET -> POST"


def test_change_is_frozen() -> None:
    change = Change("endpoint-added", "getX", None, "getX was added", False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        change.breaking = True  # type: ignore[misc]
    assert str(change) == "         getX: endpoint-added: getX was added"


# -- the real spec ------------------------------------------------------------------------------


def test_v3_against_itself() -> None:
    api = load_api(V3)
    assert diff_apis(api, api) == []
    assert diff_apis(api, load_api(V3)) == []


V3_PATIENTS_BY_MODALITY = """\
  PatientsByModality:
    resource: TCIA
    doc: The patients of a collection that have at least one series of a modality.
    params:
      - {use: Collection, required: true}
      - {use: Modality, required: true}
    response: {kind: rows, model: Patient}
"""
V3_GET_IMAGE_RESPONSE = "    response: {kind: binary, media_type: application/zip, content: series-zip}\n"
TOKEN = "      - {wire: Token, type: str, required: true, doc: t}\n"


def modified_v3() -> str:
    """spec/tcia-v3.yaml with PatientID renamed, PatientsByModality removed, a new required param."""
    return edit(
        V3.read_text(encoding="utf-8"),
        ("\n  PatientID:\n    type: str\n", "\n  PatientId:\n    type: str\n"),
        ("[Collection, PatientID, StudyInstanceUID]", "[Collection, PatientId, StudyInstanceUID]"),
        ("      - PatientID\n      - SeriesInstanceUID", "      - PatientId\n      - SeriesInstanceUID"),
        ("      - PatientID\n    response", "      - PatientId\n    response"),
        (V3_PATIENTS_BY_MODALITY, ""),
        (V3_GET_IMAGE_RESPONSE, TOKEN + V3_GET_IMAGE_RESPONSE),
    )


def test_v3_against_a_modified_copy(tmp_path: Path) -> None:
    new_path = tmp_path / "tcia-v3-modified.yaml"
    new_path.write_text(modified_v3(), encoding="utf-8")
    changes = diff_apis(load_api(V3), load_api(new_path))
    assert rows(changes) == [
        ("endpoint-removed", "PatientsByModality", None, True),
        ("param-renamed", "getPatientStudy", "PatientID", True),
        ("param-renamed", "getSeries", "PatientID", True),
        ("param-added", "getImage", "Token", True),
        ("param-renamed", "NewStudiesInPatientCollection", "PatientID", True),
    ]
    assert {c.detail for c in changes if c.kind == "param-renamed"} == {"PatientID -> PatientId"}
    assert run([str(V3), str(new_path)]) == 1


NBIA_LIKE = textwrap.dedent(
    """\
    spec_version: 1
    api:
      name: NBIA-like
      package: nbia_like
      doc: A different API.
      base_url: https://example.invalid/nbia-api/services/v4
      auth: {kind: oauth2_password, token_url: https://example.invalid/token, required: false}
      empty_result: empty_body
      unknown_params: reject
      error_style: plain_text
    resources:
      root: {path: ""}
    parameters:
      Collection: {type: str, doc: c}
      SeriesInstanceUID: {type: str, doc: s}
      Date: {type: date, date_format: "%m/%d/%Y", doc: d}
    models:
      Series:
        doc: s
        fields:
          SeriesInstanceUID: {type: str, doc: u}
          PatientId: {type: str, doc: p}
          MaxSubmissionTimestamp: {type: datetime, date_format: "%Y-%m-%dT%H:%M:%S", doc: t}
          FileSize: {type: int, doc: bytes}
    endpoints:
      getSeries:
        resource: root
        doc: s
        params: [Collection, {use: Date, required: true}]
        response: {kind: rows, model: Series}
      getUpdatedSeries:
        resource: root
        doc: u
        params: [{use: Date, required: true}]
        response: {kind: rows, model: Series}
    """
)


def test_v3_against_a_very_different_api() -> None:
    old, new = load_api(V3), load_api_text(NBIA_LIKE, "nbia-like.yaml")
    changes = diff_apis(old, new)
    api_level = [c.kind for c in changes if c.endpoint is None]
    assert api_level == [
        "base-url-changed",
        "auth-changed",
        "empty-result-changed",
        "unknown-params-changed",
        "error-style-changed",
        "format-values-changed",
    ]
    removed = {c.endpoint for c in changes if c.kind == "endpoint-removed"}
    assert removed == {e.wire for e in old.endpoints} - {"getSeries"}
    series = {(c.kind, c.subject) for c in changes if c.endpoint == "getSeries"}
    assert ("path-changed", None) in series
    assert ("field-renamed", "PatientID") in series
    assert ("field-renamed", "TimeStamp") in series
    assert ("field-added", "FileSize") in series
    assert ("param-added", "Date") in series
    assert ("endpoint-added", None) not in series
    assert render_markdown(old, new, changes) == render_markdown(old, new, diff_apis(old, new))


SPECS = sorted((ROOT / "spec").glob("*.yaml"))


@pytest.mark.parametrize(("old", "new"), list(itertools.product(SPECS, SPECS)), ids=lambda p: p.stem)
def test_every_pair_of_committed_specs(old: Path, new: Path) -> None:
    changes = diff_apis(load_api(old), load_api(new))
    if old == new:
        assert changes == []
    report = render_markdown(load_api(old), load_api(new), changes)
    assert report == render_markdown(load_api(old), load_api(new), diff_apis(load_api(old), load_api(new)))


# -- the Markdown report ------------------------------------------------------------------------

EXPECTED_MARKDOWN = """\
# API diff: Old API (`old.yaml`) -> New\\_API (`new.yaml`)

Changes: **4 breaking, 2 non-breaking**.

## API

- **BREAKING** `empty-result-changed`: no results are now answered as empty\\_body (was empty\\_array)

## `getSeries` (`get_series`)

- **BREAKING** `param-renamed` `PatientID`: PatientID -> PatientId
- **BREAKING** `field-removed` `ImageCount`: Series.ImageCount was removed
- `param-no-longer-required` `PatientId`: PatientId is no longer required

## `getValues` (`get_values`)

- **BREAKING** `endpoint-removed`: getValues (get\\_values) was removed

## `getText` (`get_text`)

- `endpoint-added`: getText (get\\_text) was added
"""


def markdown_case() -> tuple[ApiIR, ApiIR, list[Change]]:
    old_text = edit(
        BASE, ("params: [Collection, PatientID]", "params: [Collection, {use: PatientID, required: true}]")
    )
    new_text = edit(
        BASE,
        ("name: Old API", "name: New_API"),
        ("empty_result: empty_array", "empty_result: empty_body"),
        ("\n  PatientID: {type: str, doc: p}\n", "\n  PatientId: {type: str, doc: p}\n"),
        ("params: [Collection, PatientID]", "params: [Collection, PatientId]"),
        ("      ImageCount: {type: int, doc: count}\n", ""),
        (GET_VALUES, GET_TEXT),
    )
    old, new = load(old_text, "old.yaml"), load(new_text, "new.yaml")
    return old, new, diff_apis(old, new)


def test_markdown_report() -> None:
    old, new, changes = markdown_case()
    assert render_markdown(old, new, changes) == EXPECTED_MARKDOWN


def test_markdown_is_deterministic() -> None:
    first = render_markdown(*markdown_case())
    assert all(render_markdown(*markdown_case()) == first for _ in range(3))


def test_markdown_without_changes() -> None:
    api = load(BASE, "old.yaml")
    assert render_markdown(api, api, []) == (
        "# API diff: Old API (`old.yaml`) -> Old API (`old.yaml`)\n\n"
        "Changes: **0 breaking, 0 non-breaking**.\n\nNo changes.\n"
    )


# -- the command --------------------------------------------------------------------------------


def write_specs(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    old_path, new_path = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old_path.write_text(old, encoding="utf-8")
    new_path.write_text(new, encoding="utf-8")
    return old_path, new_path


def test_run_identical_specs_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write_specs(tmp_path, BASE, BASE)
    assert run([str(old), str(new)]) == 0
    assert capsys.readouterr().out == "old.yaml -> new.yaml: 0 breaking, 0 non-breaking\n"


def test_run_v3_against_itself_exits_0() -> None:
    assert run([str(V3), str(V3)]) == 0


def test_run_non_breaking_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write_specs(tmp_path, BASE, edit(BASE, ("  getImage:\n", GET_TEXT + "  getImage:\n")))
    assert run([str(old), str(new)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "         getText: endpoint-added: getText (get_text) was added",
        "old.yaml -> new.yaml: 0 breaking, 1 non-breaking",
    ]


def test_run_breaking_exits_1_and_writes_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write_specs(tmp_path, BASE, edit(BASE, (GET_VALUES, "")))
    report = tmp_path / "report.md"
    assert run([str(old), str(new), "--markdown", str(report)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "BREAKING getValues: endpoint-removed: getValues (get_values) was removed",
        "old.yaml -> new.yaml: 1 breaking, 0 non-breaking",
    ]
    expected = render_markdown(load_api(old), load_api(new), diff_apis(load_api(old), load_api(new)))
    assert report.read_text(encoding="utf-8") == expected
    assert "**BREAKING** `endpoint-removed`" in expected


def test_run_broken_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = edit(BASE, ("{kind: values, field: Collection}", "{kind: values}"))
    old, new = write_specs(tmp_path, BASE, broken)
    assert run([str(old), str(new)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "new.yaml:52: endpoints.getValues.response: a values response needs `field:` (the column)\n"
    )


def test_run_missing_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(V3), str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml: cannot read the spec" in capsys.readouterr().err


def test_run_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(V3)]) == 2
    assert "usage: python -m codegen diff" in capsys.readouterr().err


def test_run_unwritable_report_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(V3), str(V3), "--markdown", str(tmp_path / "missing-dir" / "r.md")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


SERVERS = """\
  servers:
    production: {url: "https://example.invalid/api", doc: p}
    nlst: {url: "https://nlst.example.invalid/api", doc: n, exclusive: {Collection: [NLST]}}
"""


def test_servers_added_removed_moved_and_their_collections() -> None:
    with_servers = edit(BASE, ("  empty_result: empty_array\n", SERVERS + "  empty_result: empty_array\n"))
    plain, served = load(BASE, "old.yaml"), load(with_servers, "new.yaml")
    added = diff_apis(plain, served)
    assert rows(added) == [("server-added", None, "production", False), ("server-added", None, "nlst", False)]
    assert (
        added[1].detail
        == "server nlst (https://nlst.example.invalid/api) was added; only it holds Collection: NLST"
    )
    assert rows(diff_apis(served, plain)) == [
        ("server-removed", None, "production", True),
        ("server-removed", None, "nlst", True),
    ]
    moved = edit(
        with_servers,
        ("https://nlst.example.invalid/api", "https://nlst2.example.invalid/api"),
        ("Collection: [NLST]", "Collection: [NLST, NLST-2]"),
    )
    changes = diff_apis(served, load(moved, "moved.yaml"))
    assert rows(changes) == [
        ("server-url-changed", None, "nlst", True),
        ("server-exclusive-changed", None, "nlst", False),
    ]
    assert "only it holds Collection: NLST -> Collection: NLST, NLST-2" in changes[1].detail
    assert "## API" in render_markdown(served, load(moved, "moved.yaml"), changes)
