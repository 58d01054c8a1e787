"""Deterministic fault injection for the loopback server: scripted per path, counted per request."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import attrs


@attrs.frozen
class Status:
    """Answer with this status, body and headers instead of the app (429 + Retry-After, 503, ...)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Delay:
    """Wait before answering (latency; longer than the client's read timeout: a timeout)."""

    seconds: float


@attrs.frozen
class ResetMidBody:
    """Send the headers and ``after`` bytes of the body, then reset the connection (RST)."""

    after: int = 0


@attrs.frozen
class Truncate:
    """Send ``after`` bytes of the body, then close cleanly.

    With a Content-Length the client sees an incomplete body; for a length-less stream (TCIA's
    on-the-fly zips) the close looks like a normal end: a truncated zip only verification catches.
    """

    after: int
    keep_length: bool = True


@attrs.frozen
class CorruptBody:
    """Flip a byte of the body at ``offset`` (a zip whose CRC no longer matches)."""

    offset: int


@attrs.frozen
class Trickle:
    """Send the response ``rate`` bytes per second: the headers too (``headers=True``), or the body
    only. Every socket read then returns in time, so per-read timeouts never fire; only a deadline
    or a minimum transfer rate ends it."""

    rate: float = 1.0
    headers: bool = True


Fault = Status | Delay | ResetMidBody | Truncate | CorruptBody | Trickle


@attrs.define
class _Rule:
    path: str | None
    params: Mapping[str, str] | None
    fault: Fault
    remaining: int | None


class FaultPlan:
    """Scripted faults, consumed in order of registration by the requests they match.

    ``add(fault, path="getSeries", times=2)`` applies ``fault`` to the next two requests whose path
    ends with ``getSeries`` (any path when ``path`` is None); ``times=None`` applies it forever;
    ``params={"SeriesInstanceUID": uid}`` picks the requests for one series (query parameters,
    or form fields of a POST).
    ``latency`` delays every response (the bulk-download benchmark's 50 ms).
    """

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.latency = 0.0

    def add(
        self,
        fault: Fault,
        *,
        path: str | None = None,
        params: Mapping[str, str] | None = None,
        times: int | None = 1,
    ) -> FaultPlan:
        """Script ``fault``; ``params`` narrows it to requests carrying these query values."""
        with self._lock:
            self._rules.append(_Rule(path, params, fault, times))
        return self

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0

    def take(self, path: str, query: Mapping[str, str] | None = None) -> list[Fault]:
        """The faults for one request, consuming one use of each matching rule (one per kind)."""
        taken: list[Fault] = []
        kinds: set[type] = set()
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or type(rule.fault) in kinds:
                    continue
                if rule.path is not None and not path.endswith(rule.path):
                    continue
                if rule.params and any((query or {}).get(k) != v for k, v in rule.params.items()):
                    continue
                kinds.add(type(rule.fault))
                taken.append(rule.fault)
                if rule.remaining is not None:
                    rule.remaining -= 1
        return taken
