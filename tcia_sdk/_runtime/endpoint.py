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
FieldType = Literal["str", "int", "float", "bool", "date", "datetime", "list", "model", "map", "json"]
ResultKind = Literal["rows", "row", "values", "binary", "text", "object", "strings", "page"]
EmptyResult = Literal["empty_array", "empty_body"]
AuthKind = Literal["none", "api_key", "oauth2_password"]


class Param(NamedTuple):
    """One request parameter: its exact wire name and how a Python value is written on the wire.

    A ``repeated`` parameter takes a list: each item its own ``key=value`` pair, or with
    ``explode=False`` one comma-joined value (the server splits it). ``chunk`` caps the items per
    request: a longer list is sent in several requests whose rows are joined in order. A ``bool``
    is written as ``true_value``/``false_value``; None there means the key is left out.
    """

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
    explode: bool = True
    chunk: int | None = None
    true_value: str | None = "true"
    false_value: str | None = "false"
    default: str | None = None
    internal: bool = False
    paging: Literal["start", "size"] | None = None
    criterion: str | None = None
    criterion_keys: tuple[tuple[str, str], ...] = ()
    type_key: str | None = None
    many: bool = False
    upper: bool = False
    offset: int = 0
    requires: str | None = None
    # date: how the server compares the matched field with the date: ">=" on or after, ">" strictly
    # after (NBIA getUpdatedSeries). Read by the fake server only.
    compare: Literal[">=", ">"] = ">="


class Field(NamedTuple):
    """One response field of a model: wire name, attribute name and declared type.

    ``list`` fields hold ``items`` (a scalar type or a model name); with a ``separator`` the server
    may also send them joined in one string. ``model`` fields hold one object of ``model``.
    ``aliases`` are other wire names of the same field (an older server's header spelling);
    ``wire_type`` is the JSON type the server really sends when it differs (``"str"``: a number or
    boolean sent as text). ``display``: one of the columns a table shows by default.
    """

    wire: str
    python: str
    type: FieldType
    date_format: str | None = None
    coerce_from_string: bool = False
    doc: str = ""
    items: str | None = None
    model: str | None = None
    separator: str | None = None
    aliases: tuple[str, ...] = ()
    wire_type: str | None = None
    display: bool = False


class ModelInfo(NamedTuple):
    """A response model: its class and fields, the models it refers to, and its fast decoder.

    ``registry`` is the package's MODELS mapping (nested fields name other models);
    ``decoders`` loads the generated compiled decoders on first use.
    """

    name: str
    cls: type
    fields: tuple[Field, ...]
    registry: Mapping[str, ModelInfo]
    decoders: Callable[[], Mapping[str, Any]] | None = None
    doc: str = ""

    def structure(self, row: Mapping[str, Any]) -> Any:
        """One JSON row as this model, strictly (the cattrs hook and direct callers use it)."""
        from .structure import structure_row

        return structure_row(self, row, None)


class AuthInfo(NamedTuple):
    """How requests are authenticated (the secret itself lives on the client, never here).

    ``optional``: anonymous unless credentials are given (NBIA v4 honours a token if sent).
    ``no_token``: the server's answer to a request without any Authorization header.
    """

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
    optional: bool = False
    anonymous_bearer: str | None = None
    # What the server answers a request with no Authorization header (read by the fake only):
    # run it as the guest, a 500, or the empty result from all but the download endpoints.
    no_token: Literal["guest", "error", "empty"] = "guest"


class ServerInfo(NamedTuple):
    """One named host of an API (production, NLST, staging).

    ``exclusive`` maps a wire field to values only this server holds (``{"Collection": ("NLST",)}``),
    so a call naming them on another known server fails before it is sent, with the right host named.
    """

    name: str
    url: str
    doc: str = ""
    exclusive: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class ApiInfo(NamedTuple):
    """API-wide conventions shared by every endpoint of one spec.

    ``base_url`` is the default server's URL; ``base_url_env`` names the environment variable that
    overrides it (``TCIA_BASE_URL`` for the live API).
    """

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
    servers: tuple[ServerInfo, ...] = ()
    base_url_env: str | None = None
    json_style: Literal["jettison", "jackson", "jackson_non_null", "gson"] = "jettison"
    status: Literal["live", "deprecated", "retired"] = "live"

    def server(self, name: str) -> ServerInfo | None:
        return next((s for s in self.servers if s.name == name), None)


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
    # Used instead of ``zip`` when it answers ``fallback_status`` with ``fallback_message`` in its
    # body: an older server that refuses one of ``zip_params`` (NBIA v4 before IncludeMD5).
    zip_fallback: Endpoint | None = None
    fallback_status: int | None = None
    fallback_message: str | None = None


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
    content: str | None = None  # what the fake server builds: series-zip, patient-search, ...
    doc: str = ""
    page_items: str | None = None  # page: the wire field of the page model listing the results
    page_total: str | None = None  # page: the wire field with the number of results on all pages
    page_size: int | None = None
    csv_header: tuple[str, ...] = ()  # the server's literal header when its names are wrong
    json_style: Literal["jettison", "jackson", "jackson_non_null", "gson"] | None = None
    unknown_params: Literal["ignore", "reject"] | None = None  # when not the API's (NBIA search: ignore)
    broken: str | None = None  # why the live server fails on it, whatever it is asked

    @property
    def required_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.required)

    @property
    def model(self) -> ModelInfo | None:
        """The response model; its module loads on first use (a client needs none to start)."""
        if self.model_name is None or self.models is None:
            return None
        return self.models()[self.model_name]
