"""When to retry and how long to wait: shared by the sync and async clients."""

from __future__ import annotations

import math
import random
import time
from typing import NamedTuple

import httpx

RETRYABLE_STATUS = frozenset({408, 429, 502, 503, 504})


class RetryPolicy(NamedTuple):
    """Backoff settings. ``retry_server_errors`` adds 500 to the retryable statuses."""

    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    retry_server_errors: bool = False

    def should_retry_status(self, status_code: int) -> bool:
        return status_code in RETRYABLE_STATUS or (self.retry_server_errors and status_code == 500)

    def delay(self, retries_taken: int, headers: httpx.Headers | None = None) -> float:
        """Seconds to wait before retry number ``retries_taken + 1``.

        A server's Retry-After (seconds or an HTTP date) wins, capped at ``max_retry_after``;
        otherwise exponential backoff with up to 25% jitter, so many clients do not retry in lockstep.
        """
        if headers is not None:
            after = parse_retry_after(headers.get("retry-after"))
            if after is not None:
                return min(max(after, 0.0), self.max_retry_after)
        base = min(self.initial_delay * (2.0**retries_taken), self.max_delay)
        return base * (1.0 - 0.25 * random.random())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now, or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan", "inf" and friends parse as floats: not a wait anyone can honour.
        return seconds if math.isfinite(seconds) else None
    import email.utils  # rare: most servers send seconds

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp() - (time.time() if now is None else now)
