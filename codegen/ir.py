"""The intermediate model: a checked, resolved spec that templates render without decisions."""

from __future__ import annotations

import attrs

# Python annotation of each spec type, for parameters and for model fields.
PARAM_ANNOTATIONS = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "datetime.date",
}
FIELD_ANNOTATIONS = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "datetime.date",
    "datetime": "datetime.datetime",
    "json": "Any",
}


@attrs.frozen
class ParamIR:
    wire: str
    python: str
    type: str
    required: bool
    location: str
    doc: str
    date_format: str | None = None
    enum: tuple[str, ...] = ()
    repeated: bool = False
    matches: str | None = None
    compare: str = ">="  # date: the server's comparison of the matched field with the date
    explode: bool = True  # False: the list goes as one comma-joined value
    chunk: int | None = None  # at most this many items per request
    wire_true: str | None = "true"  # bool: the wire value of True (None: leave the key out)
    wire_false: str | None = "false"
    default: str | None = None  # wire value sent when the caller gives none
    internal: bool = False  # not a keyword argument (always its default, or set by the pager)
    paging: str | None = None  # "start" or "size" of a page endpoint
    # An indexed search criterion (NBIA simple search): its kind, companion keys and options.
    criterion: str | None = None
    criterion_keys: tuple[tuple[str, str], ...] = ()  # (role, key with {i}): value, or from and to
    type_key: str | None = None  # criteriaType{i}
    many: bool = False
    upper: bool = False
    offset: int = 0
    requires: str | None = None  # the python name of a criterion that must come with this one

    @property
    def is_range(self) -> bool:
        return any(role == "from" for role, _ in self.criterion_keys)

    @property
    def scalar_annotation(self) -> str:
        if self.type == "enum":
            return "Literal[" + ", ".join(_literal(v) for v in self.enum) + "]"
        return PARAM_ANNOTATIONS[self.type]

    @property
    def annotation(self) -> str:
        base = self.scalar_annotation
        if self.criterion is not None:
            if self.is_range:
                return f"tuple[{base}, {base}]"
            return f"{base} | Sequence[{base}]" if self.many else base
        if self.repeated:
            base = f"Sequence[{base}]"
        return base


@attrs.frozen
class FieldIR:
    wire: str
    python: str
    type: str  # str int float bool date datetime, or list (of `items`) or model (`model`)
    doc: str
    date_format: str | None = None
    coerce_from_string: bool = False
    items: str | None = None  # list: a scalar type name or a model name
    model: str | None = None  # model: the nested model's name
    separator: str | None = None  # list: the server may also join the items into one string
    aliases: tuple[str, ...] = ()
    wire_type: str | None = None  # the JSON type the server sends, when not the declared one
    display: bool = False
    items_is_model: bool = False

    @property
    def annotation(self) -> str:
        if self.type == "model":
            return str(self.model)
        if self.type == "map":
            return f"Mapping[str, {FIELD_ANNOTATIONS[str(self.items)]}]"
        if self.type == "list":
            item = str(self.items) if self.items_is_model else FIELD_ANNOTATIONS[str(self.items)]
            return f"tuple[{item}, ...]"
        return FIELD_ANNOTATIONS[self.type]

    @property
    def iso(self) -> bool:
        """A date whose wire format msgspec parses natively (exactly ``YYYY-MM-DD``)."""
        return self.type == "date" and self.date_format == "%Y-%m-%d"

    @property
    def coerced(self) -> bool:
        """A number or boolean that may arrive as text (and then goes through a memo table)."""
        return self.type in ("int", "float", "bool") and (self.coerce_from_string or self.wire_type == "str")

    @property
    def wire_annotation(self) -> str:
        """The type of this field in the msgspec wire struct: exactly what the fast path accepts."""
        if self.type == "model":
            return f"_{self.model}Wire | None"
        if self.type == "map":
            return f"dict[str, {_WIRE_SCALARS[str(self.items)]}] | None"
        if self.type == "json":
            return "Any"
        if self.type == "list":
            if self.items_is_model:
                return f"tuple[_{self.items}Wire, ...] | None"
            item = _WIRE_SCALARS[str(self.items)]
            joined = " | str" if self.separator is not None else ""
            return f"tuple[{item}, ...]{joined} | None"
        if self.iso:
            return "datetime.date | None"
        if self.type in ("date", "datetime"):
            return "str | None"
        if self.coerced:
            return {"int": "int | str", "float": "float | str", "bool": "bool | int | str"}[
                self.type
            ] + " | None"
        return f"{_WIRE_SCALARS[self.type]} | None"

    @property
    def fast_conversion(self) -> str | None:
        """What the builder does with a non-null wire value: None (keep it), or a conversion kind."""
        if self.type == "model":
            return "model"
        if self.type == "list":
            if self.items_is_model:
                return "models"
            return "split" if self.separator is not None else None
        if self.type in ("date", "datetime") and not self.iso:
            return "date"
        if self.coerced:
            return "coerce"
        return None

    @property
    def text_kind(self) -> str:
        """How a CSV cell of this field is read: str, int, float, bool, date, split or none."""
        if self.type in ("str", "int", "float", "bool"):
            return self.type
        if self.type in ("date", "datetime"):
            return "date"
        if self.type == "list" and self.separator is not None and not self.items_is_model:
            return "split"
        return "none"


_WIRE_SCALARS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


@attrs.frozen
class ModelIR:
    name: str
    doc: str
    fields: tuple[FieldIR, ...]

    @property
    def converted(self) -> tuple[tuple[int, FieldIR], ...]:
        """Fields whose non-null wire values the fast builder converts, with their positions."""
        return tuple((i, f) for i, f in enumerate(self.fields) if f.fast_conversion is not None)

    @property
    def fast_capable(self) -> bool:
        """msgspec refuses wire names holding a backslash, a quote or a control character: such a
        model (none in TCIA's APIs) is decoded by the reference path only."""
        names = [n for f in self.fields for n in (f.wire, *f.aliases)]
        return all(not any(c in '\\"' or ord(c) < 0x20 for c in n) for n in names)

    @property
    def models_used(self) -> tuple[str, ...]:
        """Names of the models this one nests (for ordering wire structs)."""
        names = [f.model if f.type == "model" else f.items for f in self.fields]
        used = [n for n, f in zip(names, self.fields, strict=True) if f.type == "model" or f.items_is_model]
        return tuple(str(n) for n in dict.fromkeys(used))


@attrs.frozen
class EndpointIR:
    wire: str
    python: str
    method: str
    path: str
    doc: str
    params: tuple[ParamIR, ...]
    kind: str
    idempotent: bool
    model: str | None = None
    value_field: str | None = None
    media_type: str | None = None
    in_memory: bool = False
    formats: tuple[str, ...] = ()
    body: str = "json"  # rows/row: "json", or "csv" parsed by its header
    content: str | None = None  # what the fake server builds (series-zip, patient-search, ...)
    page_items: str | None = None  # page: wire field of the page model listing the results
    page_total: str | None = None  # page: wire field holding the total over all pages
    page_size: int | None = None
    item_model: str | None = None  # page: the model of one result
    csv_header: tuple[str, ...] = ()  # the server's literal (wrong) header: read cells by position
    json_style: str | None = None
    unknown_params: str | None = None  # when not the API's
    broken: str | None = None  # why the live server fails on it whatever it is asked

    @property
    def exposed_params(self) -> tuple[ParamIR, ...]:
        """The keyword arguments of the method (internal ones and the page offset are not)."""
        return tuple(p for p in self.params if not p.internal and p.paging != "start")

    @property
    def constant(self) -> str:
        return self.python.upper()

    @property
    def typed_format(self) -> str | None:
        return self.formats[0] if self.formats else None

    @property
    def text_formats(self) -> tuple[str, ...]:
        return self.formats[1:]

    @property
    def result_annotation(self) -> str:
        if self.kind == "rows":
            return f"list[{self.model}]"
        if self.kind == "row":
            return str(self.model)
        if self.kind == "values":
            return "list[str]"
        if self.kind == "text":
            return "str"
        if self.kind == "object":
            return str(self.model)
        if self.kind == "strings":
            return "list[str]"
        if self.kind == "page":
            return f"{self.item_model}, {self.model}"
        return "Download"


@attrs.frozen
class AuthIR:
    kind: str
    optional: bool = False
    anonymous_bearer: str | None = None
    no_token: str = "guest"  # oauth2_password: the server's answer without an Authorization header
    header: str | None = None
    env: str | None = None
    required: bool = False
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    guest_username: str | None = None


@attrs.frozen
class DownloadIR:
    zip: str
    metadata: str
    count_field: str
    zip_params: tuple[tuple[str, str], ...] = ()
    zip_layout: str = "nbia"
    md5_file: str | None = None
    metadata_by: str | None = None
    metadata_list_param: str | None = None
    metadata_chunk: int | None = None
    size_field: str | None = None
    single_image: str | None = None
    sop_uids: str | None = None
    query: str | None = None
    # Another zip endpoint to use when the first answers `fallback_status` with `fallback_message`
    # in its body (an older server that does not know a zip parameter).
    zip_fallback: str | None = None
    fallback_status: int | None = None
    fallback_message: str | None = None


@attrs.frozen
class ServerIR:
    name: str
    url: str
    doc: str
    exclusive: tuple[tuple[str, tuple[str, ...]], ...] = ()


@attrs.frozen
class ApiIR:
    name: str
    package: str
    version: str
    doc: str
    base_url: str
    auth: AuthIR
    empty_result: str
    unknown_params: str
    error_style: str
    format_param: str | None
    format_values: tuple[str, ...]
    send_default_format: bool
    content_types: tuple[tuple[str, str], ...]
    models: tuple[ModelIR, ...]
    endpoints: tuple[EndpointIR, ...]
    spec_file: str
    spec_sha256: str
    download: DownloadIR | None = None
    servers: tuple[ServerIR, ...] = ()
    base_url_env: str | None = None
    json_style: str = "jettison"
    excluded: tuple[tuple[str, str], ...] = ()  # server endpoints left out, with the reason
    status: str = "live"

    def endpoint(self, wire: str) -> EndpointIR:
        return next(e for e in self.endpoints if e.wire == wire)

    @property
    def client_models(self) -> tuple[str, ...]:
        """The models the client's method signatures name (results, page items), sorted."""
        names = {e.model for e in self.endpoints if e.model} | {
            e.item_model for e in self.endpoints if e.item_model
        }
        return tuple(sorted(str(n) for n in names))

    @property
    def fast_models(self) -> tuple[ModelIR, ...]:
        """Models with a compiled decoder: fast-capable themselves and in all they nest."""
        capable = {m.name for m in self.models if m.fast_capable}
        changed = True
        while changed:
            changed = False
            for model in self.models:
                if model.name in capable and not set(model.models_used) <= capable:
                    capable.discard(model.name)
                    changed = True
        return tuple(m for m in self.models if m.name in capable)


def _literal(value: str) -> str:
    import json

    return json.dumps(value)
