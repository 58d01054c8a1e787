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

    @property
    def annotation(self) -> str:
        if self.type == "enum":
            base = "Literal[" + ", ".join(_literal(v) for v in self.enum) + "]"
        else:
            base = PARAM_ANNOTATIONS[self.type]
        if self.repeated:
            base = f"Sequence[{base}]"
        return base


@attrs.frozen
class FieldIR:
    wire: str
    python: str
    type: str
    doc: str
    date_format: str | None = None
    coerce_from_string: bool = False

    @property
    def annotation(self) -> str:
        return FIELD_ANNOTATIONS[self.type]

    @property
    def iso(self) -> bool:
        """A date/datetime whose wire format ``fromisoformat`` reads exactly."""
        return (self.type, self.date_format) in {("date", "%Y-%m-%d"), ("datetime", "%Y-%m-%dT%H:%M:%S")}

    @property
    def fast_type(self) -> str:
        """The exact JSON type the fast structure path accepts without conversion."""
        if self.type in ("date", "datetime"):
            return "str"
        return self.type


@attrs.frozen
class ModelIR:
    name: str
    doc: str
    fields: tuple[FieldIR, ...]

    @property
    def converted(self) -> tuple[tuple[int, FieldIR], ...]:
        """Fields whose wire string becomes a date or datetime."""
        return tuple((i, f) for i, f in enumerate(self.fields) if f.type in ("date", "datetime"))


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
    content: str | None = None  # binary: series-zip, series-zip-md5 or dicom-instance

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
        return "Download"


@attrs.frozen
class AuthIR:
    kind: str
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

    def endpoint(self, wire: str) -> EndpointIR:
        return next(e for e in self.endpoints if e.wire == wire)


def _literal(value: str) -> str:
    import json

    return json.dumps(value)
