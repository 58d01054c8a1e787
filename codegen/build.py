"""Spec data -> intermediate model, with every cross-reference and name checked."""

from __future__ import annotations

import hashlib
from typing import Any

from .diagnostics import Diagnostic, Locator, SpecError, YamlPath
from .ir import ApiIR, AuthIR, DownloadIR, EndpointIR, FieldIR, ModelIR, ParamIR, ServerIR
from .naming import is_class_name, is_snake_identifier, python_identifier, snake_case

# Keyword arguments every generated method has; a spec parameter must not take these names.
RESERVED_PARAMS = frozenset(
    {"self", "format", "timeout", "max_retries", "extra_headers", "extra_query", "to", "server"}
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
SCALAR_ITEMS = ("str", "int", "float", "bool")


def _dependency_order(models: list[ModelIR]) -> list[ModelIR]:
    """Models in spec order, except that a nested model comes before the models using it.

    A model may contain itself (a tree node's children): cycles are simply not followed.
    """
    by_name = {m.name: m for m in models}
    out: list[ModelIR] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(model: ModelIR) -> None:
        if model.name in placed or model.name in visiting:
            return
        visiting.add(model.name)
        for used in model.models_used:
            if used in by_name:
                place(by_name[used])
        visiting.discard(model.name)
        placed.add(model.name)
        out.append(model)

    for model in models:
        place(model)
    return out


class _Builder:
    def __init__(self, data: dict[str, Any], locator: Locator, spec_file: str, text: str) -> None:
        self._models_by_name: dict[str, list[tuple[FieldIR, ...]]] = {}
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
        servers = self._servers(api, models, endpoints)
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
                optional=bool(auth.get("optional", False)),
                anonymous_bearer=auth.get("anonymous_bearer"),
                # Without credentials a kind-none or optional API serves the guest.
                no_token=auth.get(
                    "no_token",
                    "error" if auth["kind"] == "oauth2_password" and not auth.get("optional") else "guest",
                ),
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
            servers=servers,
            base_url_env=api.get("base_url_env"),
            json_style=api.get("json_style", "jettison"),
            status=api.get("status", "live"),
            excluded=tuple(sorted(self.data.get("excluded", {}).items())),
        )

    def _servers(
        self, api: dict[str, Any], models: list[ModelIR], endpoints: list[EndpointIR]
    ) -> tuple[ServerIR, ...]:
        """Named hosts; the spec's base_url must be one of them (the default)."""
        spec = api.get("servers")
        if not spec:
            return ()
        base = api["base_url"].rstrip("/")
        out = []
        fields = {f.wire for m in models for f in m.fields}
        fields |= {p.matches or p.wire for e in endpoints for p in e.params}
        for name, entry in spec.items():
            path: YamlPath = ("api", "servers", name)
            if not is_snake_identifier(name):
                self.error(path, f"server name {name!r} is not usable, expected a snake_case identifier")
            exclusive = entry.get("exclusive", {})
            for field in exclusive:
                if field not in fields:
                    self.error(
                        (*path, "exclusive", field),
                        f"{field!r} is neither a field of a model nor what a parameter selects on",
                    )
            out.append(
                ServerIR(
                    name=name,
                    url=entry["url"].rstrip("/"),
                    doc=entry["doc"],
                    exclusive=tuple((k, tuple(v)) for k, v in sorted(exclusive.items())),
                )
            )
        if base not in {s.url for s in out}:
            self.error(("api", "base_url"), "base_url must be the url of one of the servers (the default)")
        return tuple(out)

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
        fallback = spec.get("zip_fallback")
        if fallback is not None:
            endpoint = by_wire.get(fallback["endpoint"])
            if endpoint is None or endpoint.kind != "binary":
                self.error(
                    (*path, "zip_fallback", "endpoint"), f"{fallback['endpoint']!r} is not a binary endpoint"
                )
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
            zip_fallback=fallback["endpoint"] if fallback else None,
            fallback_status=fallback.get("status") if fallback else None,
            fallback_message=fallback.get("message") if fallback else None,
        )

    def _models(self) -> list[ModelIR]:
        out: list[ModelIR] = []
        snake_names: dict[str, str] = {}
        names = sorted(self.data.get("models", {}))
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
                items, model_ref = fspec.get("items"), fspec.get("model")
                if ftype == "map" and items not in SCALAR_ITEMS:
                    self.error(fpath, "a map field needs `items:` str, int, float or bool (its values' type)")
                if ftype == "list" and items is None:
                    self.error(fpath, "a list field needs `items:` (a scalar type or a model name)")
                if ftype == "model" and model_ref is None:
                    self.error(fpath, "a model field needs `model:` (the nested model's name)")
                if items is not None and ftype not in ("list", "map"):
                    self.error((*fpath, "items"), "items applies to list and map fields")
                if model_ref is not None and ftype != "model":
                    self.error((*fpath, "model"), "model applies to model fields")
                if fspec.get("separator") is not None and (ftype != "list" or items not in SCALAR_ITEMS):
                    self.error((*fpath, "separator"), "separator applies to lists of str, int or float")
                referenced = model_ref or (items if items not in SCALAR_ITEMS else None)
                if referenced is not None and referenced not in names:
                    self.error(fpath, f"unknown model {referenced!r}, expected one of: {', '.join(names)}")
                wire_type = fspec.get("wire_type")
                if wire_type is not None and ftype not in ("int", "float", "bool"):
                    self.error((*fpath, "wire_type"), "wire_type applies to int, float and bool fields")
                aliases = tuple(fspec.get("aliases", ()))
                for alias in aliases:
                    if alias == wire or alias in spec["fields"]:
                        self.error(
                            (*fpath, "aliases"), f"alias {alias!r} is already a wire name of this model"
                        )
                fields.append(
                    FieldIR(
                        wire=wire,
                        python=python,
                        type=ftype,
                        doc=fspec["doc"],
                        date_format=fspec.get("date_format"),
                        coerce_from_string=bool(fspec.get("coerce_from_string", False)),
                        items=items,
                        model=model_ref,
                        separator=fspec.get("separator"),
                        aliases=aliases,
                        wire_type=wire_type,
                        display=bool(fspec.get("display", False)),
                        items_is_model=ftype == "list" and items not in SCALAR_ITEMS,
                    )
                )
            out.append(ModelIR(name=name, doc=spec["doc"], fields=tuple(fields)))
        self._models_by_name = {m.name: [m.fields] for m in out}
        return _dependency_order(out)

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
        repeated = bool(spec.get("repeated", False))
        for key in ("explode", "chunk"):
            if key in spec and not repeated:
                self.error(path, f"{key} applies to repeated (list) parameters")
        for key in ("wire_true", "wire_false"):
            if key in spec and ptype != "bool":
                self.error(path, f"{key} applies to bool parameters")
        if spec.get("internal") and spec.get("default") is None and spec.get("paging") != "start":
            self.error(path, "an internal parameter needs a `default:` (what is always sent)")
        if spec.get("paging") and ptype != "int":
            self.error(path, "a paging parameter is an int")
        if "compare" in spec and ptype != "date":
            self.error(path, "compare applies to date parameters")
        return ParamIR(
            wire=wire,
            python=python,
            type=ptype,
            required=bool(spec.get("required", False)),
            location=spec.get("location", location),
            doc=spec["doc"],
            date_format=spec.get("date_format"),
            enum=tuple(spec.get("enum", ())),
            repeated=repeated,
            matches=spec.get("matches"),
            compare=spec.get("compare", ">="),
            explode=bool(spec.get("explode", True)),
            chunk=spec.get("chunk"),
            wire_true=spec.get("wire_true", "true"),
            wire_false=spec.get("wire_false", "false"),
            default=spec.get("default"),
            internal=bool(spec.get("internal", False)),
            paging=spec.get("paging"),
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
            where: YamlPath = (*path, "params", index)
            if isinstance(entry, dict) and "criteria" in entry:
                expanded = self._criteria(entry["criteria"], where, location)
            else:
                one = self._param(entry, where, shared, location)
                expanded = [one] if one is not None else []
            for param in expanded:
                duplicate_wire = param.wire in seen_wire and param.criterion is None
                if duplicate_wire or param.python in seen_python:
                    self.error(
                        where,
                        f"parameter {param.wire!r} is listed twice, expected each parameter once",
                    )
                seen_wire.add(param.wire)
                seen_python.add(param.python)
                params.append(param)
        for param in params:
            if param.requires is not None and param.requires not in seen_python:
                self.error(
                    path, f"criterion {param.python!r} requires {param.requires!r}, which is not a parameter"
                )
        response = spec["response"]
        kind = response["kind"]
        model = response.get("model")
        item_model = self._page(kind, response, path, params, model)
        if kind in ("rows", "row", "object", "page"):
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
        if response.get("csv_header") and body != "csv":
            self.error((*path, "response", "csv_header"), "csv_header applies to csv bodies")
        if kind not in ("binary", "text") and response.get("media_type"):
            self.error((*path, "response", "media_type"), "media_type applies to binary and text responses")
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
            page_items=response.get("items"),
            page_total=response.get("total"),
            page_size=response.get("page_size"),
            item_model=item_model,
            csv_header=tuple(response.get("csv_header", ())),
            json_style=spec.get("json_style"),
            unknown_params=spec.get("unknown_params"),
            broken=spec.get("broken"),
        )

    def _page(
        self,
        kind: str,
        response: dict[str, Any],
        path: YamlPath,
        params: list[ParamIR],
        model: str | None,
    ) -> str | None:
        """The item model of a page response, after checking its fields and paging parameters."""
        page_keys = ("items", "total", "page_size")
        if kind != "page":
            for key in page_keys:
                if key in response:
                    self.error((*path, "response", key), f"{key} applies to page responses")
            if any(p.paging for p in params):
                self.error(path, "paging parameters belong to page responses")
            return None
        missing = [k for k in page_keys if k not in response]
        if missing:
            self.error((*path, "response"), f"a page response needs {', '.join(missing)}")
            return None
        roles = {p.paging for p in params}
        if not {"start", "size"} <= roles:
            self.error(path, "a page endpoint needs a `paging: start` and a `paging: size` parameter")
        fields = {f.wire: f for m in self._models_by_name.get(model or "", ()) for f in m}
        items = fields.get(response["items"])
        if items is None or not items.items_is_model:
            self.error(
                (*path, "response", "items"),
                f"{response['items']!r} is not a list-of-models field of {model}",
            )
            return None
        total = fields.get(response["total"])
        if total is None or total.type != "int":
            self.error((*path, "response", "total"), f"{response['total']!r} is not an int field of {model}")
        return items.items

    def _criteria(self, name: str, path: YamlPath, location: str) -> list[ParamIR]:
        """The parameters a criteria set gives an endpoint: one keyword argument per field."""
        sets = self.data.get("criteria", {})
        spec = sets.get(name)
        if spec is None:
            self.error(
                path, f"unknown criteria set {name!r}, expected one of: {', '.join(sets) or 'none defined'}"
            )
            return []
        out = []
        for python, field in spec["fields"].items():
            fpath: YamlPath = ("criteria", name, "fields", python)
            keys = field["keys"]
            roles = set(keys)
            if roles not in ({"value"}, {"from", "to"}):
                self.error((*fpath, "keys"), "keys: give `value`, or `from` and `to`")
            if "from" in roles and field.get("many"):
                self.error(fpath, "a range criterion takes one (from, to) pair, not many")
            ftype = field["type"]
            if ftype == "date" and not field.get("date_format"):
                self.error(fpath, 'a date criterion needs `date_format:`, expected e.g. "%m-%d-%Y"')
            if ftype == "enum" and not field.get("enum"):
                self.error(fpath, "an enum criterion needs `enum:`")
            if field.get("offset") and ftype != "int":
                self.error((*fpath, "offset"), "offset applies to int criteria")
            if field.get("upper") and ftype != "str":
                self.error((*fpath, "upper"), "upper applies to str criteria")
            final = field.get("name", python)
            if not is_snake_identifier(final) or final in RESERVED_PARAMS:
                self.error(fpath, f"{final!r} is not a usable keyword argument name")
            out.append(
                ParamIR(
                    wire=keys.get("value") or keys.get("from", ""),
                    python=final,
                    type=ftype,
                    required=False,
                    location=location,
                    doc=field["doc"],
                    date_format=field.get("date_format"),
                    enum=tuple(field.get("enum", ())),
                    matches=field.get("matches"),
                    wire_true=field.get("wire_true", "true"),
                    wire_false=field.get("wire_false", "false"),
                    criterion=field["criterion"],
                    criterion_keys=tuple(sorted(keys.items())),
                    type_key=spec["type_key"],
                    many=bool(field.get("many", False)),
                    upper=bool(field.get("upper", False)),
                    offset=int(field.get("offset", 0)),
                    requires=field.get("requires"),
                )
            )
        # Several criteria share one wire key template: number them at run time, not here.
        return out


def build_api(data: dict[str, Any], locator: Locator, spec_file: str, text: str) -> ApiIR:
    return _Builder(data, locator, spec_file, text).build()
