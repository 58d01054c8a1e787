"""The one request pipeline behind every generated endpoint, sync and async.

Generated methods call `SyncAPIClient._call` / `AsyncAPIClient._call` with an `Endpoint` descriptor and
the call's arguments; everything else (URL, auth, timeouts, retries with backoff and Retry-After, hooks,
logging with secrets redacted, typed errors, decoding, streaming to files) happens here, the same way for
every endpoint of every API version.
"""

from __future__ import annotations

import logging
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
    ServerError,
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
from .params import encode_params
from .redact import Redactor
from .response import RawResponse, server_message
from .retry import RetryPolicy

T = TypeVar("T")
log = logging.getLogger("tcia_sdk")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=30.0)
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"tcia-sdk/{__version__}"

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

    @property
    def redacted_url(self) -> str:
        # Computed only for errors and debug logs: parsing the URL again costs ~60 us per call.
        return self.redactor.url(self.request.url)


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
        timeout: TimeoutTypes,
        max_retries: int,
        headers: Mapping[str, str] | None,
        hooks: Hooks | None,
        retry_policy: RetryPolicy | None,
    ) -> None:
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        self._api = api
        self._auth = auth
        self.base_url = (base_url or api.base_url).rstrip("/")
        self.timeout = _as_timeout(timeout)
        self.max_retries = max_retries
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._hooks = hooks or Hooks()
        self.retry_policy = retry_policy or RetryPolicy()
        self._redactor = Redactor(auth.secret_names)
        self._http_lock = threading.Lock()
        self._closed = False

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
        if endpoint.format_param and fmt is not None:
            if fmt not in endpoint.formats:
                raise ValueError(
                    f"{endpoint.python_name}(): format must be one of {', '.join(endpoint.formats)}"
                )
            if fmt != endpoint.formats[0] or endpoint.send_default_format:
                pairs.append((endpoint.format_param, fmt))
        query = [(k, v) for k, v in pairs if not _is_form(endpoint, k)]
        form = [(k, v) for k, v in pairs if _is_form(endpoint, k)]
        if extra_query:
            query.extend(extra_query.items())
        headers = {**self._headers, **(extra_headers or {})}
        url = f"{self.base_url}/{endpoint.path}"
        if query:
            # Encoded here, so httpx parses the URL once (merging params= parses it twice).
            url = f"{url}?{urlencode(query)}"
        data: dict[str, list[str]] | None = None
        if form:
            data = {}
            for k, v in form:
                data.setdefault(k, []).append(v)
        request = http.build_request(
            endpoint.method,
            url,
            data=data,
            headers=headers,
            timeout=_as_timeout(self.timeout if timeout is None else timeout),
        )
        retries = self.max_retries if max_retries is None else max_retries
        if retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        return _Call(endpoint, request, fmt, retries, self._redactor)

    # -- judging ---------------------------------------------------------------------------
    def _retry_delay_after_error(self, call: _Call, attempt: int, exc: Exception) -> float | None:
        if attempt >= call.max_retries or not call.endpoint.idempotent:
            return None
        delay = self.retry_policy.delay(attempt)
        log.debug(
            "retrying %s in %.2fs (retry %d of %d) after %s",
            call.endpoint.name,
            delay,
            attempt + 1,
            call.max_retries,
            type(exc).__name__,
        )
        return delay

    def _retry_delay_after_status(self, call: _Call, attempt: int, response: httpx.Response) -> float | None:
        if (
            attempt >= call.max_retries
            or not call.endpoint.idempotent
            or not self.retry_policy.should_retry_status(response.status_code)
        ):
            return None
        delay = self.retry_policy.delay(attempt, response.headers)
        log.debug(
            "retrying %s in %.2fs (retry %d of %d) after HTTP %d",
            call.endpoint.name,
            delay,
            attempt + 1,
            call.max_retries,
            response.status_code,
        )
        return delay

    def _connection_error(self, call: _Call, exc: Exception, attempt: int) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        detail = str(exc) or type(exc).__name__
        return cls(
            f"{type(exc).__name__}: {detail}",
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            retries_taken=attempt,
        )

    def _status_error(
        self, call: _Call, response: httpx.Response, body: bytes, attempt: int
    ) -> APIStatusError:
        status = response.status_code
        cls = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIStatusError)
        ctype = response.headers.get("content-type", "")
        message = server_message(body, ctype)
        reason = response.reason_phrase or "error"
        return cls(
            f"HTTP {status} {reason}" + (f": {message}" if message else ""),
            endpoint=call.endpoint.name,
            method=call.request.method,
            url=call.redacted_url,
            status_code=status,
            headers=httpx.Headers(self._redactor.headers(response.headers)),
            body_excerpt=excerpt(body),
            server_message=message,
            retries_taken=attempt,
        )

    def _raw(self, call: _Call, response: httpx.Response, attempt: int) -> RawResponse[Any]:
        ctx = DecodeContext(
            call.endpoint, call.request.method, call.request.url, call.redactor, response, attempt
        )
        if call.endpoint.result == "text" or (call.fmt is not None and call.fmt != "json"):
            return RawResponse(call.endpoint.name, response, attempt, lambda: response.text)
        if call.endpoint.body == "csv":
            return RawResponse(call.endpoint.name, response, attempt, lambda: decode_csv_result(ctx))
        return RawResponse(call.endpoint.name, response, attempt, lambda: decode_json_result(ctx))

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

    # -- observing -------------------------------------------------------------------------
    def _emit_request(self, call: _Call, attempt: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request %s %s endpoint=%s attempt=%d headers=%s",
                call.request.method,
                call.redacted_url,
                call.endpoint.name,
                attempt,
                self._redactor.headers(call.request.headers),
            )
        for hook in self._hooks.on_request:
            hook(RequestEvent(call.endpoint.name, attempt, call.request))

    def _emit_response(
        self,
        call: _Call,
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
                call.redacted_url,
                call.endpoint.name,
                attempt,
                elapsed,
            )
        for hook in self._hooks.on_response:
            hook(ResponseEvent(call.endpoint.name, attempt, call.request, response, error, elapsed))


def _is_form(endpoint: Endpoint, wire: str) -> bool:
    for param in endpoint.params:
        if param.wire == wire:
            return param.location == "form"
    return False


def _as_timeout(value: TimeoutTypes) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        if None in (value.connect, value.read, value.write, value.pool):
            raise ConfigurationError("every timeout (connect, read, write, pool) must be finite")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(f"timeout must be a positive number or httpx.Timeout, not {value!r}")
    return httpx.Timeout(float(value))


def _sink_for(to: Destination | None, durable: bool = True) -> tuple[Sink, Path | None]:
    if to is None:
        return MemorySink(), None
    if isinstance(to, str | Path):
        path = Path(to)
        return PathSink(path, durable), path
    return FileObjectSink(to), None


def _bounded_body(chunks: Any) -> bytes:
    body = b""
    for chunk in chunks:
        body += chunk
        if len(body) >= EXCERPT_LIMIT * 8:
            break
    return body


class SyncAPIClient(BaseAPIClient):
    """The synchronous pipeline; generated ``Client`` classes derive from it."""

    def __init__(
        self,
        *,
        api: ApiInfo,
        auth: Auth,
        base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api=api,
            auth=auth,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            hooks=hooks,
            retry_policy=retry_policy,
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
                    self._http_client = httpx.Client(
                        transport=self._transport, timeout=self.timeout, follow_redirects=True
                    )
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
        )
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
        call = self._prepare(
            self._http, endpoint, args, fmt, timeout, max_retries, extra_headers, extra_query
        )
        attempt = 0
        reauthorized = False
        while True:
            self._auth.ensure_sync(self._http, self.timeout)
            call.request.headers.update(self._auth.headers())
            self._emit_request(call, attempt)
            started = time.monotonic()
            try:
                response = self._http.send(call.request)
            except httpx.TransportError as exc:
                self._emit_response(call, attempt, started, None, exc)
                delay = self._retry_delay_after_error(call, attempt, exc)
                if delay is None:
                    raise self._connection_error(call, exc, attempt) from exc
                self._sleep(delay)
                attempt += 1
                continue
            self._emit_response(call, attempt, started, response, None)
            if response.status_code == 401 and self._auth.refreshable and not reauthorized:
                reauthorized = True  # a token refused mid-life: get a new one, once
                self._auth.invalidate()
                continue
            if response.status_code >= 400:
                delay = self._retry_delay_after_status(call, attempt, response)
                if delay is None:
                    raise self._status_error(call, response, response.content, attempt)
                self._sleep(delay)
                attempt += 1
                continue
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
        attempt = 0
        reauthorized = False
        while True:
            self._auth.ensure_sync(self._http, self.timeout)
            call.request.headers.update(self._auth.headers())
            self._emit_request(call, attempt)
            started = time.monotonic()
            error: Exception | None = None
            try:
                response = self._http.send(call.request, stream=True)
            except httpx.TransportError as exc:
                self._emit_response(call, attempt, started, None, exc)
                error = exc
            else:
                try:
                    self._emit_response(call, attempt, started, response, None)
                    if response.status_code == 401 and self._auth.refreshable and not reauthorized:
                        reauthorized = True
                        self._auth.invalidate()
                        continue
                    if response.status_code >= 400:
                        body = _bounded_body(response.iter_bytes())
                        delay = self._retry_delay_after_status(call, attempt, response)
                        if delay is None:
                            raise self._status_error(call, response, body, attempt)
                        self._sleep(delay)
                        attempt += 1
                        continue
                    for chunk in response.iter_bytes():  # as received: no re-chunking copy
                        sink.write(chunk)
                    return self._downloaded(call, response, attempt, sink, path)
                except httpx.TransportError as exc:
                    error = exc
                finally:
                    response.close()
            # A transport error: retry from the start only while nothing reached the caller.
            delay = self._retry_delay_after_error(call, attempt, error) if sink.restartable else None
            if delay is None:
                raise self._connection_error(call, error, attempt) from error
            sink.restart()
            self._sleep(delay)
            attempt += 1


class AsyncAPIClient(BaseAPIClient):
    """The asynchronous pipeline; generated ``AsyncClient`` classes derive from it."""

    def __init__(
        self,
        *,
        api: ApiInfo,
        auth: Auth,
        base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            api=api,
            auth=auth,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            hooks=hooks,
            retry_policy=retry_policy,
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
                    self._http_client = httpx.AsyncClient(
                        transport=self._transport, timeout=self.timeout, follow_redirects=True
                    )
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
        call = self._prepare(
            self._http, endpoint, args, fmt, timeout, max_retries, extra_headers, extra_query
        )
        attempt = 0
        reauthorized = False
        while True:
            await self._auth.ensure_async(self._http, self.timeout)
            call.request.headers.update(self._auth.headers())
            self._emit_request(call, attempt)
            started = time.monotonic()
            try:
                response = await self._http.send(call.request)
            except httpx.TransportError as exc:
                self._emit_response(call, attempt, started, None, exc)
                delay = self._retry_delay_after_error(call, attempt, exc)
                if delay is None:
                    raise self._connection_error(call, exc, attempt) from exc
                await self._sleep(delay)
                attempt += 1
                continue
            self._emit_response(call, attempt, started, response, None)
            if response.status_code == 401 and self._auth.refreshable and not reauthorized:
                reauthorized = True
                self._auth.invalidate()
                continue
            if response.status_code >= 400:
                delay = self._retry_delay_after_status(call, attempt, response)
                if delay is None:
                    raise self._status_error(call, response, response.content, attempt)
                await self._sleep(delay)
                attempt += 1
                continue
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
        attempt = 0
        reauthorized = False
        while True:
            await self._auth.ensure_async(self._http, self.timeout)
            call.request.headers.update(self._auth.headers())
            self._emit_request(call, attempt)
            started = time.monotonic()
            error: Exception | None = None
            try:
                response = await self._http.send(call.request, stream=True)
            except httpx.TransportError as exc:
                self._emit_response(call, attempt, started, None, exc)
                error = exc
            else:
                try:
                    self._emit_response(call, attempt, started, response, None)
                    if response.status_code == 401 and self._auth.refreshable and not reauthorized:
                        reauthorized = True
                        self._auth.invalidate()
                        continue
                    if response.status_code >= 400:
                        body = b""
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) >= EXCERPT_LIMIT * 8:
                                break
                        delay = self._retry_delay_after_status(call, attempt, response)
                        if delay is None:
                            raise self._status_error(call, response, body, attempt)
                        await self._sleep(delay)
                        attempt += 1
                        continue
                    async for chunk in response.aiter_bytes():
                        sink.write(chunk)
                    return self._downloaded(call, response, attempt, sink, path)
                except httpx.TransportError as exc:
                    error = exc
                finally:
                    await response.aclose()
            delay = self._retry_delay_after_error(call, attempt, error) if sink.restartable else None
            if delay is None:
                raise self._connection_error(call, error, attempt) from error
            sink.restart()
            await self._sleep(delay)
            attempt += 1
