"""OpenAPI 3.1 export of a spec: ``python -m codegen openapi SPEC.yaml [-o OUT.json]``.

The document describes the real wire format, read from the intermediate model (`codegen.ir.ApiIR`),
so it is only as true as the spec. The mapping:

* ``info``: title = api.name, version = api.version (or ``"0"``), description = api.doc;
  ``servers``: the base_url. Root extensions ``x-empty-result`` (``empty_array``: ``[]``;
  ``empty_body``: a zero-length 200) and ``x-unknown-params`` (``reject``: 400); the spec file and
  its SHA-256 in ``info`` (``x-spec-file``, ``x-spec-sha256``).
* One path per endpoint, ``/<resource path>/<wire name>``, with the endpoint's method;
  ``operationId`` is the wire name, ``x-python-name`` the SDK method. Query parameters keep their
  exact wire names (case and all): str/int/float/bool -> string/integer/number/boolean; enum ->
  string with the values; date -> string with ``format: date`` when the wire format is ISO
  ``%Y-%m-%d``, otherwise a ``pattern`` and a description of the wire format (``MM-DD-YYYY``);
  repeated -> an array sent as ``key=a&key=b`` (``explode: true``). Form parameters (POST) form an
  ``application/x-www-form-urlencoded`` request body. The format parameter is an optional query enum
  on endpoints that have formats.
* Auth: ``api_key`` -> an apiKey scheme in its header; ``oauth2_password`` -> an OAuth2 password flow
  whose tokenUrl is resolved against base_url as the SDK does. Applied globally; when auth is
  optional the global requirement also lists ``{}`` (anonymous).
* 200 responses by result kind: rows -> array of ``$ref`` to the model; row -> the same with at most
  one item; values -> array of one-property objects (the property is absent for a NULL); text ->
  text/plain (or the endpoint's media type); binary -> the endpoint's media type with
  ``format: binary``. Endpoints with formats also list the other formats' content types (csv, xml,
  html) as strings. A csv body (``body: csv``) is a text/csv string whose columns are the model
  named by ``x-csv-columns-of``. Errors 400, 401 (when the API has auth), 404, 429 and 500 are
  shared responses whose body is a plain sentence or ``{"errorMessage": ...}`` as api.error_style
  says.
* Components: one object schema per model, properties keyed by exact wire names (spaces allowed)
  with ``x-python-name``; no ``required`` (an absent key is a NULL) and ``additionalProperties: true``
  (servers add columns). Dates and datetimes are strings with their wire format in the description,
  and in ``x-date-format`` (strftime); ``coerce_from_string`` fields also allow the string form.

The output is deterministic: the same spec gives the same bytes (JSON, sorted keys).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import attrs

from .diagnostics import SpecError
from .files import load_api
from .ir import ApiIR, EndpointIR, FieldIR, ModelIR, ParamIR

Json = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
ISO_DATE = "%Y-%m-%d"
SCALAR_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
TABULAR_KINDS = ("rows", "row", "values")
DEFAULT_MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xml": "application/xml",
    "html": "text/html",
}
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# strftime directive -> (how people write it, a regular expression for what strftime writes).
DATE_DIRECTIVES = {
    "Y": ("YYYY", "[0-9]{4}"),
    "y": ("YY", "[0-9]{2}"),
    "m": ("MM", "[0-9]{2}"),
    "d": ("DD", "[0-9]{2}"),
    "H": ("hh", "[0-9]{2}"),
    "M": ("mm", "[0-9]{2}"),
    "S": ("ss", "[0-9]{2}"),
    "f": ("f", "[0-9]{1,6}"),
    "b": ("Mon", "[A-Za-z]{3}"),
    "a": ("Day", "[A-Za-z]{3}"),
    "%": ("%", "%"),
}
REGEX_SPECIALS = frozenset(".^$*+?()[]{}|\\")

ERROR_RESPONSES = (
    ("400", "BadRequest", "A missing or invalid parameter."),
    ("401", "Unauthorized", "Missing, invalid or expired credentials."),
    ("404", "NotFound", "Unknown path (no such endpoint)."),
    ("429", "TooManyRequests", "Too many requests; wait as Retry-After says, when given."),
    ("500", "ServerError", "The server failed to process the request."),
)


# -- the document ---------------------------------------------------------------------------
def to_openapi(api: ApiIR) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one API version, as plain JSON-ready data."""
    doc: Json = {
        "openapi": OPENAPI_VERSION,
        "info": _info(api),
        "servers": _servers(api),
        "paths": _paths(api),
        "components": _components(api),
        "x-empty-result": api.empty_result,
        "x-unknown-params": api.unknown_params,
    }
    security = _global_security(api)
    if security:
        doc["security"] = security
    return doc


def _servers(api: ApiIR) -> list[Json]:
    """The named servers, the default (base_url) first; ``x-name`` is the SDK's ``server=``."""
    if not api.servers:
        return [{"url": api.base_url}]
    ordered = sorted(api.servers, key=lambda s: s.url != api.base_url)
    out: list[Json] = []
    for server in ordered:
        entry: Json = {"url": server.url, "description": server.doc.strip(), "x-name": server.name}
        if server.exclusive:
            entry["x-exclusive"] = {field: list(values) for field, values in server.exclusive}
        out.append(entry)
    return out


def _info(api: ApiIR) -> Json:
    return {
        "title": api.name,
        "version": api.version or "0",
        "description": api.doc.strip(),
        "x-spec-file": api.spec_file,
        "x-spec-sha256": api.spec_sha256,
    }


def _components(api: ApiIR) -> Json:
    components: Json = {
        "schemas": {model.name: _model_schema(model) for model in api.models},
        "responses": _error_responses(api),
    }
    schemes = _security_schemes(api)
    if schemes:
        components["securitySchemes"] = schemes
    return components


# -- auth -----------------------------------------------------------------------------------
def _security_schemes(api: ApiIR) -> Json:
    auth = api.auth
    if auth.kind == "api_key":
        description = f"The API key, sent in the `{auth.header}` header."
        if auth.env:
            description += f" The SDK reads it from ${auth.env} when none is passed."
        return {
            "api_key": {"type": "apiKey", "in": "header", "name": auth.header, "description": description}
        }
    if auth.kind == "oauth2_password":
        scheme: Json = {
            "type": "oauth2",
            "description": "A Bearer token from the OAuth2 password grant (`Authorization: Bearer <token>`).",
            "flows": {"password": {"tokenUrl": _token_url(api), "scopes": {}}},
        }
        if auth.client_id:
            scheme["x-client-id"] = auth.client_id
        if auth.guest_username:
            scheme["x-guest-username"] = auth.guest_username
        return {"oauth2": scheme}
    return {}


def _token_url(api: ApiIR) -> str:
    """The token URL made absolute the way the SDK does: relative to base_url as a folder."""
    assert api.auth.token_url is not None
    return urljoin(api.base_url.rstrip("/") + "/", api.auth.token_url)


def _global_security(api: ApiIR) -> list[Json]:
    names = list(_security_schemes(api))
    if not names:
        return []
    requirements: list[Json] = [{name: []} for name in names]
    if not api.auth.required:
        requirements.append({})  # anonymous access is allowed too
    return requirements


# -- paths and operations -------------------------------------------------------------------
def _paths(api: ApiIR) -> Json:
    paths: Json = {}
    for endpoint in api.endpoints:
        paths.setdefault(f"/{endpoint.path}", {})[endpoint.method.lower()] = _operation(api, endpoint)
    return paths


def _operation(api: ApiIR, endpoint: EndpointIR) -> Json:
    operation: Json = {
        "operationId": endpoint.wire,
        "summary": _summary(endpoint.doc),
        "description": endpoint.doc.strip(),
        "x-python-name": endpoint.python,
        "x-idempotent": endpoint.idempotent,
        "responses": _responses(api, endpoint),
    }
    parameters = _query_parameters(api, endpoint)
    if parameters:
        operation["parameters"] = parameters
    body = _form_body(endpoint)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _summary(doc: str) -> str:
    first_line = doc.strip().splitlines()[0] if doc.strip() else ""
    return first_line.strip()


def _query_parameters(api: ApiIR, endpoint: EndpointIR) -> list[Json]:
    params = [_query_parameter(p) for p in endpoint.params if p.location == "query"]
    if api.format_param and endpoint.formats:
        params.append(_format_parameter(api, endpoint))
    return params


def _query_parameter(param: ParamIR) -> Json:
    out: Json = {
        "name": param.wire,
        "in": "query",
        "required": param.required,
        "description": param.doc.strip(),
        "schema": _defaults(param, _param_schema(param)),
        "x-python-name": param.python,
    }
    if param.repeated:
        out["style"] = "form"
        out["explode"] = param.explode
        if param.chunk:
            out["x-chunk"] = param.chunk
    return out


def _format_parameter(api: ApiIR, endpoint: EndpointIR) -> Json:
    media = _media_types(api)
    listed = ", ".join(f"{fmt} ({media[fmt]})" for fmt in endpoint.formats)
    description = f"Response format: {listed}. Only {endpoint.formats[0]} is typed; the others are text."
    if api.send_default_format:
        description += f" The SDK always sends it ({endpoint.formats[0]} by default)."
    return {
        "name": api.format_param,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "enum": list(endpoint.formats)},
    }


def _form_body(endpoint: EndpointIR) -> Json | None:
    form = [p for p in endpoint.params if p.location == "form"]
    if not form:
        return None
    plain = [p for p in form if p.criterion is None]
    schema: Json = {
        "type": "object",
        "properties": {p.wire: _form_property(p) for p in plain},
    }
    criteria = [p for p in form if p.criterion is not None]
    if criteria:
        schema["patternProperties"], schema["x-criteria"] = _criteria_schema(criteria)
    required = [p.wire for p in plain if p.required]
    if required:
        schema["required"] = required
    media: Json = {"schema": schema}
    repeated = {p.wire: {"style": "form", "explode": p.explode} for p in form if p.repeated}
    if repeated:
        media["encoding"] = repeated
    return {"required": bool(required), "content": {FORM_MEDIA_TYPE: media}}


def _form_property(param: ParamIR) -> Json:
    out = {**_param_schema(param), "description": param.doc.strip(), "x-python-name": param.python}
    return _defaults(param, out)


def _defaults(param: ParamIR, out: Json) -> Json:
    if param.default is not None:
        out["default"] = param.default
    if param.internal:
        out["x-internal"] = True  # always sent with its default; not an SDK argument
    if param.paging:
        out["x-paging"] = param.paging
    return out


def _criteria_schema(criteria: list[ParamIR]) -> tuple[Json, Json]:
    """Indexed criteria: key patterns (criteriaType0, value0, ...) and each kind's description."""
    type_key = str(criteria[0].type_key)
    patterns: Json = {
        "^" + type_key.replace("{i}", "[0-9]+") + "$": {
            "type": "string",
            "enum": sorted({str(p.criterion) for p in criteria}),
            "description": "The kind of criterion number i; numbered from 0 without gaps.",
        }
    }
    kinds: Json = {}
    for param in criteria:
        for _role, key in param.criterion_keys:
            patterns.setdefault("^" + key.replace("{i}", "[0-9]+") + "$", {"type": "string"})
        kinds[str(param.criterion)] = {
            "keys": dict(param.criterion_keys),
            "description": param.doc.strip(),
            "x-python-name": param.python,
            "schema": _param_schema(attrs.evolve(param, repeated=False)),
            "many": param.many,
        }
    return patterns, kinds


def _param_schema(param: ParamIR) -> Json:
    if param.type == "enum":
        schema: Json = {"type": "string", "enum": list(param.enum)}
    elif param.type == "bool" and (param.wire_true, param.wire_false) != ("true", "false"):
        # A Python bool written as other wire values; None leaves the key out.
        values = [v for v in (param.wire_true, param.wire_false) if v is not None]
        schema = {"type": "string", "enum": values, "x-python-type": "bool"}
        schema["x-wire-values"] = {"true": param.wire_true, "false": param.wire_false}
    elif param.type == "date":
        assert param.date_format is not None
        schema = _date_param_schema(param.date_format)
    else:
        schema = {"type": SCALAR_TYPES[param.type]}
    if param.repeated:
        return {"type": "array", "items": schema}
    return schema


def _date_param_schema(date_format: str) -> Json:
    if date_format == ISO_DATE:
        return {"type": "string", "format": "date"}
    schema: Json = {
        "type": "string",
        "description": f"A date written as {_human_date_format(date_format)}.",
        "x-date-format": date_format,
    }
    pattern = _date_pattern(date_format)
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


# -- responses -------------------------------------------------------------------------------
def _responses(api: ApiIR, endpoint: EndpointIR) -> Json:
    responses: Json = {"200": _success(api, endpoint)}
    for status, name, _ in ERROR_RESPONSES:
        if status == "401" and api.auth.kind == "none":
            continue
        responses[status] = {"$ref": f"#/components/responses/{name}"}
    return responses


def _success(api: ApiIR, endpoint: EndpointIR) -> Json:
    if endpoint.kind == "binary":
        media_type = endpoint.media_type or "application/octet-stream"
        return {
            "description": f"The content, streamed ({media_type}).",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    if endpoint.kind == "text":
        media_type = endpoint.media_type or "text/plain"
        return {"description": "Text.", "content": {media_type: {"schema": {"type": "string"}}}}
    if endpoint.kind in ("object", "page"):
        ref: Json = {"$ref": f"#/components/schemas/{endpoint.model}"}
        what = "One page of results" if endpoint.kind == "page" else f"One {endpoint.model} object"
        out: Json = {
            "description": f"{what} (not an array).",
            "content": {"application/json": {"schema": ref}},
        }
        if endpoint.kind == "page":
            out["x-page"] = {
                "items": endpoint.page_items,
                "total": endpoint.page_total,
                "page_size": endpoint.page_size,
            }
        return out
    if endpoint.kind == "strings":
        schema: Json = {"type": "array", "items": {"type": "string"}}
        return {"description": "An array of strings.", "content": {"application/json": {"schema": schema}}}
    return {
        "description": _tabular_description(api, endpoint),
        "content": _tabular_content(api, endpoint),
        "x-empty-result": api.empty_result,
    }


def _tabular_description(api: ApiIR, endpoint: EndpointIR) -> str:
    what = {
        "rows": f"{endpoint.model} rows",
        "row": f"at most one {endpoint.model} row",
        "values": f"one-key objects holding {endpoint.value_field}",
    }[endpoint.kind]
    empty = {
        "empty_array": "No result is `[]` (an empty CSV has its header only).",
        "empty_body": "No result is a zero-length 200 body, whatever the format.",
    }.get(api.empty_result, f"No result: {api.empty_result}.")
    return f"An array of {what}. A key absent from a row is a NULL. {empty}"


def _tabular_content(api: ApiIR, endpoint: EndpointIR) -> Json:
    media = _media_types(api)
    typed = "csv" if endpoint.body == "csv" else (endpoint.typed_format or "json")
    content: Json = {media[typed]: _typed_media(endpoint)}
    for fmt in endpoint.formats:
        if fmt == typed:
            continue
        schema = _rows_schema(endpoint) if fmt == "json" else {"type": "string"}
        content.setdefault(media[fmt], {"schema": schema})
    return content


def _typed_media(endpoint: EndpointIR) -> Json:
    if endpoint.body == "csv":
        return {
            "schema": {"type": "string"},
            "x-csv-columns-of": f"#/components/schemas/{endpoint.model}",
        }
    return {"schema": _rows_schema(endpoint)}


def _rows_schema(endpoint: EndpointIR) -> Json:
    if endpoint.kind == "values":
        assert endpoint.value_field is not None
        item: Json = {"type": "object", "properties": {endpoint.value_field: {"type": "string"}}}
        return {"type": "array", "items": item}
    schema: Json = {"type": "array", "items": {"$ref": f"#/components/schemas/{endpoint.model}"}}
    if endpoint.kind == "row":
        schema["maxItems"] = 1
    return schema


def _media_types(api: ApiIR) -> dict[str, str]:
    return {**DEFAULT_MEDIA_TYPES, **dict(api.content_types)}


def _error_body(api: ApiIR) -> tuple[str, Json]:
    """How error bodies look (api.error_style): the sentence saying so and the content."""
    if api.error_style == "json_error_message":
        schema: Json = {
            "type": "object",
            "properties": {"errorMessage": {"type": "string"}},
            "additionalProperties": True,
        }
        shape = 'The body, when there is one, is `{"errorMessage": "<text>"}`.'
        return shape, {"application/json": {"schema": schema}}
    shape = "The body, when there is one, is a plain sentence (not always labelled text/plain)."
    return shape, {"text/plain": {"schema": {"type": "string"}}}


def _error_responses(api: ApiIR) -> Json:
    out: Json = {}
    for status, name, what in ERROR_RESPONSES:
        if status == "401" and api.auth.kind == "none":
            continue
        if status == "400" and api.unknown_params == "reject":
            what = "A missing or invalid parameter, or an unknown or mis-cased query parameter."
        shape, content = _error_body(api)
        response: Json = {"description": f"{what} {shape}", "content": content}
        if status == "429":
            response["headers"] = {
                "Retry-After": {"description": "Seconds or an HTTP date.", "schema": {"type": "string"}}
            }
        out[name] = response
    return out


# -- models ---------------------------------------------------------------------------------
def _model_schema(model: ModelIR) -> Json:
    return {
        "type": "object",
        "description": model.doc.strip(),
        "properties": {f.wire: _field_schema(f) for f in model.fields},
        "additionalProperties": True,
    }


def _field_schema(field: FieldIR) -> Json:
    description = field.doc.strip()
    schema: Json
    if field.type == "model":
        schema = {"$ref": f"#/components/schemas/{field.model}"}
    elif field.type == "list":
        if field.items_is_model:
            items: Json = {"$ref": f"#/components/schemas/{field.items}"}
        else:
            items = {"type": SCALAR_TYPES[str(field.items)]}
        schema = {"type": "array", "items": items}
        if field.separator is not None:
            schema = {"anyOf": [schema, {"type": "string"}], "x-separator": field.separator}
            description += f" The server may send the items joined by {field.separator!r} in one string."
    elif field.type == "map":
        schema = {"type": "object", "additionalProperties": {"type": SCALAR_TYPES[str(field.items)]}}
    elif field.type == "json":
        schema = {}
    elif field.type in ("date", "datetime"):
        assert field.date_format is not None
        schema = {"type": "string", "x-date-format": field.date_format}
        if field.type == "date" and field.date_format == ISO_DATE:
            schema["format"] = "date"
        description += f" Wire format: {_human_date_format(field.date_format)}."
    elif field.coerce_from_string or field.wire_type == "str":
        schema = {"type": [SCALAR_TYPES[field.type], "string"]}
        description += " May arrive as a string holding the value."
    else:
        schema = {"type": SCALAR_TYPES[field.type]}
    if field.aliases:
        schema["x-aliases"] = list(field.aliases)
        description += f" Older servers name it {', '.join(field.aliases)}."
    if "$ref" in schema:  # siblings of $ref are allowed in 3.1; keep the ref first-class
        schema = {"allOf": [schema]}
    schema["description"] = description
    schema["x-python-name"] = field.python
    return schema


# -- date formats -----------------------------------------------------------------------------
def _date_tokens(date_format: str) -> list[tuple[str, str] | None]:
    """Each piece of a strftime format as (human, regex); None for a directive not known here."""
    tokens: list[tuple[str, str] | None] = []
    chars = iter(date_format)
    for char in chars:
        if char == "%":
            tokens.append(DATE_DIRECTIVES.get(next(chars, "")))
        else:
            tokens.append((char, "\\" + char if char in REGEX_SPECIALS else char))
    return tokens


def _human_date_format(date_format: str) -> str:
    """``%m-%d-%Y`` -> ``MM-DD-YYYY (strftime %m-%d-%Y)``."""
    tokens = _date_tokens(date_format)
    if any(t is None for t in tokens):
        return f"strftime {date_format}"
    return "".join(t[0] for t in tokens if t is not None) + f" (strftime {date_format})"


def _date_pattern(date_format: str) -> str | None:
    tokens = _date_tokens(date_format)
    if any(t is None for t in tokens):
        return None
    return "^" + "".join(t[1] for t in tokens if t is not None) + "$"


# -- command line -----------------------------------------------------------------------------
def _dumps(doc: Json) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen openapi",
        description="Export a spec as an OpenAPI 3.1 document (JSON).",
    )
    parser.add_argument("spec", type=Path, help="the spec file (spec/<version>.yaml)")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    return parser


def run(argv: list[str]) -> int:
    """``python -m codegen openapi SPEC.yaml [-o OUT.json]``; ``argv`` is what follows ``openapi``.

    Exit status 0 when written, 2 when the spec cannot be read or has problems (listed on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        api = load_api(args.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{args.spec}: cannot read the spec: {exc.strerror}", file=sys.stderr)
        return 2
    text = _dumps(to_openapi(api))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8", newline="\n")
    return 0
