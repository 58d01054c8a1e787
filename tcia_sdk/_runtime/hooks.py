"""Request and response hooks: callables run once per attempt, for metrics and tracing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import httpx


class RequestEvent(NamedTuple):
    """Passed to ``on_request`` hooks before each attempt is sent."""

    endpoint: str
    attempt: int
    request: httpx.Request


class ResponseEvent(NamedTuple):
    """Passed to ``on_response`` hooks after each attempt: a response, or the error it ended in."""

    endpoint: str
    attempt: int
    request: httpx.Request
    response: httpx.Response | None
    error: BaseException | None
    elapsed: float


class Hooks(NamedTuple):
    """Callables run once per attempt (retries included), for metrics and tracing.

    Hook errors propagate: a hook that raises aborts the call, as a broken tracer should be noticed.
    """

    on_request: Sequence[Callable[[RequestEvent], None]] = ()
    on_response: Sequence[Callable[[ResponseEvent], None]] = ()
