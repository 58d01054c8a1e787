"""A fake TCIA that answers every endpoint of an API version from its generated descriptors.

Routes, parameter names and validation, formats, the empty-result convention and the error style all
come from the spec (through the version's ``ENDPOINTS``, ``API`` and ``DOWNLOAD``); the answers come
from the bundled dataset. No code here names an endpoint.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import importlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from .._runtime.endpoint import ApiInfo, DownloadInfo, Endpoint, Field, ModelInfo, Param
from .._runtime.params import format_date
from ._dataset import SeriesData, default_dataset, instance_rows, series_zip
from ._http import Request, Response

DEFAULT_API_KEY = "fake-tcia-api-key"


class FakeTCIA:
    """A server app for one or more API versions (``"v3"``, ``"nbia_v4"``, ...), each mounted at
    the path of its real base URL (``/services/v3``, ``/nbia-api/services/v4``, ...).

    ``api_key`` is the key versions with api_key auth accept (None: any non-empty key). Versions with
    OAuth get a token endpoint at their spec's token URL; it grants ``token_lifetime``-second tokens
    to any user (passwords are not checked), and `revoke_tokens` makes issued tokens invalid, as a
    server restart or an expiry would.
    """

    def __init__(
        self,
        versions: Sequence[str] = ("v3",),
        *,
        dataset: tuple[SeriesData, ...] | None = None,
        api_key: str | None = DEFAULT_API_KEY,
        token_lifetime: int = 7200,
    ) -> None:
        self.dataset = dataset if dataset is not None else default_dataset()
        self.rows = list(instance_rows(self.dataset))
        self.columns = frozenset(key for row in self.rows for key in row)
        self.api_key = api_key
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, str] = {}  # access token -> user
        self._refresh_tokens: dict[str, str] = {}
        self._issued = 0
        self._routes: dict[str, tuple[Endpoint, DownloadInfo | None]] = {}
        self._token_paths: set[str] = set()
        self.mounts: dict[str, str] = {}
        for version in versions:
            module = importlib.import_module(f"tcia_sdk.{version}._endpoints")
            api: ApiInfo = module.API
            prefix = urlsplit(api.base_url).path.rstrip("/")
            self.mounts[version] = prefix
            for endpoint in module.ENDPOINTS:
                self._routes[f"{prefix}/{endpoint.path}"] = (endpoint, module.DOWNLOAD)
            if api.auth.kind == "oauth2_password" and api.auth.token_url:
                self._token_paths.add(urlsplit(urljoin(api.base_url + "/", api.auth.token_url)).path)

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far (refresh tokens stay valid)."""
        self.tokens.clear()

    def _token(self, request: Request) -> Response:
        form = dict(request.form)
        grant = form.get("grant_type")
        if grant == "password" and form.get("username"):
            user = form["username"]
        elif grant == "refresh_token" and form.get("refresh_token") in self._refresh_tokens:
            user = self._refresh_tokens.pop(form["refresh_token"])
        else:
            return Response(
                401, json.dumps({"error": "invalid_grant"}).encode(), {"Content-Type": "application/json"}
            )
        self._issued += 1
        access, refresh = f"fake-access-{self._issued}", f"fake-refresh-{self._issued}"
        self.tokens[access] = user
        self._refresh_tokens[refresh] = user
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
            "scope": "openid",
        }
        return Response(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def base_url(self, server_url: str, version: str) -> str:
        """The base_url a client of ``version`` uses against a server at ``server_url``."""
        return server_url.rstrip("/") + self.mounts[version]

    # -- the app ---------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        if request.path in self._token_paths and request.method == "POST":
            return self._token(request)
        route = self._routes.get(request.path.rstrip("/"))
        if route is None:
            return Response(404, b"", {"Content-Type": "text/plain"})
        endpoint, download = route
        api = endpoint.api
        if request.method != endpoint.method:
            return _error(api, 405, f"HTTP 405 Method Not Allowed: use {endpoint.method}")
        if api.auth.kind == "api_key" and api.auth.required:
            key = request.headers.get((api.auth.header or "").lower(), "")
            if not key or (self.api_key is not None and key != self.api_key):
                return Response(401, b"", {"WWW-Authenticate": "Basic"})
        if api.auth.kind == "oauth2_password":
            header = request.headers.get("authorization", "")
            if not header and not api.auth.optional:
                # NBIA v1/v2 code has no null check: an NPE, mapped to 500 text/plain.
                return Response(
                    500, b"Server was not able to process your request\nnull", {"Content-Type": "text/plain"}
                )
            # v4: no header (or "Bearer undefined") runs as the guest; any other token must be valid.
            token = header.removeprefix("Bearer ")
            if header and token != "undefined" and token not in self.tokens:
                return Response(401, b"", {})
        pairs = list(request.query) + (request.form if endpoint.method == "POST" else [])
        problem = _validate(endpoint, pairs)
        if problem is not None:
            return _error(api, 400, problem)
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        fmt = values.get(endpoint.format_param or "", [endpoint.formats[0] if endpoint.formats else "json"])[
            0
        ]
        if endpoint.content in ("series-zip", "series-zip-md5"):
            return self._zip(endpoint, download, values)
        if endpoint.content == "dicom-instance":
            return self._single_image(endpoint, values)
        if endpoint.result == "binary":
            return _error(api, 501, f"the fake has no data for {endpoint.name}")
        rows = self._select(endpoint.params, values)
        if endpoint.result == "text":
            return _text(endpoint, rows)
        return _render(endpoint, rows, "csv" if endpoint.body == "csv" else fmt.lower())

    # -- selecting -------------------------------------------------------------------------
    def _select(self, params: Sequence[Param], values: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        """Rows matching every given parameter that names a column; the others (NewFileNames,
        includeAnnotation, ...) are options, not filters."""
        filters = [p for p in params if p.wire in values and (p.matches or p.wire) in self.columns]
        # A repeated parameter sent comma-joined (explode: false) is one value the server splits.
        wanted = {
            p.wire: [v for value in values[p.wire] for v in value.split(",")]
            if p.repeated and not p.explode
            else values[p.wire]
            for p in filters
        }
        return [row for row in self.rows if all(_matches(p, row, wanted[p.wire]) for p in filters)]

    def _series(self, uid: str | None) -> SeriesData | None:
        return next((s for s in self.dataset if s.uid == uid), None)

    def _zip(
        self, endpoint: Endpoint, download: DownloadInfo | None, values: Mapping[str, list[str]]
    ) -> Response:
        series = self._series(values.get("SeriesInstanceUID", [None])[0])
        if series is None:
            return _error(endpoint.api, 400, "Series not found or not public.")
        layout = download.zip_layout if download is not None else "nbia"
        md5_file = (download.md5_file if download is not None else None) or "md5hashes.csv"
        # MD5s come with the md5 endpoint, or when the request carries the spec's zip_params
        # (NBIA v4 getImage?IncludeMD5=yes).
        asked = (
            download is not None
            and bool(download.zip_params)
            and all(values.get(k, [""])[0].lower() == v.lower() for k, v in download.zip_params.items())
        )
        with_md5 = endpoint.content == "series-zip-md5" or asked
        body = series_zip(series, layout=layout, md5_file=md5_file if with_md5 else None)
        name = "bindaas-blob-download.zip" if layout == "bindaas" else f"{series.uid}.zip"
        headers = {
            "Content-Type": endpoint.media_type or "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
        # Streamed in pieces without a Content-Length, as the real servers build zips on the fly.
        return Response(200, (body[i : i + 65536] for i in range(0, len(body), 65536)), headers)

    def _single_image(self, endpoint: Endpoint, values: Mapping[str, list[str]]) -> Response:
        series = self._series(values.get("SeriesInstanceUID", [None])[0])
        sop = values.get("SOPInstanceUID", [None])[0]
        instance = next((i for i in series.instances if i.sop_instance_uid == sop), None) if series else None
        if instance is None:
            return _error(endpoint.api, 500, "java.lang.IndexOutOfBoundsException: Index: 0, Size: 0")
        headers = {
            "Content-Type": endpoint.media_type or "application/dicom",
            "Content-Disposition": f'attachment; filename="{instance.stored_name}"',
        }
        return Response(200, instance.data, headers)


def _validate(endpoint: Endpoint, pairs: Iterable[tuple[str, str]]) -> str | None:
    given = {k for k, _ in pairs}
    allowed = {p.wire for p in endpoint.params} | (
        {endpoint.format_param} if endpoint.format_param else set()
    )
    if endpoint.api.unknown_params == "reject":
        for key in sorted(given - allowed):
            return f"Invalid query parameter: '{key}'. Allowed parameters are: [{', '.join(sorted(allowed))}]"
    for param in endpoint.required_params:
        if param.wire not in given:
            return f"A parameter, {param.wire} is required for this API call."
    if endpoint.format_param:
        for key, value in pairs:
            if key == endpoint.format_param and value.lower() not in endpoint.formats:
                return f"Invalid format: {value}"
    return None


def _matches(param: Param, row: Mapping[str, Any], wanted: list[str]) -> bool:
    field = param.matches or param.wire
    value = row.get(field)
    if value is None:
        return False
    if param.type == "date":
        assert param.date_format is not None
        try:
            since = dt.datetime.strptime(wanted[0], param.date_format).date()
        except ValueError:
            return False
        return bool(value >= since)
    return any(str(value).upper() == w.upper() for w in wanted)


def _wire_value(field: Field, value: Any) -> Any:
    if isinstance(value, dt.date) and field.type in ("date", "datetime") and field.date_format:
        return format_date(value, field.date_format)
    if field.type in ("int", "float", "bool") and field.coerce_from_string:
        return str(value).lower() if isinstance(value, bool) else str(value)
    if field.type == "str" and not isinstance(value, str):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def _project(
    model: ModelInfo | None, value_field: str | None, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows reduced to the response's fields, duplicates removed (so getPatient lists patients)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    fields = model.fields if model is not None else (Field(value_field or "", "value", "str"),)
    for row in rows:
        projected = {f.wire: _wire_value(f, row[f.wire]) for f in fields if row.get(f.wire) is not None}
        key = json.dumps(projected, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(projected)
    return out


def _text(endpoint: Endpoint, rows: list[dict[str, Any]]) -> Response:
    """Text endpoints: NBIA's are manifests (.tcia) of the series selected."""
    if endpoint.media_type != "application/x-nbia-manifest-file":
        return _error(endpoint.api, 501, f"the fake has no text for {endpoint.name}")
    uids = list(dict.fromkeys(row["SeriesInstanceUID"] for row in rows))
    header = [
        "downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet",
        "includeAnnotation=true",
        "noOfrRetry=4",
        "databasketId=manifest-fake.tcia",
        "manifestVersion=3.0",
        "ListOfSeriesToDownload=",
    ]
    body = "\n".join(header + uids) + "\n"
    return Response(200, body.encode(), {"Content-Type": endpoint.media_type})


def _render(endpoint: Endpoint, rows: list[dict[str, Any]], fmt: str) -> Response:
    api = endpoint.api
    projected = _project(endpoint.model, endpoint.value_field, rows)
    ctype = api.content_types.get(fmt, "application/json")
    if not projected and api.empty_result == "empty_body":
        return Response(200, b"", {})
    if fmt == "json" or (not endpoint.formats and endpoint.body != "csv"):
        return Response(200, json.dumps(projected).encode(), {"Content-Type": ctype})
    columns = [f.wire for f in endpoint.model.fields] if endpoint.model else [endpoint.value_field or ""]
    if fmt == "csv":
        text = io.StringIO()
        # NBIA quotes every cell of multi-column CSV (FormatOutput.toCsvQuoted).
        if len(columns) > 1:
            writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
        else:
            writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row.get(c, "") for c in columns] for row in projected)
        return Response(200, text.getvalue().encode(), {"Content-Type": ctype})
    if fmt == "xml":
        items = "".join(
            "<Row>" + "".join(f"<{c}>{html.escape(str(r[c]))}</{c}>" for c in columns if c in r) + "</Row>"
            for r in projected
        )
        body = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Results>{items}</Results>'
        return Response(200, body.encode(), {"Content-Type": ctype})
    head = "".join(f"<TH>{html.escape(c)}</TH>" for c in columns)
    cells = "".join(
        "<TR>" + "".join(f"<TD>{html.escape(str(r.get(c, '')))}</TD>" for c in columns) + "</TR>"
        for r in projected
    )
    body = f"<P ALIGN='center'><TABLE BORDER=1><TR>{head}</TR>{cells}</TABLE></P>"
    return Response(200, body.encode(), {"Content-Type": ctype})


def _error(api: ApiInfo, status: int, message: str) -> Response:
    if api.error_style == "json_error_message":
        body = json.dumps({"errorMessage": message}).encode()
        return Response(
            500 if status >= 400 and status != 401 else status, body, {"Content-Type": "application/json"}
        )
    # NBIA: a plain sentence, labelled application/json although it is not JSON.
    return Response(status, message.encode(), {"Content-Type": "application/json"})
