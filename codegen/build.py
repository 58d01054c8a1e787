"""Spec data -> intermediate model, with every cross-reference and name checked."""

from __future__ import annotations

import hashlib
from typing import Any

from .diagnostics import Diagnostic, Locator, SpecError, YamlPath
from .ir import ApiIR, AuthIR, DownloadIR, EndpointIR, FieldIR, ModelIR, ParamIR
from .naming import is_class_name, is_snake_identifier, python_identifier, snake_case

# Keyword arguments every generated method has; a spec parameter must not take these names.
RESERVED_PARAMS = frozenset(
    {"self", "format", "timeout", "max_retries", "extra_headers", "extra_query", "to"}
)
RESERVED_FIELDS = frozenset({"additional_properties"})
# Names the generated modules define or import themselves.
RESERVED_MODELS = frozenset(
    {
        "API",
        "Any",
        "AsyncClient",
        "AsyncClientWithRawResponse",
        "Client",
        "ClientWithRawResponse",
        "Destination",
        "Download",
        "ENDPOINTS",
        "Literal",
        "MODELS",
        "Mapping",
        "RawResponse",
        "Sequence",
        "TimeoutTypes",
    }
)
DATE_TYPES = ("date", "datetime")


class _Builder:
    def __init__(self, data: dict[str, Any], locator: Locator, spec_file: str, text: str) -> None:
        self.data = data
        self.loc = locator
        self.spec_file = spec_file
        self.text = text
        self.problems: list[Diagnostic] = []

    def error(self, path: YamlPath, message: str) -> None:
        self.problems.append(self.loc.at(path, message))

    # -- names -----------------------------------------------------------------------------
    def _python_name(self, wire: str, override: str | None, path: YamlPath, what: str) -> str:
        if override is not None:
            if not is_snake_identifier(override):
                self.error(
                    (*path, "name"),
                    f"{override!r} is not a usable Python name, expected a snake_case identifier "
                    "that is not a keyword",
                )
            return override
        derived = python_identifier(snake_case(wire))
        if not is_snake_identifier(derived):
            self.error(
                path,
                f"cannot derive a Python name for {what} {wire!r} (got {derived!r}), "
                "expected an explicit `name:` that is a snake_case identifier",
            )
        return derived

    # -- parts -----------------------------------------------------------------------------
    def build(self) -> ApiIR:
        api = self.data["api"]
        formats = api.get("formats")
        models = self._models()
        model_names = {m.name for m in models}
        shared = self.data.get("parameters", {})
        resources = self.data["resources"]
        endpoints: list[EndpointIR] = []
        seen_python: dict[str, str] = {}
        for wire, spec in self.data["endpoints"].items():
            if spec is None:  # removed in a spec that extends another
                continue
            path: YamlPath = ("endpoints", wire)
            endpoint = self._endpoint(wire, spec, path, shared, resources, model_names, formats)
            if endpoint is None:
                continue
            if endpoint.constant in ("API", "DOWNLOAD", "ENDPOINTS", "MODELS"):
                self.error(
                    path, f"Python name {endpoint.python!r} clashes with a generated constant, set `name:`"
                )
            if endpoint.python in seen_python:
                self.error(
                    path,
                    f"Python name {endpoint.python!r} is already used by endpoint "
                    f"{seen_python[endpoint.python]!r}, expected unique names (set `name:`)",
                )
            seen_python[endpoint.python] = wire
            endpoints.append(endpoint)
        auth = api["auth"]
        if auth["kind"] == "api_key" and not auth.get("header"):
            self.error(("api", "auth"), "api_key auth needs `header:`, expected the header name")
        if auth["kind"] == "oauth2_password" and not auth.get("token_url"):
            self.error(("api", "auth"), "oauth2_password auth needs `token_url:`")
        if formats is not None:
            missing = [v for v in formats["values"] if v not in formats["content_types"]]
            if missing:
                self.error(
                    ("api", "formats", "content_types"),
                    f"no content type for format(s) {', '.join(missing)}, expected one per value",
                )
        download = self._download(endpoints)
        if self.problems:
            raise SpecError(self.problems)
        return ApiIR(
            name=api["name"],
            package=api["package"],
            version=str(api.get("version", "")),
            doc=api["doc"],
            base_url=api["base_url"].rstrip("/"),
            auth=AuthIR(
                kind=auth["kind"],
                header=auth.get("header"),
                env=auth.get("env"),
                required=bool(auth.get("required", False)),
                token_url=auth.get("token_url"),
                client_id=auth.get("client_id"),
                client_secret=auth.get("client_secret"),
                username_env=auth.get("username_env"),
                password_env=auth.get("password_env"),
                guest_username=auth.get("guest_username"),
            ),
            empty_result=api["empty_result"],
            unknown_params=api.get("unknown_params", "ignore"),
            error_style=api.get("error_style", "plain_text"),
            format_param=formats["param"] if formats else None,
            format_values=tuple(formats["values"]) if formats else (),
            send_default_format=bool(formats.get("send_default", False)) if formats else False,
            content_types=tuple(sorted(formats["content_types"].items())) if formats else (),
            models=tuple(models),
            endpoints=tuple(endpoints),
            spec_file=self.spec_file,
            spec_sha256=hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
            download=download,
        )

    def _download(self, endpoints: list[EndpointIR]) -> DownloadIR | None:
        spec = self.data.get("download")
        if spec is None:
            return None
        by_wire = {e.wire: e for e in endpoints}
        path: YamlPath = ("download",)
        expected_kinds = {
            "zip": "binary",
            "metadata": "rows",
            "single_image": "binary",
            "sop_uids": "values",
            "query": "rows",
        }
        for key, kind in expected_kinds.items():
            name = spec.get(key)
            if name is None:
                continue
            endpoint = by_wire.get(name)
            if endpoint is None:
                self.error((*path, key), f"unknown endpoint {name!r}, expected one of: {', '.join(by_wire)}")
            elif endpoint.kind != kind:
                self.error((*path, key), f"endpoint {name!r} answers {endpoint.kind}, expected {kind}")
        metadata = by_wire.get(spec["metadata"])
        for key in ("metadata_by", "metadata_list_param"):
            param = spec.get(key)
            if param is not None and metadata is not None and param not in {p.wire for p in metadata.params}:
                self.error((*path, key), f"{spec['metadata']!r} has no parameter {param!r}")
        if ("metadata_by" in spec) == ("metadata_list_param" in spec):
            self.error(path, "give exactly one of `metadata_by:` or `metadata_list_param:`")
        chunk = spec.get("metadata_chunk")
        if chunk is not None and not isinstance(chunk, int):
            # JSON Schema's integer takes 100.0 and 1e+300 too: floats would reach the runtime.
            self.error(
                (*path, "metadata_chunk"),
                f"{chunk!r} is not a whole number, expected an integer written without a decimal point",
            )
        return DownloadIR(
            zip=spec["zip"],
            metadata=spec["metadata"],
            count_field=spec["count_field"],
            zip_params=tuple(sorted(spec.get("zip_params", {}).items())),
            zip_layout=spec.get("zip_layout", "nbia"),
            md5_file=spec.get("md5_file"),
            metadata_by=spec.get("metadata_by"),
            metadata_list_param=spec.get("metadata_list_param"),
            metadata_chunk=spec.get("metadata_chunk"),
            size_field=spec.get("size_field"),
            single_image=spec.get("single_image"),
            sop_uids=spec.get("sop_uids"),
            query=spec.get("query"),
        )

    def _models(self) -> list[ModelIR]:
        out: list[ModelIR] = []
        snake_names: dict[str, str] = {}
        for name, spec in self.data.get("models", {}).items():
            path: YamlPath = ("models", name)
            if snake_case(name) in snake_names:
                self.error(
                    path,
                    f"model {name!r} and {snake_names[snake_case(name)]!r} give the same "
                    "generated names, expected distinct model names",
                )
            snake_names[snake_case(name)] = name
            if not is_class_name(name) or name in RESERVED_MODELS:
                self.error(
                    path,
                    f"model name {name!r} is not usable, expected a CapWords identifier that is "
                    f"not a keyword nor one of {', '.join(sorted(RESERVED_MODELS))}",
                )
            fields: list[FieldIR] = []
            seen: dict[str, str] = {}
            for wire, fspec in spec["fields"].items():
                fpath: YamlPath = (*path, "fields", wire)
                python = self._python_name(wire, fspec.get("name"), fpath, "field")
                if python in RESERVED_FIELDS:
                    self.error(fpath, f"{python!r} is reserved for unknown keys, expected another name")
                if python in seen:
                    self.error(
                        fpath,
                        f"Python name {python!r} is already used by field {seen[python]!r}, "
                        "expected unique names (set `name:`)",
                    )
                seen[python] = wire
                ftype = fspec["type"]
                if ftype in DATE_TYPES and not fspec.get("date_format"):
                    self.error(fpath, f'a {ftype} field needs `date_format:` (e.g. "%Y-%m-%d")')
                if fspec.get("date_format") and ftype not in DATE_TYPES:
                    self.error((*fpath, "date_format"), "date_format applies only to date/datetime")
                fields.append(
                    FieldIR(
                        wire=wire,
                        python=python,
                        type=ftype,
                        doc=fspec["doc"],
                        date_format=fspec.get("date_format"),
                        coerce_from_string=bool(fspec.get("coerce_from_string", False)),
                    )
                )
            out.append(ModelIR(name=name, doc=spec["doc"], fields=tuple(fields)))
        return out

    def _param(self, entry: Any, path: YamlPath, shared: dict[str, Any], location: str) -> ParamIR | None:
        if isinstance(entry, str):
            entry = {"use": entry}
        if "use" in entry:
            base = shared.get(entry["use"])
            if base is None:
                known = ", ".join(sorted(shared)) or "none defined"
                self.error(
                    path,
                    f"unknown parameter {entry['use']!r}, expected one of the top-level parameters ({known})",
                )
                return None
            spec = {**base, **{k: v for k, v in entry.items() if k != "use"}}
            wire = entry["use"]
        else:
            spec = entry
            wire = entry["wire"]
        python = self._python_name(wire, spec.get("name"), path, "parameter")
        if python in RESERVED_PARAMS:
            self.error(
                path,
                f"Python name {python!r} is reserved for the call options, expected another `name:`",
            )
        ptype = spec["type"]
        if ptype == "date" and not spec.get("date_format"):
            self.error(path, 'a date parameter needs `date_format:`, expected e.g. "%Y-%m-%d"')
        if ptype == "enum" and not spec.get("enum"):
            self.error(path, "an enum parameter needs `enum:`, expected a list of wire values")
        return ParamIR(
            wire=wire,
            python=python,
            type=ptype,
            required=bool(spec.get("required", False)),
            location=spec.get("location", location),
            doc=spec["doc"],
            date_format=spec.get("date_format"),
            enum=tuple(spec.get("enum", ())),
            repeated=bool(spec.get("repeated", False)),
            matches=spec.get("matches"),
        )

    def _endpoint(
        self,
        wire: str,
        spec: dict[str, Any],
        path: YamlPath,
        shared: dict[str, Any],
        resources: dict[str, Any],
        model_names: set[str],
        formats: dict[str, Any] | None,
    ) -> EndpointIR | None:
        python = self._python_name(wire, spec.get("name"), path, "endpoint")
        resource = resources.get(spec["resource"])
        if resource is None:
            self.error(
                (*path, "resource"),
                f"unknown resource {spec['resource']!r}, expected one of: {', '.join(resources)}",
            )
        method = spec.get("method", "GET")
        location = "form" if method == "POST" else "query"
        params: list[ParamIR] = []
        seen_wire: set[str] = set()
        seen_python: set[str] = set()
        for index, entry in enumerate(spec.get("params", [])):
            param = self._param(entry, (*path, "params", index), shared, location)
            if param is None:
                continue
            if param.wire in seen_wire or param.python in seen_python:
                self.error(
                    (*path, "params", index),
                    f"parameter {param.wire!r} is listed twice, expected each parameter once",
                )
            seen_wire.add(param.wire)
            seen_python.add(param.python)
            params.append(param)
        response = spec["response"]
        kind = response["kind"]
        model = response.get("model")
        if kind in ("rows", "row"):
            if model is None:
                self.error((*path, "response"), f"a {kind} response needs `model:`")
            elif model not in model_names:
                self.error(
                    (*path, "response", "model"),
                    f"unknown model {model!r}, expected one of: {', '.join(sorted(model_names))}",
                )
        elif model is not None:
            self.error((*path, "response", "model"), f"a {kind} response takes no model")
        if kind == "values" and not response.get("field"):
            self.error((*path, "response"), "a values response needs `field:` (the column)")
        body = response.get("body", "json")
        if body != "json" and kind not in ("rows", "row"):
            self.error((*path, "response", "body"), f"body: {body} applies to rows and row responses only")
        if kind not in ("binary", "text") and response.get("media_type"):
            self.error((*path, "response", "media_type"), "media_type applies to binary and text responses")
        if kind != "binary" and response.get("content"):
            self.error((*path, "response", "content"), "content applies to binary responses")
        if kind == "binary" and not response.get("media_type"):
            self.error((*path, "response"), "a binary response needs `media_type:`")
        endpoint_formats: tuple[str, ...] = ()
        if formats is not None and kind in ("rows", "row", "values") and spec.get("formats", body == "json"):
            endpoint_formats = tuple(formats["values"])
            if formats["param"] in seen_wire:
                self.error(path, f"parameter {formats['param']!r} clashes with the format parameter")
        idempotent = spec.get("idempotent", method == "GET")
        prefix = resource["path"].strip("/") if resource else ""
        return EndpointIR(
            wire=wire,
            python=python,
            method=method,
            path=f"{prefix}/{wire}" if prefix else wire,
            doc=spec["doc"],
            params=tuple(params),
            kind=kind,
            idempotent=bool(idempotent),
            model=model,
            value_field=response.get("field"),
            media_type=response.get("media_type"),
            in_memory=bool(response.get("in_memory", False)),
            formats=endpoint_formats,
            body=body,
            content=response.get("content"),
        )


def build_api(data: dict[str, Any], locator: Locator, spec_file: str, text: str) -> ApiIR:
    return _Builder(data, locator, spec_file, text).build()
