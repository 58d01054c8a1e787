"""The connections under every client: the pools the SDK creates, a per-attempt deadline that the
socket reads themselves obey, and the bound on requests in flight.

Why a network backend: httpx's timeouts are per socket operation, so a server that trickles one
byte per second never trips them, and while httpcore parses response headers no caller code runs
that could check a clock. The SDK's pools therefore read and write through `_DeadlineStream`, which
shortens every socket timeout to what is left of the current attempt's deadline (a context
variable, so each thread and each task sees its own). A pool passed in by the caller
(``http_client=``, ``transport=``) is left untouched; for those the deadline is checked between
body chunks only.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import select
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpcore
import httpx

# The monotonic time by which the current attempt must be done (None: no deadline).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("tcia_sdk_deadline", default=None)
DEADLINE_MESSAGE = "the attempt's deadline passed"


@contextlib.contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Socket operations of SDK-created pools inside this block end by ``at`` (monotonic)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline_passed() -> bool:
    at = _DEADLINE.get()
    return at is not None and time.monotonic() >= at


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    at = _DEADLINE.get()
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise error(DEADLINE_MESSAGE)
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The pool asks this of every idle connection on every request; anyio answers it by
            # building all of the stream's attributes (a getpeername each time). Ask for the
            # socket once and poll it, as httpcore would.
            if self._socket is None:
                self._socket = self._inner.get_extra_info("socket")
            if self._socket is not None:
                return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: Any) -> bool:
    """httpcore's is_socket_readable: data (or the EOF of a server-side close) is waiting."""
    fd = sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = await self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _AsyncDeadlineStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_unix_socket(path, bounded, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pools(client: httpx.Client | httpx.AsyncClient) -> list[Any]:
    """The httpcore pools of a client httpx built (its transport, and one per proxy mount)."""
    transports = [client._transport, *client._mounts.values()]
    return [getattr(t, "_pool", None) for t in transports if t is not None]


def _install_deadlines(client: httpx.Client | httpx.AsyncClient, is_async: bool) -> bool:
    """Route the pools' sockets through the deadline backend; False if httpcore's layout changed."""
    pools = _pools(client)
    if not pools or any(not hasattr(p, "_network_backend") for p in pools):
        return False
    for pool in pools:
        inner = pool._network_backend
        pool._network_backend = _AsyncDeadlineBackend(inner) if is_async else _DeadlineBackend(inner)
    return True


def new_sync_client(timeout: httpx.Timeout, transport: httpx.BaseTransport | None) -> httpx.Client:
    """The pool a sync client creates for itself: redirects are the pipeline's decision."""
    client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
    if transport is None:
        _install_deadlines(client, is_async=False)
    return client


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi, SSL_CERT_FILE/DIR as at first use), built once: loading the
    CA bundle costs ~20 ms, and the download engine builds an async pool on every sync call."""
    return httpx.create_ssl_context()


def new_async_client(timeout: httpx.Timeout, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = _ssl_context() if transport is None else True
    client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, verify=verify)
    if transport is None:
        _install_deadlines(client, is_async=True)
    return client


class InFlightLimit:
    """At most ``limit`` requests of one client in flight, so callers may start thousands of calls
    at once (``asyncio.gather``) without exhausting the connection pool: the excess waits here, with
    no timeout running, instead of failing with pool timeouts.

    Works from threads (sync clients) and from any event loop (async clients; one asyncio semaphore
    per loop, since an asyncio primitive belongs to the loop it was first used in).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._threads = threading.BoundedSemaphore(limit)
        self._loops: dict[int, Any] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        with self._threads:
            yield

    @contextlib.asynccontextmanager
    async def async_(self) -> AsyncIterator[None]:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._loops.get(id(loop))
            if entry is None or entry[0] is not loop:
                entry = (loop, asyncio.Semaphore(self.limit))
                self._loops = {k: v for k, v in self._loops.items() if not v[0].is_closed()}
                self._loops[id(loop)] = entry
        async with entry[1]:
            yield
