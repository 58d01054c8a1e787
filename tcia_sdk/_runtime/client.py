"""The one request pipeline behind every generated endpoint, sync and async.

Generated methods call `SyncAPIClient._call` / `AsyncAPIClient._call` (or ``_download``) with an
`Endpoint` descriptor and the call's arguments; everything else happens here, the same way for every
endpoint of every API version: the URL and its server, auth, timeouts and the per-attempt deadline,
the bound on requests in flight, redirects (followed on the configured host only), retries with
backoff and Retry-After, hooks, logging with secrets redacted, bounded bodies, typed errors,
decoding, and streaming to files.

The sync and async loops are twins that differ only in their I/O; every decision (retry or not, how
long to wait, which error, whether a redirect may be followed) is made by `BaseAPIClient`.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import httpx

from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    TCIAError,
    WrongServerError,
)
from .auth import Auth
from .binary import (
    Download,
    FileObjectSink,
    MemorySink,
    PathSink,
    ProgressSink,
    Sink,
    content_disposition_filename,
)
from .decode import EXCERPT_LIMIT, DecodeContext, decode_csv_result, decode_json_result, excerpt
from .endpoint import ApiInfo, DownloadInfo, Endpoint
from .hooks import Hooks, RequestEvent, ResponseEvent
from .limits import Limits, RateMonitor
from .paging import AsyncPager, Pager
from .params import chunks, encode_params, location_of
from .redact import Redactor, install_log_filter
from .response import RawResponse, server_message
from .retry import RetryPolicy
from .transport import DEADLINE_MESSAGE, InFlightLimit, deadline, new_async_client, new_sync_client

T = TypeVar("T")
log = logging.getLogger("tcia_sdk")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=30.0)
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"tcia-sdk/{__version__}"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

TimeoutTypes = float | httpx.Timeout
Destination = str | Path | IO[bytes]


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


class _Call(NamedTuple):
    """One prepared call: the request to (re)send and how to judge and decode its responses."""

    endpoint: Endpoint
    request: httpx.Request
    fmt: str | None
    max_retries: int
    redactor: Redactor
    timeout: httpx.Timeout

    @property
    def redacted_url(self) -> str:
        # Computed only for errors and debug logs: parsing the URL again costs ~60 us per call.
        return self.redactor.url(self.request.url)


class _Retry(NamedTuple):
    delay: float


class _Follow(NamedTuple):
    request: httpx.Request


class BaseAPIClient:
    """Configuration and response handling shared by the sync and async clients."""

    _api: ApiInfo
    # Set by generated clients from the spec's `download` section (None: no series zips).
    _download_info: DownloadInfo | None = None

    def __init__(
        self,
        *,
        api: ApiInfo,
        auth: Auth,
        base_url: str | None,
        server: str | None = None,
        timeout: TimeoutTypes,
        max_retries: int,
        headers: Mapping[str, str] | None,
        hooks: Hooks | None,
        retry_policy: RetryPolicy | None,
        limits: Limits | None = None,
        strict: bool = False,
    ) -> None:
        self._api = api
        self._auth = auth
        self.server, self.base_url = resolve_base_url(api, base_url, server)
        self.timeout = as_timeout(timeout)
        self.max_retries = check_retries(max_retries)
        self._headers = {"User-Agent": USER_AGENT, **check_headers(headers or {}, "headers")}
        self._hooks = hooks or Hooks()
        self.retry_policy = retry_policy or RetryPolicy()
        self.limits = (limits or Limits()).checked()
        self.strict = bool(strict)
        self._redactor = Redactor(auth.secret_names, auth.secret_values)
        self._in_flight = InFlightLimit(self.limits.max_in_flight)
        self._http_lock = threading.Lock()
        self._closed = False
        install_log_filter()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this client is closed")

    def __repr__(self) -> str:
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return f"<{name} base_url={self.base_url!r} auth={self._auth!r}>"

    # -- building --------------------------------------------------------------------------
    def _prepare(
        self,
        http: httpx.Client | httpx.AsyncClient,
        endpoint: Endpoint,
        args: Mapping[str, object],
        fmt: str | None,
        timeout: TimeoutTypes | None,
        max_retries: int | None,
        extra_headers: Mapping[str, str] | None,
        extra_query: Mapping[str, str] | None,
    ) -> _Call:
        pairs = encode_params(endpoint, args)
        self._check_server(endpoint, pairs)
        if endpoint.format_param and fmt is not None:
            if fmt not in endpoint.formats:
                raise ValueError(
                    f"{endpoint.python_name}(): format must be one of {', '.join(endpoint.formats)}"
                )
            if fmt != endpoint.formats[0] or endpoint.send_default_format:
                pairs.append((endpoint.format_param, fmt))
        query = [(k, v) for k, v in pairs if location_of(endpoint, k) == "query"]
        form = [(k, v) for k, v in pairs if location_of(endpoint, k) == "form"]
        redactor = self._redactor
        if extra_query:
            checked = check_query(extra_query)
            query.extend(checked.items())
            redactor = redactor.with_values(v for k, v in checked.items() if redactor.is_secret(k))
        extra = check_headers(extra_headers or {}, "extra_headers")
        redactor = redactor.with_values(v for k, v in extra.items() if redactor.is_secret(k))
        headers = {**self._headers, **extra}
        url = f"{self.base_url}/{endpoint.path}"
        if query:
            # Encoded here, so httpx parses the URL once (merging params= parses it twice).
            url = f"{url}?{urlencode(query)}"
        data: dict[str, list[str]] | None = None
        if form:
            data = {}
            for k, v in form:
                data.setdefault(k, []).append(v)
        call_timeout = as_timeout(self.timeout if timeout is None else timeout)
        request = http.build_request(endpoint.method, url, data=data, headers=headers, timeout=call_timeout)
        retries = self.max_retries if max_retries is None else check_retries(max_retries)
        return _Call(endpoint, request, fmt, retries, redactor, call_timeout)

    def _check_server(self, endpoint: Endpoint, pairs: list[tuple[str, str]]) -> None:
        """Data that lives only on another known server of this API: say so before sending."""
        if self.server is None:
            return  # a custom base_url (a mirror, the fake): no guessing
        for other in self._api.servers:
            if other.name == self.server:
                continue
            for param in endpoint.params:
                field = param.matches or param.wire
                values = {v.upper() for v in other.exclusive.get(field, ())}
                if not values:
                    continue
                for wire, value in pairs:
                    if wire == param.wire and value.upper() in values:
                        raise WrongServerError(
                            f"{endpoint.python_name}(): {field} {value!r} is served only by the "
                            f"{other.name!r} server ({other.url}), not by {self.server!r}: "
                            f'use Client(server="{other.name}")',
                            server=other.name,
                            url=other.url,
                        )

    def _attempt_deadline(self, call: _Call) -> float:
        return time.monotonic() + self.limits.attempt_deadline(call.timeout)

    # -- judging ---------------------------------------------------------------------------
    def _after_error(
        self, call: _Call, attempt: int, exc: Exception, started: float | None = None
    ) -> _Retry | TCIAError:
        """A transport failure: another attempt (with its delay), or the error to raise.

        ``started``: when the attempt began, so that a timeout at its deadline is named as such.
        """
        error: TCIAError
        if isinstance(exc, httpx.DecodingError):  # a body the Content-Encoding cannot undo
            error = self._decode_error(call, f"the response body cannot be decompressed ({exc})", attempt)
            error.__cause__ = exc
            return error
        error = self._connection_error(call, exc, attempt, started)
        error.__cause__ = exc
        if not isinstance(exc, httpx.TransportError):  # an unexpected httpx error: not retried
            return error
        # A pool timeout says this client is overloaded, not that the server failed: no retry.
        if isinstance(exc, httpx.PoolTimeout) or attempt >= call.max_retries or not call.endpoint.idempotent:
            return error
        delay = self.retry_policy.delay(attempt)
        log.debug(
            "retrying %s in %.2fs (retry %d of %d) after %s",
            call.endpoint.name,
            delay,
            attempt + 1,
            call.max_retries,
            type(exc).__name__,
        )
        return _Retry(delay)

    def _after_status(
        self, call: _Call, attempt: int, response: httpx.Response, body: bytes
    ) -> _Retry | TCIAError:
        if (
            attempt >= call.max_retries
            or not call.endpoint.idempotent
            or not self.retry_policy.should_retry_status(response.status_code)
        ):
            return self._status_error(call, response, body, attempt)
        delay = self.retry_policy.delay(attempt, response.headers)
        log.debug(
            "retrying %s in %.2fs (retry %d of %d) after HTTP %d",
            call.endpoint.name,
            delay,
            attempt + 1,
            call.max_retries,
            response.status_code,
        )
        return _Retry(delay)

    def _follow(self, call: _Call, request: httpx.Request, response: httpx.Response, hops: int) -> _Follow:
        """The request a redirect asks for, if it stays on the configured host; else RedirectError."""
        location = response.headers.get("location")
        if not location:
            raise self._status_error(call, response, b"", 0)
        target = request.url.join(location)
        origin = httpx.URL(self.base_url)
        same = (target.scheme, target.host, target.port) == (origin.scheme, origin.host, origin.port)
        if not same or hops >= MAX_REDIRECTS:
            where = call.redactor.url(target)
            why = (
                f"more than {MAX_REDIRECTS} redirects"
                if same
                else f"a redirect to another host or scheme ({where}), not followed so that "
                f"credentials never leave {origin.scheme}://{origin.host}; if the API moved, pass "
                "base_url= with its new address"
            )
            error = self._status_error(call, response, b"", 0, cls=RedirectError, message=why)
            assert isinstance(error, RedirectError)
            error.location = where
            raise error
        method = request.method
        content: bytes | None = request.content
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, content = "GET", None  # what browsers and httpx do
        headers = httpx.Headers(request.headers)
        if content is None:
            for name in ("content-length", "content-type", "transfer-encoding"):
                headers.pop(name, None)
        timeout = request.extensions.get("timeout")
        return _Follow(
            httpx.Request(method, target, headers=headers, content=content, extensions={"timeout": timeout})
        )

    def _connection_error(
        self, call: _Call, exc: Exception, attempt: int, started: float | None = None
    ) -> APIConnectionError:
        timed_out = isinstance(exc, httpx.TimeoutException)
        cls = APITimeoutError if timed_out else APIConnectionError
        detail = str(exc) or type(exc).__name__
        allowed = self.limits.attempt_deadline(call.timeout)
        # A socket timeout shortened to what was left of the deadline says "timed out" only.
        at_deadline = started is not None and time.monotonic() - started >= allowed * 0.98
        if DEADLINE_MESSAGE in detail or (timed_out and at_deadline and "minimum" not in detail):
            detail = (
                f"no complete response within the attempt's deadline of "
                f"{self.limits.attempt_deadline(call.timeout):g}s (Limits.deadline)"
            )
        elif isinstance(exc, httpx.PoolTimeout):
            detail = (
                f"no free connection within {call.timeout.pool:g}s: the pool is saturated "
                "(lower the concurrency, or raise Limits.max_in_flight with the pool size)"
            )
        return cls(
            call.redactor.text(f"{type(exc).__name__}: {detail}"),
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            retries_taken=attempt,
        )

    def _status_error(
        self,
        call: _Call,
        response: httpx.Response,
        body: bytes,
        attempt: int,
        *,
        cls: type[APIStatusError] | None = None,
        message: str | None = None,
    ) -> APIStatusError:
        status = response.status_code
        if cls is None:
            cls = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIStatusError)
        ctype = response.headers.get("content-type", "")
        said = call.redactor.text(server_message(body, ctype))
        reason = response.reason_phrase or "error"
        text = message if message is not None else said
        return cls(
            call.redactor.text(f"HTTP {status} {reason}" + (f": {text}" if text else "")),
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            status_code=status,
            headers=httpx.Headers(call.redactor.headers(response.headers)),
            body_excerpt=call.redactor.text(excerpt(body)),
            server_message=said,
            retries_taken=attempt,
        )

    def _decode_error(self, call: _Call, message: str, attempt: int) -> ResponseDecodeError:
        return ResponseDecodeError(
            call.redactor.text(message),
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            status_code=0,
            content_type="",
            body_excerpt="",
            retries_taken=attempt,
        )

    def _too_large(self, call: _Call, response: httpx.Response, attempt: int) -> ResponseTooLargeError:
        limit = self.limits.max_body_size
        return ResponseTooLargeError(
            f"the decoded body is larger than max_body_size ({limit:,} bytes); read no further",
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body_excerpt="",
            retries_taken=attempt,
        )

    def _raw(self, call: _Call, response: httpx.Response, attempt: int) -> RawResponse[Any]:
        ctx = DecodeContext(
            call.endpoint,
            call.request.method,
            call.request.url,
            call.redactor,
            response,
            attempt,
            strict=self.strict,
        )
        if call.endpoint.result == "text" or (call.fmt is not None and call.fmt != "json"):
            return RawResponse(call.endpoint.name, response, attempt, lambda: response.text)
        if call.endpoint.body == "csv":
            return RawResponse(call.endpoint.name, response, attempt, lambda: decode_csv_result(ctx), ctx)
        return RawResponse(call.endpoint.name, response, attempt, lambda: decode_json_result(ctx), ctx)

    def _downloaded(
        self, call: _Call, response: httpx.Response, attempt: int, sink: Sink, path: Path | None
    ) -> RawResponse[Any]:
        result: Any = sink.value()
        if result is None:
            filename = content_disposition_filename(response.headers.get("content-disposition"))
            result = Download(
                path=path,
                bytes_written=sink.bytes_written,
                content_type=response.headers.get("content-type", ""),
                filename=filename,
            )
        return RawResponse(call.endpoint.name, response, attempt, lambda: result)

    def _joined(self, raws: list[RawResponse[Any]]) -> RawResponse[Any]:
        """One RawResponse for a call sent in chunks: the rows of every chunk, in order."""

        def parse() -> Any:
            rows: list[Any] = []
            for raw in raws:
                rows.extend(raw.parse())
            first = raws[0].parse()
            return type(first)(rows) if isinstance(first, list) else rows

        joined = RawResponse(
            raws[0].endpoint, raws[-1].http_response, sum(r.retries_taken for r in raws), parse
        )
        joined.http_responses = [r.http_response for r in raws]
        joined._chunks = raws
        return joined

    # -- observing -------------------------------------------------------------------------
    def _emit_request(self, call: _Call, request: httpx.Request, attempt: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request %s %s endpoint=%s attempt=%d headers=%s",
                request.method,
                call.redactor.url(request.url),
                call.endpoint.name,
                attempt,
                call.redactor.headers(request.headers),
            )
        for hook in self._hooks.on_request:
            hook(RequestEvent(call.endpoint.name, attempt, request))

    def _emit_response(
        self,
        call: _Call,
        request: httpx.Request,
        attempt: int,
        started: float,
        response: httpx.Response | None,
        error: BaseException | None,
    ) -> None:
        elapsed = time.monotonic() - started
        if log.isEnabledFor(logging.DEBUG):
            outcome = f"HTTP {response.status_code}" if response is not None else type(error).__name__
            log.debug(
                "response %s %s endpoint=%s attempt=%d in %.3fs",
                outcome,
                call.redactor.url(request.url),
                call.endpoint.name,
                attempt,
                elapsed,
            )
        for hook in self._hooks.on_response:
            hook(ResponseEvent(call.endpoint.name, attempt, request, response, error, elapsed))


def resolve_base_url(api: ApiInfo, base_url: str | None, server: str | None) -> tuple[str | None, str]:
    """The server name (None for a custom URL) and base URL a client talks to.

    Precedence: ``base_url=``, ``server=``, the API's environment variable (``TCIA_BASE_URL``), the
    spec's default server.
    """
    import os

    if base_url is not None and server is not None:
        raise ConfigurationError("pass base_url or server, not both")
    if server is not None:
        info = api.server(server)
        if info is None:
            names = ", ".join(s.name for s in api.servers) or "none"
            raise ConfigurationError(f"unknown server {server!r} for {api.name}; known: {names}")
        return server, info.url.rstrip("/")
    where = "base_url"
    chosen = base_url
    if chosen is None and api.base_url_env:
        chosen = os.environ.get(api.base_url_env) or None
        where = f"the {api.base_url_env} environment variable"
    url = (chosen or api.base_url).strip().rstrip("/")
    check_url(url, where)
    known = next((s.name for s in api.servers if s.url.rstrip("/") == url), None)
    return known, url


def check_url(url: str, where: str) -> None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where} is not a usable URL ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"{where} must be an http(s) URL with a host, got {url!r}")
    if any(not (" " < c <= "~") for c in url):
        raise ConfigurationError(f"{where} holds spaces, control or non-ASCII characters: {url!r}")


def check_headers(headers: Mapping[str, str], where: str) -> dict[str, str]:
    """Headers httpx and h11 can send: token names, values without line breaks or control chars."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"{where}: header names and values must be str")
        if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
            raise ConfigurationError(f"{where}: {name!r} is not a valid header name")
        if any(not (" " <= c <= "~" or c == "\t") for c in value):
            raise ConfigurationError(
                f"{where}: the value of {name!r} holds a line break, control or non-ASCII character"
            )
        out[name] = value
    return out


def check_query(query: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in query.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("extra_query: names and values must be str")
        out[name] = value
    return out


def check_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_retries must be an int, not {type(value).__name__}")
    if value < 0:
        raise ConfigurationError(f"max_retries must be >= 0, got {value}")
    return value


def _first_page(endpoint: Endpoint) -> dict[str, object]:
    """The paging arguments of the first page (to check a pager's arguments before iterating)."""
    return {
        p.wire: 0 if p.paging == "start" else (endpoint.page_size or 1) for p in endpoint.params if p.paging
    }


def as_timeout(value: TimeoutTypes) -> httpx.Timeout:
    """A finite, positive httpx.Timeout; ``inf``, NaN, 0, negatives and None parts are refused."""
    if isinstance(value, httpx.Timeout):
        parts = {"connect": value.connect, "read": value.read, "write": value.write, "pool": value.pool}
        for name, part in parts.items():
            if part is None or not math.isfinite(part) or part <= 0:
                raise ConfigurationError(
                    f"timeout: {name} must be a finite number of seconds > 0, got {part}"
                )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"timeout must be a number of seconds or an httpx.Timeout, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"timeout must be a finite number of seconds > 0, got {value!r}")
    return httpx.Timeout(float(value))


def _sink_for(to: Destination | None, durable: bool = True) -> tuple[Sink, Path | None]:
    if to is None:
        return MemorySink(), None
    if isinstance(to, str | Path):
        if isinstance(to, str) and not to.strip():
            raise ValueError("to must be a path or a binary file object, not an empty string")
        path = Path(to)
        return PathSink(path, durable), path
    return FileObjectSink(to), None


def _keep_body(response: httpx.Response, body: bytes) -> None:
    # The pipeline reads bodies itself (bounded, under the deadline); hand the bytes back to the
    # response so `.content`/`.text` work for callers of raw responses, as if httpx had read them.
    response._content = body


class SyncAPIClient(BaseAPIClient):
    """The synchronous pipeline; generated ``Client`` classes derive from it."""

    def __init__(
        self,
        *,
        api: ApiInfo,
        auth: Auth,
        base_url: str | None = None,
        server: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        limits: Limits | None = None,
        strict: bool = False,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api=api,
            auth=auth,
            base_url=base_url,
            server=server,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            hooks=hooks,
            retry_policy=retry_policy,
            limits=limits,
            strict=strict,
        )
        if http_client is not None and transport is not None:
            raise ConfigurationError("pass http_client or transport, not both")
        self._owns_http = http_client is None
        self._http_client = http_client
        self._transport = transport

    @property
    def _http(self) -> httpx.Client:
        """The connection pool, created on first use (its TLS setup costs ~40 ms at start-up)."""
        client = self._http_client
        if client is None:
            with self._http_lock:
                self._check_open()
                if self._http_client is None:
                    self._http_client = new_sync_client(self.timeout, self._transport)
                client = self._http_client
        return client

    def close(self) -> None:
        """Close the connection pool (unless it belongs to an ``http_client`` you passed in)."""
        self._closed = True
        if self._owns_http and self._http_client is not None:
            self._http_client.close()

    def async_twin(self) -> AsyncAPIClient:
        """An AsyncClient of the same API with this client's settings and credentials.

        It gets a connection pool of its own (an httpx.Client cannot serve async calls); close it.
        The bulk downloader uses it to run a sync caller's downloads concurrently.
        """
        for cls in type(self).__mro__:
            twin_cls = getattr(sys.modules.get(cls.__module__), "AsyncClient", None)
            if isinstance(twin_cls, type) and issubclass(twin_cls, AsyncAPIClient):
                break
        else:
            raise ConfigurationError(f"no AsyncClient beside {type(self).__qualname__}")
        twin = twin_cls.__new__(twin_cls)
        AsyncAPIClient.__init__(
            twin,
            api=self._api,
            auth=self._auth,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            headers=self._headers,
            hooks=self._hooks,
            retry_policy=self.retry_policy,
            limits=self.limits,
            strict=self.strict,
        )
        twin.server = self.server
        return twin

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _call(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        fmt: str | None = None,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> RawResponse[Any]:
        parts = chunks(endpoint, args)
        raws = [
            self._call_one(
                self._prepare(
                    self._http, endpoint, part, fmt, timeout, max_retries, extra_headers, extra_query
                )
            )
            for part in parts
        ]
        return raws[0] if len(raws) == 1 else self._joined(raws)

    def _paginate(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Pager[Any, Any]:
        """Every result of a paged endpoint, fetched page by page as the caller iterates."""
        options = {
            "timeout": timeout,
            "max_retries": max_retries,
            "extra_headers": extra_headers,
            "extra_query": extra_query,
        }
        encode_params(endpoint, {**_first_page(endpoint), **args})  # argument errors now, not later
        return Pager(self, endpoint, args, options)

    def _call_one(self, call: _Call) -> RawResponse[Any]:
        attempt = hops = 0
        reauthorized = False
        request = call.request
        while True:
            self._auth.ensure_sync(self._http, call.timeout)
            request.headers.update(self._auth.headers())
            self._emit_request(call, request, attempt)
            started = time.monotonic()
            step: _Retry | _Follow | TCIAError | RawResponse[Any] | None
            with self._in_flight.sync(), deadline(self._attempt_deadline(call)):
                try:
                    response = self._http.send(request, stream=True, follow_redirects=False)
                except httpx.HTTPError as exc:
                    self._emit_response(call, request, attempt, started, None, exc)
                    step = self._after_error(call, attempt, exc, started)
                else:
                    try:
                        self._emit_response(call, request, attempt, started, response, None)
                        step = self._judge(call, request, response, attempt, hops, reauthorized)
                    except httpx.HTTPError as exc:
                        step = self._after_error(call, attempt, exc, started)
                    finally:
                        response.close()
            if isinstance(step, RawResponse):
                return step
            if isinstance(step, TCIAError):
                raise step from step.__cause__
            if step is None:  # a token refused mid-life: get a new one, once
                reauthorized = True
                self._auth.invalidate()
                continue
            if isinstance(step, _Follow):
                request, hops = step.request, hops + 1
                continue
            self._sleep(step.delay)
            attempt += 1

    def _judge(
        self,
        call: _Call,
        request: httpx.Request,
        response: httpx.Response,
        attempt: int,
        hops: int,
        reauthorized: bool,
    ) -> _Retry | _Follow | TCIAError | RawResponse[Any] | None:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            return self._follow(call, request, response, hops)
        if status == 401 and self._auth.refreshable and not reauthorized:
            return None
        if status >= 400:
            return self._after_status(call, attempt, response, _read_bounded(response.iter_bytes()))
        body = _read_all(response.iter_bytes(), self.limits.max_body_size)
        if body is None:
            return self._too_large(call, response, attempt)
        _keep_body(response, body)
        return self._raw(call, response, attempt)

    def _download(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        to: Destination | None,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
        durable: bool = True,
    ) -> RawResponse[Any]:
        """Stream a binary body in chunks to ``to`` (path: atomically; file object; or memory).

        ``progress`` is called with the size of each chunk written, and with minus the bytes
        discarded when a retry starts the body over. ``durable=False`` skips the fsync before the
        rename (for files that are verified and deleted at once).
        """
        call = self._prepare(
            self._http, endpoint, args, None, timeout, max_retries, extra_headers, extra_query
        )
        sink, path = _sink_for(to, durable)
        if progress is not None:
            sink = ProgressSink(sink, progress)
        try:
            raw = self._stream_into(call, sink, path)
            sink.commit()
            return raw
        except BaseException:
            sink.abort()
            raise

    def _stream_into(self, call: _Call, sink: Sink, path: Path | None) -> RawResponse[Any]:
        attempt = hops = 0
        reauthorized = False
        request = call.request
        while True:
            self._auth.ensure_sync(self._http, call.timeout)
            request.headers.update(self._auth.headers())
            self._emit_request(call, request, attempt)
            started = time.monotonic()
            step: _Retry | _Follow | TCIAError | RawResponse[Any] | None = None
            error: Exception | None = None
            error_at: float | None = None  # set when the deadline applied (the headers)
            with self._in_flight.sync():
                try:
                    with deadline(self._attempt_deadline(call)):  # the headers, not the body
                        response = self._http.send(request, stream=True, follow_redirects=False)
                except httpx.HTTPError as exc:
                    self._emit_response(call, request, attempt, started, None, exc)
                    error, error_at = exc, started
                else:
                    try:
                        self._emit_response(call, request, attempt, started, response, None)
                        status = response.status_code
                        if status in REDIRECT_STATUSES:
                            step = self._follow(call, request, response, hops)
                        elif status == 401 and self._auth.refreshable and not reauthorized:
                            step = None
                        elif status >= 400:
                            with deadline(self._attempt_deadline(call)):
                                body = _read_bounded(response.iter_bytes())
                            step = self._after_status(call, attempt, response, body)
                        else:
                            rate = RateMonitor(self.limits, call.timeout)
                            for chunk in response.iter_bytes():  # as received: no re-chunking copy
                                rate.add(len(chunk))
                                sink.write(chunk)
                                if sink.over(self.limits.max_body_size):
                                    step = self._too_large(call, response, attempt)
                                    break
                            else:
                                step = self._downloaded(call, response, attempt, sink, path)
                    except httpx.HTTPError as exc:
                        error = exc
                    except _SlowTransfer as slow:
                        error = httpx.ReadTimeout(str(slow))
                    finally:
                        response.close()
            if error is None:
                if isinstance(step, RawResponse):
                    return step
                if isinstance(step, TCIAError):
                    raise step
                if step is None:
                    reauthorized = True
                    self._auth.invalidate()
                    continue
                if isinstance(step, _Follow):
                    request, hops = step.request, hops + 1
                    continue
                self._sleep(step.delay)
                attempt += 1
                continue
            # A transport error: retry from the start only while nothing reached the caller.
            judged = self._after_error(call, attempt, error, error_at)
            if isinstance(judged, TCIAError) or not sink.restartable:
                final = (
                    judged if isinstance(judged, TCIAError) else self._connection_error(call, error, attempt)
                )
                raise final from error
            sink.restart()
            self._sleep(judged.delay)
            attempt += 1


class AsyncAPIClient(BaseAPIClient):
    """The asynchronous pipeline; generated ``AsyncClient`` classes derive from it."""

    def __init__(
        self,
        *,
        api: ApiInfo,
        auth: Auth,
        base_url: str | None = None,
        server: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        limits: Limits | None = None,
        strict: bool = False,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            api=api,
            auth=auth,
            base_url=base_url,
            server=server,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            hooks=hooks,
            retry_policy=retry_policy,
            limits=limits,
            strict=strict,
        )
        if http_client is not None and transport is not None:
            raise ConfigurationError("pass http_client or transport, not both")
        self._owns_http = http_client is None
        self._http_client = http_client
        self._transport = transport

    @property
    def _http(self) -> httpx.AsyncClient:
        """The connection pool, created on first use (its TLS setup costs ~40 ms at start-up)."""
        client = self._http_client
        if client is None:
            with self._http_lock:
                self._check_open()
                if self._http_client is None:
                    self._http_client = new_async_client(self.timeout, self._transport)
                client = self._http_client
        return client

    async def close(self) -> None:
        """Close the connection pool (unless it belongs to an ``http_client`` you passed in)."""
        self._closed = True
        if self._owns_http and self._http_client is not None:
            await self._http_client.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _sleep(self, seconds: float) -> None:
        import asyncio  # here: a sync-only program never pays for asyncio

        await asyncio.sleep(seconds)

    async def _call(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        fmt: str | None = None,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> RawResponse[Any]:
        raws = []
        for part in chunks(endpoint, args):
            call = self._prepare(
                self._http, endpoint, part, fmt, timeout, max_retries, extra_headers, extra_query
            )
            raws.append(await self._call_one(call))
        return raws[0] if len(raws) == 1 else self._joined(raws)

    def _paginate(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> AsyncPager[Any, Any]:
        """Every result of a paged endpoint: ``async for`` fetches page after page."""
        options = {
            "timeout": timeout,
            "max_retries": max_retries,
            "extra_headers": extra_headers,
            "extra_query": extra_query,
        }
        encode_params(endpoint, {**_first_page(endpoint), **args})  # argument errors now, not later
        return AsyncPager(self, endpoint, args, options)

    async def _call_one(self, call: _Call) -> RawResponse[Any]:
        attempt = hops = 0
        reauthorized = False
        request = call.request
        while True:
            await self._auth.ensure_async(self._http, call.timeout)
            request.headers.update(self._auth.headers())
            self._emit_request(call, request, attempt)
            started = time.monotonic()
            step: _Retry | _Follow | TCIAError | RawResponse[Any] | None
            async with self._in_flight.async_():
                with deadline(self._attempt_deadline(call)):
                    try:
                        response = await self._http.send(request, stream=True, follow_redirects=False)
                    except httpx.HTTPError as exc:
                        self._emit_response(call, request, attempt, started, None, exc)
                        step = self._after_error(call, attempt, exc, started)
                    else:
                        try:
                            self._emit_response(call, request, attempt, started, response, None)
                            step = await self._judge(call, request, response, attempt, hops, reauthorized)
                        except httpx.HTTPError as exc:
                            step = self._after_error(call, attempt, exc, started)
                        finally:
                            await response.aclose()
            if isinstance(step, RawResponse):
                return step
            if isinstance(step, TCIAError):
                raise step from step.__cause__
            if step is None:
                reauthorized = True
                self._auth.invalidate()
                continue
            if isinstance(step, _Follow):
                request, hops = step.request, hops + 1
                continue
            await self._sleep(step.delay)
            attempt += 1

    async def _judge(
        self,
        call: _Call,
        request: httpx.Request,
        response: httpx.Response,
        attempt: int,
        hops: int,
        reauthorized: bool,
    ) -> _Retry | _Follow | TCIAError | RawResponse[Any] | None:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            return self._follow(call, request, response, hops)
        if status == 401 and self._auth.refreshable and not reauthorized:
            return None
        if status >= 400:
            return self._after_status(call, attempt, response, await _aread_bounded(response))
        body = await _aread_all(response, self.limits.max_body_size)
        if body is None:
            return self._too_large(call, response, attempt)
        _keep_body(response, body)
        return self._raw(call, response, attempt)

    async def _download(
        self,
        endpoint: Endpoint,
        args: Mapping[str, object],
        to: Destination | None,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
        durable: bool = True,
    ) -> RawResponse[Any]:
        """Stream a binary body in chunks to ``to`` (path: atomically; file object; or memory).

        ``progress`` is called with the size of each chunk written, and with minus the bytes
        discarded when a retry starts the body over. ``durable=False`` skips the fsync before the
        rename (for files that are verified and deleted at once).
        """
        call = self._prepare(
            self._http, endpoint, args, None, timeout, max_retries, extra_headers, extra_query
        )
        sink, path = _sink_for(to, durable)
        if progress is not None:
            sink = ProgressSink(sink, progress)
        try:
            raw = await self._stream_into(call, sink, path)
            sink.commit()
            return raw
        except BaseException:
            sink.abort()
            raise

    async def _stream_into(self, call: _Call, sink: Sink, path: Path | None) -> RawResponse[Any]:
        attempt = hops = 0
        reauthorized = False
        request = call.request
        while True:
            await self._auth.ensure_async(self._http, call.timeout)
            request.headers.update(self._auth.headers())
            self._emit_request(call, request, attempt)
            started = time.monotonic()
            step: _Retry | _Follow | TCIAError | RawResponse[Any] | None = None
            error: Exception | None = None
            error_at: float | None = None  # set when the deadline applied (the headers)
            async with self._in_flight.async_():
                try:
                    with deadline(self._attempt_deadline(call)):  # the headers, not the body
                        response = await self._http.send(request, stream=True, follow_redirects=False)
                except httpx.HTTPError as exc:
                    self._emit_response(call, request, attempt, started, None, exc)
                    error, error_at = exc, started
                else:
                    try:
                        self._emit_response(call, request, attempt, started, response, None)
                        status = response.status_code
                        if status in REDIRECT_STATUSES:
                            step = self._follow(call, request, response, hops)
                        elif status == 401 and self._auth.refreshable and not reauthorized:
                            step = None
                        elif status >= 400:
                            with deadline(self._attempt_deadline(call)):
                                body = await _aread_bounded(response)
                            step = self._after_status(call, attempt, response, body)
                        else:
                            rate = RateMonitor(self.limits, call.timeout)
                            async for chunk in response.aiter_bytes():
                                rate.add(len(chunk))
                                sink.write(chunk)
                                if sink.over(self.limits.max_body_size):
                                    step = self._too_large(call, response, attempt)
                                    break
                            else:
                                step = self._downloaded(call, response, attempt, sink, path)
                    except httpx.HTTPError as exc:
                        error = exc
                    except _SlowTransfer as slow:
                        error = httpx.ReadTimeout(str(slow))
                    finally:
                        await response.aclose()
            if error is None:
                if isinstance(step, RawResponse):
                    return step
                if isinstance(step, TCIAError):
                    raise step
                if step is None:
                    reauthorized = True
                    self._auth.invalidate()
                    continue
                if isinstance(step, _Follow):
                    request, hops = step.request, hops + 1
                    continue
                await self._sleep(step.delay)
                attempt += 1
                continue
            judged = self._after_error(call, attempt, error, error_at)
            if isinstance(judged, TCIAError) or not sink.restartable:
                final = (
                    judged if isinstance(judged, TCIAError) else self._connection_error(call, error, attempt)
                )
                raise final from error
            sink.restart()
            await self._sleep(judged.delay)
            attempt += 1


# -- reading bodies ----------------------------------------------------------------------------
_SlowTransfer = RateMonitor.Slow
ERROR_BODY_LIMIT = EXCERPT_LIMIT * 8


def _read_bounded(chunks: Any) -> bytes:
    """The start of an error body: enough for its sentence, never the whole of a huge page."""
    body = b""
    for chunk in chunks:
        body += chunk
        if len(body) >= ERROR_BODY_LIMIT:
            break
    return body


async def _aread_bounded(response: httpx.Response) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_LIMIT:
            break
    return body


def _read_all(chunks: Any, limit: int) -> bytes | None:
    """The whole decoded body, or None as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _aread_all(response: httpx.Response, limit: int) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)
