"""Snapshot tests of spec diagnostics: every problem at once, as file:line: yaml.path: message."""

from __future__ import annotations

import textwrap

import pytest

from codegen.diagnostics import SpecError
from codegen.files import load_api_text

HEAD = """\
spec_version: 1
api:
  name: T
  package: t
  doc: d
  base_url: https://example.invalid
  auth: {kind: none}
  empty_result: empty_body
resources:
  r: {path: q}
"""


def diagnostics(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_api_text(text, "t.yaml")
    return [str(d) for d in info.value.diagnostics]


def test_bad_yaml() -> None:
    assert diagnostics("api: [unclosed\n") == [
        "t.yaml:2: <root>: invalid YAML: expected ',' or ']', but got '<stream end>', "
        "expected well-formed YAML"
    ]


def test_unknown_type_missing_fields_and_unknown_keys_all_at_once() -> None:
    text = HEAD + textwrap.dedent(
        """\
        models:
          M:
            doc: m
            fields:
              A: {type: decimal, doc: a}
              B: {type: str}
        endpoints:
          getX:
            resource: r
            doc: x
            colour: blue
            response: {kind: rows, model: M}
        """
    )
    assert diagnostics(text) == [
        "t.yaml:15: models.M.fields.A.type: 'decimal' is not allowed, expected one of: "
        "str, int, float, bool, date, datetime, list, model, map, json",
        "t.yaml:16: models.M.fields.B: 'doc' is a required property, expected it to be given",
        "t.yaml:18: endpoints.getX: unknown key(s) 'colour', expected one of: broken, doc, formats, "
        "idempotent, json_style, method, name, params, resource, response, unknown_params",
    ]


def test_duplicate_endpoint() -> None:
    text = HEAD + textwrap.dedent(
        """\
        endpoints:
          getX: {resource: r, doc: x, response: {kind: text}}
          getX: {resource: r, doc: y, response: {kind: text}}
        """
    )
    assert diagnostics(text) == [
        "t.yaml:13: endpoints.getX: duplicate key 'getX' (first defined on line 12), expected each key once"
    ]


def test_semantic_errors_are_reported_together() -> None:
    text = HEAD + textwrap.dedent(
        """\
        models:
          class: {doc: m, fields: {}}
        endpoints:
          getX:
            resource: nowhere
            doc: x
            params: [Missing, {wire: When, type: date, doc: w}]
            response: {kind: rows, model: Nope}
          get_x: {resource: r, doc: y, response: {kind: text}}
        """
    )
    assert diagnostics(text) == [
        "t.yaml:12: models.class: model name 'class' is not usable, expected a CapWords "
        "identifier that is not a keyword nor one of API, Any, AsyncClient, AsyncClientWithRawResponse, "
        "Client, ClientWithRawResponse, Destination, Download, ENDPOINTS, Literal, MODELS, Mapping, "
        "RawResponse, Sequence, TimeoutTypes",
        "t.yaml:15: endpoints.getX.resource: unknown resource 'nowhere', expected one of: r",
        "t.yaml:17: endpoints.getX.params[0]: unknown parameter 'Missing', expected one of the "
        "top-level parameters (none defined)",
        "t.yaml:17: endpoints.getX.params[1]: a date parameter needs `date_format:`, expected e.g. "
        '"%Y-%m-%d"',
        "t.yaml:18: endpoints.getX.response.model: unknown model 'Nope', expected one of: class",
        "t.yaml:19: endpoints.get_x: Python name 'get_x' is already used by endpoint 'getX', "
        "expected unique names (set `name:`)",
    ]


def test_names_that_cannot_become_identifiers() -> None:
    text = HEAD + textwrap.dedent(
        """\
        models:
          M:
            doc: m
            fields:
              3rd Party: {type: str, doc: a}
              X: {type: str, name: "not valid", doc: b}
              additional_properties: {type: str, doc: c}
        endpoints:
          getX:
            resource: r
            doc: x
            params: [{wire: timeout, type: int, doc: t}]
            response: {kind: rows, model: M}
        """
    )
    assert diagnostics(text) == [
        "t.yaml:15: models.M.fields['3rd Party']: cannot derive a Python name for field '3rd Party' "
        "(got '3rd_party'), expected an explicit `name:` that is a snake_case identifier",
        "t.yaml:16: models.M.fields.X.name: 'not valid' is not a usable Python name, expected a "
        "snake_case identifier that is not a keyword",
        "t.yaml:17: models.M.fields.additional_properties: 'additional_properties' is reserved for "
        "unknown keys, expected another name",
        "t.yaml:22: endpoints.getX.params[0]: Python name 'timeout' is reserved for the call "
        "options, expected another `name:`",
    ]


def test_param_entries_are_checked_in_the_form_they_are_written_in() -> None:
    text = HEAD + textwrap.dedent(
        """\
        endpoints:
          getX:
            resource: r
            doc: x
            params: [{wire: X, type: decimal, doc: d}, {use: Y, colour: 1}, 3]
            response: {kind: text}
        """
    )
    # (a oneOf of the three forms blamed the string form: "... has the wrong type, expected string")
    assert diagnostics(text) == [
        "t.yaml:15: endpoints.getX.params[0].type: 'decimal' is not allowed, expected one of: "
        "str, int, float, bool, date, enum",
        "t.yaml:15: endpoints.getX.params[1]: unknown key(s) 'colour', expected one of: compare, "
        "default, doc, internal, location, name, paging, required, use",
        "t.yaml:15: endpoints.getX.params[2]: 3 has the wrong type, expected object",
    ]


def test_validate_cli_prints_diagnostics_not_tracebacks(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from codegen.cli import main

    spec = tmp_path / "bad.yaml"
    spec.write_text(HEAD + "endpoints:\n  getX: {resource: r, doc: x, response: {kind: nope}}\n")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:12: endpoints.getX.response.kind: 'nope' is not allowed" in err
    assert "Traceback" not in err


def test_compare_is_for_date_parameters() -> None:
    text = HEAD + textwrap.dedent(
        """\
        models:
          M: {doc: m, fields: {A: {type: str, doc: a}}}
        endpoints:
          getX:
            resource: r
            doc: x
            params:
              - {wire: A, type: str, compare: ">", doc: a}
            response: {kind: rows, model: M}
        """
    )
    (problem,) = diagnostics(text)
    assert problem.endswith("endpoints.getX.params[0]: compare applies to date parameters")


def test_an_extending_spec_adds_exclusions_by_name_to_its_bases() -> None:
    from codegen.files import SPEC_DIR, load_api

    v1 = dict(load_api(SPEC_DIR / "nbia-v1.yaml").excluded)
    v2 = dict(load_api(SPEC_DIR / "nbia-v2.yaml").excluded)
    assert {"getDCMImage", "getM5HashForImage", "wado", "status"} <= set(v1)
    assert v2 == {**v1, "getSeriesQCInfo": v2["getSeriesQCInfo"]}  # v1's, plus v2's own
