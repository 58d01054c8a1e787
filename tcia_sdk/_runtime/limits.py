"""Bounds on time, bytes and concurrency that no server, however slow or hostile, can push past.

httpx's timeouts bound each socket operation; a server that trickles a byte at a time stays inside
all of them forever. `Limits` adds what a service needs on top:

* ``deadline``: seconds an attempt of a metadata call may take in all, headers and body (default:
  three read timeouts, at least 10 s: with ``timeout=3`` a trickling server ends the call, retries
  included, within about 32 s, while the default 120 s read timeout allows 6-minute answers);
* ``min_rate`` over ``rate_window`` seconds: the slowest average a streamed download may keep (the
  deadline does not apply to a multi-gigabyte zip, but a stalled one must still end);
* ``max_body_size``: decoded bytes a metadata answer may have (a gzip bomb is cut off here);
* ``max_in_flight``: requests of one client in flight at once (the rest wait, without timing out).
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import NamedTuple

import httpx

from ..errors import ConfigurationError

DEFAULT_MAX_BODY_SIZE = 1 << 30  # 1 GiB: NBIA's largest answers (every public series) are ~10x less
DEFAULT_MIN_RATE = 1024.0  # bytes per second, averaged over the rate window
DEFAULT_MAX_IN_FLIGHT = 64  # below httpx's default pool of 100 connections


class Limits(NamedTuple):
    """Per-client bounds (see the module docstring). None derives the value from the read timeout."""

    deadline: float | None = None
    min_rate: float = DEFAULT_MIN_RATE
    rate_window: float | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def checked(self) -> Limits:
        for name in ("deadline", "rate_window"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or not math.isfinite(value) or value <= 0):
                raise ConfigurationError(
                    f"Limits.{name} must be a finite number of seconds > 0, got {value!r}"
                )
        if not _number(self.min_rate) or not math.isfinite(self.min_rate) or self.min_rate < 0:
            raise ConfigurationError(f"Limits.min_rate must be a finite number >= 0, got {self.min_rate!r}")
        for name in ("max_body_size", "max_in_flight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"Limits.{name} must be an int >= 1, got {value!r}")
        return self

    def attempt_deadline(self, timeout: httpx.Timeout) -> float:
        """Seconds one attempt of a metadata call may take, headers and body together."""
        if self.deadline is not None:
            return self.deadline
        return max(10.0, 3.0 * (timeout.read or 0.0))

    def window(self, timeout: httpx.Timeout) -> float:
        if self.rate_window is not None:
            return self.rate_window
        return max(10.0, 5.0 * (timeout.read or 0.0))


def _number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


class RateMonitor:
    """Ends a streamed body whose rate over the trailing window falls below the minimum."""

    class Slow(Exception):
        """The transfer kept below the minimum rate for a whole window."""

    def __init__(self, limits: Limits, timeout: httpx.Timeout) -> None:
        self.min_rate = limits.min_rate
        self.window = limits.window(timeout)
        self.started = time.monotonic()
        self.total = 0
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def add(self, size: int) -> None:
        if self.min_rate <= 0:
            return
        now = time.monotonic()
        self.total += size
        samples = self._samples
        samples.append((now, self.total))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()  # keep the newest sample at least a window old
        oldest, at_oldest = samples[0]
        span = now - oldest
        if span >= self.window and (self.total - at_oldest) < self.min_rate * span:
            rate = (self.total - at_oldest) / span
            raise RateMonitor.Slow(
                f"the transfer averaged {rate:.0f} B/s over the last {span:.0f}s, below the minimum of "
                f"{self.min_rate:.0f} B/s (Limits.min_rate, Limits.rate_window)"
            )
