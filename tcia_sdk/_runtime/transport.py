"""The connections under every client: the pools the SDK creates, a per-attempt deadline that the
socket reads themselves obey, and the bound on requests in flight.

Why a network backend: httpx's timeouts are per socket operation, so a server that trickles one
byte per second never trips them, and while httpcore parses response headers no caller code runs
that could check a clock. The SDK's pools therefore read and write through a stream (`_deadline.py`)
that shortens every socket timeout to what is left of the current attempt's deadline (a context
variable, so each thread and each task sees its own). A pool passed in by the caller
(``http_client=``, ``transport=``) is left untouched; for those the deadline is checked between
body chunks only.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

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


def _pools(client: httpx.Client | httpx.AsyncClient) -> list[Any]:
    """The httpcore pools of a client httpx built (its transport, and one per proxy mount)."""
    transports = [client._transport, *client._mounts.values()]
    return [getattr(t, "_pool", None) for t in transports if t is not None]


def _install_deadlines(client: httpx.Client | httpx.AsyncClient, is_async: bool) -> bool:
    """Route the pools' sockets through the deadline backend; False if httpcore's layout changed."""
    pools = _pools(client)
    if not pools or any(not hasattr(p, "_network_backend") for p in pools):
        return False
    # httpcore (and h11) load with the first pool, not with the SDK: ~10 ms of start-up.
    from ._deadline import AsyncDeadlineBackend, DeadlineBackend

    for pool in pools:
        inner = pool._network_backend
        pool._network_backend = AsyncDeadlineBackend(inner) if is_async else DeadlineBackend(inner)
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

    ``gate``, when set, is passed next, once this client's own bound lets a request through: a
    limit shared with other clients and processes (a cluster run's cap on requests to one server).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.gate: RequestGate | None = None
        self._threads = threading.BoundedSemaphore(limit)
        self._loops: dict[int, Any] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        with self._threads:
            gate = self.gate
            if gate is None:
                yield
                return
            with gate.sync():
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
            gate = self.gate
            if gate is None:
                yield
                return
            async with gate.async_():
                yield


class RequestGate(Protocol):
    """A bound on requests shared beyond one client: entered around every request (each
    attempt), after the client's own in-flight bound."""

    def sync(self) -> contextlib.AbstractContextManager[None]: ...

    def async_(self) -> contextlib.AbstractAsyncContextManager[None]: ...
