"""A fake TCIA that answers every endpoint of an API version from its generated descriptors.

Routes, parameter names and validation, formats, the empty-result convention, the JSON style and
the error style all come from the spec (through the version's ``ENDPOINTS``, ``API`` and
``DOWNLOAD``); the answers come from the bundled dataset, through `_render` for row endpoints and
through `_answers` for the shapes a spec names by their ``content``. No code here names an endpoint.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from .._runtime.endpoint import ApiInfo, DownloadInfo, Endpoint, Param
from ._answers import ANSWERS, MANIFEST_HEADER
from ._dataset import SeriesData, default_dataset, instance_rows, series_zip
from ._http import Request, Response
from ._render import render

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
        # Shared carts by name (the Advanced API makes them, v1 getContentsByName reads them).
        self.shared_lists: dict[str, dict[str, Any]] = {
            "nbia-fake-cart": {
                "name": "nbia-fake-cart",
                "comment": "The TCGA-FAKE series",
                "hyperlink": "",
                "date": 1727098200000,
                "id": 5000,
                "userName": "nbia_guest",
                "seriesInstanceUIDs": [s.uid for s in self.dataset if s.row["Collection"] == "TCGA-FAKE"],
                "seriesInstanceUidsList": None,
                "usageCount": None,
                "dateString": "2024-09-23",
            }
        }
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
            # The spec's no_token: v4 runs a header-less request as the guest; v2's query classes
            # catch their own 401 and answer empty; elsewhere (Advanced, v2 downloads) getUserName's
            # missing null check is an NPE, mapped to 500 text/plain.
            if not header and api.auth.no_token == "empty" and endpoint.result != "binary":
                return Response(200, b"", {"Content-Type": "application/json"})
            if not header and api.auth.no_token != "guest":
                return Response(
                    500, b"Server was not able to process your request\nnull", {"Content-Type": "text/plain"}
                )
            # v4: no header (or "Bearer undefined") runs as the guest; any other token must be valid.
            token = header.removeprefix("Bearer ")
            if header and token != "undefined" and token not in self.tokens:
                return Response(401, b"", {})
        # JAX-RS @FormParam (and the search's form map) read the body only: a POST's query string
        # is seen by the strict key check alone.
        pairs = request.form if endpoint.method == "POST" else list(request.query)
        problem = _validate(endpoint, pairs, [k for k, _ in request.query])
        if problem is not None:
            return _error(api, 400, problem)
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        fmt = values.get(endpoint.format_param or "", [endpoint.formats[0] if endpoint.formats else "json"])[
            0
        ]
        if endpoint.broken:
            return ANSWERS["server-error"](self, endpoint, values, request)
        if endpoint.content in ("series-zip", "series-zip-md5"):
            return self._zip(endpoint, download, values)
        if endpoint.content == "dicom-instance":
            return self._single_image(endpoint, values)
        if endpoint.content in ANSWERS:
            return ANSWERS[endpoint.content](self, endpoint, values, request)
        if endpoint.result == "binary":
            return _error(api, 501, f"the fake has no data for {endpoint.name}")
        rows = self.select(endpoint.params, values)
        if endpoint.result == "text":
            return _manifest(endpoint, rows, values)
        return render(endpoint, rows, "csv" if endpoint.body == "csv" else fmt.lower())

    # -- selecting -------------------------------------------------------------------------
    def select(self, params: Sequence[Param], values: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        """Rows matching every given parameter that names a column; the others (NewFileNames,
        includeAnnotation, ...) are options, not filters.

        A parameter the server reads as one comma-joined value (explode: false) is read so: the
        first value, split at commas; repeated values beyond it are lost, as on the server.
        """
        wanted: dict[str, list[str]] = {}
        for p in params:
            if p.wire not in values or (p.matches or p.wire) not in self.columns or p.criterion:
                continue
            given = values[p.wire]
            wanted[p.wire] = re.split(r"\s*,\s*", given[0]) if p.repeated and not p.explode else given
        filters = [p for p in params if p.wire in wanted]
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


def _validate(endpoint: Endpoint, pairs: Iterable[tuple[str, str]], query: Iterable[str]) -> str | None:
    """NBIA v4's checks: query keys against the endpoint's allowed set (the form body is not
    checked), then required parameters."""
    given = {k for k, _ in pairs}
    allowed = {p.wire for p in endpoint.params if p.criterion is None}
    allowed |= {endpoint.format_param} if endpoint.format_param else set()
    strict = (endpoint.unknown_params or endpoint.api.unknown_params) == "reject"
    if strict:
        for key in sorted(set(query) - allowed):
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
        # The spec says how the server compares (">=" on or after, ">" strictly after).
        return bool(value > since) if param.compare == ">" else bool(value >= since)
    return any(str(value).upper() == w.upper() for w in wanted)


def _manifest(endpoint: Endpoint, rows: list[dict[str, Any]], values: Mapping[str, list[str]]) -> Response:
    """Text endpoints without a content kind: NBIA's are .tcia manifests of the series selected."""
    if endpoint.media_type != "application/x-nbia-manifest-file":
        return _error(endpoint.api, 501, f"the fake has no text for {endpoint.name}")
    uids = list(dict.fromkeys(row["SeriesInstanceUID"] for row in rows))
    annotation = values.get("includeAnnotation", ["true"])[0]
    header = [line.format(annotation=annotation, millis="1700000000000") for line in MANIFEST_HEADER]
    body = "\n".join(header + uids) + "\n"
    return Response(200, body.encode(), {"Content-Type": endpoint.media_type})


def _error(api: ApiInfo, status: int, message: str) -> Response:
    if api.error_style == "json_error_message":
        body = json.dumps({"errorMessage": message}).encode()
        return Response(
            500 if status >= 400 and status != 401 else status, body, {"Content-Type": "application/json"}
        )
    # NBIA: a plain sentence, labelled application/json although it is not JSON.
    return Response(status, message.encode(), {"Content-Type": "application/json"})
