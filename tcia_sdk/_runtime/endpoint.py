"""What generated code declares about an API and its endpoints: plain data, no behaviour.

The generator turns each spec into one `ApiInfo` and one `Endpoint` per endpoint. The runtime (client,
decoding, downloads) and the fake server read only these descriptors, so neither knows any endpoint
by name and a new API version needs no runtime code.

They are NamedTuples rather than attrs classes: building a client imports this module, and
NamedTuple classes cost a fraction of attrs' class creation at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

ParamType = Literal["str", "int", "float", "bool", "date", "enum"]
FieldType = Literal["str", "int", "float", "bool", "date", "datetime"]
ResultKind = Literal["rows", "row", "values", "binary", "text"]
EmptyResult = Literal["empty_array", "empty_body"]
AuthKind = Literal["none", "api_key", "oauth2_password"]


class Param(NamedTuple):
    """One request parameter: its exact wire name and how a Python value is written on the wire."""

    wire: str
    python: str
    type: ParamType
    required: bool = False
    location: Literal["query", "form"] = "query"
    date_format: str | None = None
    enum: tuple[str, ...] = ()
    repeated: bool = False
    matches: str | None = None
    doc: str = ""


class Field(NamedTuple):
    """One response field of a model: wire name, attribute name and declared type."""

    wire: str
    python: str
    type: FieldType
    date_format: str | None = None
    coerce_from_string: bool = False
    doc: str = ""


class ModelInfo(NamedTuple):
    """A response model: its class, fields and the generated fast structure function."""

    name: str
    cls: type
    fields: tuple[Field, ...]
    structure: Callable[[Mapping[str, Any]], Any]
    doc: str = ""


class AuthInfo(NamedTuple):
    """How requests are authenticated (the secret itself lives on the client, never here)."""

    kind: AuthKind = "none"
    header: str | None = None
    env: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    guest_username: str | None = None
    required: bool = False


class ApiInfo(NamedTuple):
    """API-wide conventions shared by every endpoint of one spec."""

    name: str
    package: str
    spec_file: str
    base_url: str
    auth: AuthInfo
    empty_result: EmptyResult
    unknown_params: Literal["ignore", "reject"]
    content_types: Mapping[str, str]
    error_style: Literal["json_error_message", "plain_text"]
    api_version: str = ""


class DownloadInfo(NamedTuple):
    """How the download engine fetches series with one API (from the spec's ``download`` section)."""

    zip: Endpoint
    metadata: Endpoint
    count_field: str
    zip_params: Mapping[str, str] = MappingProxyType({})
    zip_layout: Literal["bindaas", "nbia"] = "nbia"
    md5_file: str | None = None
    metadata_by: str | None = None
    metadata_list_param: str | None = None
    metadata_chunk: int = 1000
    size_field: str | None = None
    single_image: Endpoint | None = None
    sop_uids: Endpoint | None = None
    query: Endpoint | None = None


class Endpoint(NamedTuple):
    """One endpoint: where it lives, what it takes and what it answers."""

    name: str
    python_name: str
    method: Literal["GET", "POST"]
    path: str
    params: tuple[Param, ...]
    result: ResultKind
    api: ApiInfo
    model_name: str | None = None
    models: Callable[[], Mapping[str, ModelInfo]] | None = None
    value_field: str | None = None
    formats: tuple[str, ...] = ()
    format_param: str | None = None
    send_default_format: bool = False
    idempotent: bool = True
    media_type: str | None = None
    body: Literal["json", "csv"] = "json"
    content: Literal["series-zip", "series-zip-md5", "dicom-instance"] | None = None
    doc: str = ""

    @property
    def required_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.required)

    @property
    def model(self) -> ModelInfo | None:
        """The response model; its module loads on first use (a client needs none to start)."""
        if self.model_name is None or self.models is None:
            return None
        return self.models()[self.model_name]
