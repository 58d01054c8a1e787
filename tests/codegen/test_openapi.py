"""The OpenAPI 3.1 export: valid documents, the real wire facts, determinism and the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from codegen.files import SPEC_DIR, default_specs, load_api, load_api_text
from codegen.openapi import run, to_openapi

MINI = Path(__file__).parent / "fixtures" / "mini.yaml"
V3 = SPEC_DIR / "tcia-v3.yaml"


def export(path: Path) -> dict[str, Any]:
    return to_openapi(load_api(path))


@pytest.fixture(scope="module")
def v3() -> dict[str, Any]:
    return export(V3)


@pytest.fixture(scope="module")
def mini() -> dict[str, Any]:
    return export(MINI)


def operation(doc: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][path][method]
    return op


def params_by_name(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in op.get("parameters", [])}


def ok_schema(doc: dict[str, Any], op: dict[str, Any], media_type: str) -> dict[str, Any]:
    """The 200 schema of one content type, with the document's components so `$ref`s resolve."""
    schema = op["responses"]["200"]["content"][media_type]["schema"]
    return {**schema, "components": doc["components"]}


def test_there_are_specs_to_export() -> None:
    assert V3 in default_specs()


# -- every document is valid OpenAPI 3.1 ---------------------------------------------------------
@pytest.mark.parametrize("spec", [*default_specs(), MINI], ids=lambda p: p.name)
def test_export_is_valid_openapi_31(spec: Path) -> None:
    doc = export(spec)
    assert doc["openapi"].startswith("3.1")
    validate(doc, cls=OpenAPIV31SpecValidator)
    api = load_api(spec)
    assert {op["operationId"] for item in doc["paths"].values() for op in item.values()} == {
        e.wire for e in api.endpoints
    }
    assert set(doc["components"]["schemas"]) == {m.name for m in api.models}


def test_the_validator_rejects_a_broken_export(v3: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(v3))
    broken["paths"]["/TCIA/query/getSeries"]["get"]["parameters"][0]["in"] = "body"  # OpenAPI 2 only
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


# -- v3 facts ------------------------------------------------------------------------------------
def test_v3_info_and_server(v3: dict[str, Any]) -> None:
    assert v3["info"]["title"] == "TCIA REST API v3"
    assert v3["info"]["version"] == "3"
    assert "Bindaas" in v3["info"]["description"]
    assert v3["servers"] == [{"url": "https://services.cancerimagingarchive.net/services/v3"}]
    assert v3["x-empty-result"] == "empty_array"


def test_v3_get_series_query_params_keep_wire_case(v3: dict[str, Any]) -> None:
    op = operation(v3, "/TCIA/query/getSeries")
    assert op["operationId"] == "getSeries"
    assert op["x-python-name"] == "get_series"
    params = params_by_name(op)
    assert list(params) == [
        "Collection",
        "StudyInstanceUID",
        "PatientID",
        "SeriesInstanceUID",
        "Modality",
        "BodyPartExamined",
        "ManufacturerModelName",
        "Manufacturer",
        "format",
    ]
    assert params["PatientID"]["in"] == "query"
    assert params["PatientID"]["required"] is False
    assert params["PatientID"]["schema"] == {"type": "string"}
    assert params["SeriesInstanceUID"]["x-python-name"] == "series_instance_uid"
    assert params["format"]["schema"] == {"type": "string", "enum": ["json", "csv", "xml", "html"]}
    assert params["format"]["required"] is False
    assert "requestBody" not in op


def test_v3_required_params_and_iso_date(v3: dict[str, Any]) -> None:
    size = params_by_name(operation(v3, "/TCIA/query/getSeriesSize"))
    assert size["SeriesInstanceUID"]["required"] is True
    new = params_by_name(operation(v3, "/TCIA/query/NewPatientsInCollection"))
    assert new["Date"]["required"] is True
    assert new["Date"]["schema"] == {"type": "string", "format": "date"}


def test_v3_api_key_header_scheme_applied_globally(v3: dict[str, Any]) -> None:
    scheme = v3["components"]["securitySchemes"]["api_key"]
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    assert scheme["name"] == "api_key"
    assert v3["security"] == [{"api_key": []}]


def test_v3_series_schema(v3: dict[str, Any]) -> None:
    series = v3["components"]["schemas"]["Series"]
    assert series["type"] == "object"
    assert series["additionalProperties"] is True
    assert "required" not in series
    props = series["properties"]
    assert props["SeriesNumber"]["type"] == "string"
    assert props["SeriesNumber"]["x-python-name"] == "series_number"
    assert props["ImageCount"]["type"] == "integer"
    assert props["AnnotationsFlag"]["type"] == ["boolean", "string"]
    assert props["SeriesDate"]["format"] == "date"
    assert "YYYY-MM-DD hh:mm:ss.f" in props["TimeStamp"]["description"]
    assert "format" not in props["TimeStamp"]
    size = v3["components"]["schemas"]["SeriesSize"]["properties"]
    assert size["TotalSizeInBytes"]["type"] == ["integer", "string"]


def test_v3_get_image_is_zip_binary(v3: dict[str, Any]) -> None:
    ok = operation(v3, "/TCIA/query/getImage")["responses"]["200"]
    assert ok["content"] == {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
    assert "format" not in params_by_name(operation(v3, "/TCIA/query/getImage"))
    single = operation(v3, "/TCIA/query/getSingleImage")["responses"]["200"]
    assert list(single["content"]) == ["application/dicom"]


def test_v3_shared_list_path(v3: dict[str, Any]) -> None:
    op = operation(v3, "/SharedList/query/ContentsByName")
    assert op["operationId"] == "ContentsByName"
    assert params_by_name(op)["name"]["required"] is True
    items = op["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/Series"}


def test_v3_result_kinds_and_format_content_types(v3: dict[str, Any]) -> None:
    ok = operation(v3, "/TCIA/query/getSeries")["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "application/csv", "application/xml", "text/html"}
    assert ok["content"]["application/csv"]["schema"] == {"type": "string"}
    assert ok["x-empty-result"] == "empty_array"
    row = operation(v3, "/TCIA/query/getSeriesSize")["responses"]["200"]["content"]["application/json"]
    assert row["schema"]["maxItems"] == 1
    values = operation(v3, "/TCIA/query/getSOPInstanceUIDs")["responses"]["200"]
    item = values["content"]["application/json"]["schema"]["items"]
    assert item == {"type": "object", "properties": {"SOPInstanceUID": {"type": "string"}}}


def test_v3_errors_are_json_error_message(v3: dict[str, Any]) -> None:
    responses = operation(v3, "/TCIA/query/getSeries")["responses"]
    assert {s for s in responses if s != "200"} == {"400", "401", "404", "429", "500"}
    server_error = v3["components"]["responses"]["ServerError"]
    schema = server_error["content"]["application/json"]["schema"]
    assert schema["properties"] == {"errorMessage": {"type": "string"}}
    assert responses["500"] == {"$ref": "#/components/responses/ServerError"}


def test_v3_samples_match_the_exported_schemas(v3: dict[str, Any], samples: dict[str, Any]) -> None:
    checked = 0
    for key, sample in samples.items():
        endpoint = key.split(".")[-1]
        if not key.startswith("v3.") or sample.get("status") != 200 or sample.get("body") is None:
            continue
        paths = [p for p in v3["paths"] if p.endswith(f"/{endpoint}")]
        if not paths:
            continue
        schema = ok_schema(v3, operation(v3, paths[0]), "application/json")
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = [e.message for e in validator.iter_errors(sample["body"])]
        assert errors == [], key
        checked += 1
    assert checked >= 10


def test_v3_series_schema_rejects_nbia_types(v3: dict[str, Any]) -> None:
    """NBIA v1 sends SeriesNumber as a number; the v3 document must say it is a string."""
    schema = ok_schema(v3, operation(v3, "/TCIA/query/getSeries"), "application/json")
    validator = Draft202012Validator(schema)
    assert not validator.is_valid([{"SeriesNumber": 3000566}])
    assert not validator.is_valid([{"ImageCount": "133"}])
    assert validator.is_valid([{"SeriesNumber": "102.000000", "Unknown Column": 1}])


# -- the other mappings, through the mini fixture and inline specs ---------------------------------
def test_non_iso_date_param_has_pattern_not_format(mini: dict[str, Any]) -> None:
    param = params_by_name(operation(mini, "/getItems"))["fromDate"]
    schema = param["schema"]
    assert "format" not in schema
    assert schema["pattern"] == "^[0-9]{2}-[0-9]{2}-[0-9]{4}$"
    assert "MM-DD-YYYY" in schema["description"]
    kind = params_by_name(operation(mini, "/getItems"))["Kind"]
    assert kind["schema"] == {"type": "string", "enum": ["a", "b"]}


def test_form_params_go_to_the_request_body(mini: dict[str, Any]) -> None:
    op = operation(mini, "/postList", "post")
    assert "list" not in params_by_name(op)
    body = op["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/x-www-form-urlencoded"]
    assert media["schema"]["properties"]["list"]["type"] == "array"
    assert media["schema"]["required"] == ["list"]
    assert media["encoding"] == {"list": {"style": "form", "explode": True}}


def test_mini_models_text_and_no_auth(mini: dict[str, Any]) -> None:
    props = mini["components"]["schemas"]["Item"]["properties"]
    assert "Date Released" in props
    assert props["3rd Party Analysis"]["x-python-name"] == "third_party_analysis"
    assert "format" not in props["Date Released"]
    text = operation(mini, "/getText")["responses"]["200"]["content"]
    assert text == {"text/plain": {"schema": {"type": "string"}}}
    assert "security" not in mini
    assert "securitySchemes" not in mini["components"]
    assert "401" not in operation(mini, "/getItems")["responses"]
    bad_request = mini["components"]["responses"]["BadRequest"]
    assert list(bad_request["content"]) == ["text/plain"]
    assert "unknown" in bad_request["description"]
    assert operation(mini, "/getItems")["responses"]["200"]["x-empty-result"] == "empty_body"


def test_repeated_query_param_explodes() -> None:
    text = MINI.read_text(encoding="utf-8").replace(
        "{wire: Kind, type: enum,", "{wire: Kind, type: enum, repeated: true,"
    )
    doc = to_openapi(load_api_text(text, "mini.yaml"))
    kind = params_by_name(operation(doc, "/getItems"))["Kind"]
    assert kind["schema"] == {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
    assert kind["explode"] is True
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_oauth2_password_flow() -> None:
    text = MINI.read_text(encoding="utf-8").replace(
        "auth: {kind: none}",
        "auth: {kind: oauth2_password, token_url: 'https://example.invalid/oauth/token', client_id: nbia}",
    )
    doc = to_openapi(load_api_text(text, "mini.yaml"))
    scheme = doc["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "https://example.invalid/oauth/token"
    assert doc["security"] == [{"oauth2": []}, {}]  # optional: anonymous calls allowed
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_relative_token_url_is_resolved_like_the_sdk() -> None:
    text = MINI.read_text(encoding="utf-8").replace(
        "auth: {kind: none}", "auth: {kind: oauth2_password, token_url: ../oauth/token, required: true}"
    )
    doc = to_openapi(load_api_text(text, "mini.yaml"))
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]
    assert flow["tokenUrl"] == "https://example.invalid/oauth/token"  # base_url is .../api
    assert doc["security"] == [{"oauth2": []}]


def test_csv_body_names_its_columns(mini: dict[str, Any]) -> None:
    api = load_api(MINI)
    endpoints = tuple(attrs.evolve(e, body="csv") if e.wire == "getItems" else e for e in api.endpoints)
    doc = to_openapi(attrs.evolve(api, endpoints=endpoints))
    content = operation(doc, "/getItems")["responses"]["200"]["content"]
    assert content["text/csv"] == {
        "schema": {"type": "string"},
        "x-csv-columns-of": "#/components/schemas/Item",
    }
    assert content["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Item"}
    validate(doc, cls=OpenAPIV31SpecValidator)


# -- determinism and the command line -------------------------------------------------------------
@pytest.mark.parametrize("spec", default_specs(), ids=lambda p: p.name)
def test_export_is_deterministic(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(spec) == export(spec)
    assert run([str(spec)]) == 0
    first = capsys.readouterr().out
    assert run([str(spec)]) == 0
    assert capsys.readouterr().out == first
    assert first == json.dumps(json.loads(first), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_run_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v3.json"
    assert run([str(V3), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == export(V3)
    validate(written, cls=OpenAPIV31SpecValidator)


def test_run_reports_a_broken_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        textwrap.dedent(
            """\
            spec_version: 1
            api: {name: B, package: b, doc: d, base_url: https://example.invalid, auth: {kind: none},
                  empty_result: empty_body}
            resources: {r: {path: q}}
            endpoints:
              getX: {resource: nowhere, doc: x, response: {kind: rows, model: Missing}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    assert run([str(broken), "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "broken.yaml:6: endpoints.getX.resource" in captured.err
    assert "unknown resource 'nowhere'" in captured.err
    assert not out.exists()


def test_run_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read the spec" in capsys.readouterr().err
