from __future__ import annotations

import email.utils

import httpx
import pytest

from tcia_sdk._runtime.redact import REDACTED, Redactor
from tcia_sdk._runtime.retry import RetryPolicy, parse_retry_after


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 0.5 ") == 0.5
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0, abs=1.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0, max_retry_after=60)
    for attempt, base in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 8.0), (10, 8.0)]:
        delay = policy.delay(attempt)
        assert 0.75 * base <= delay <= base
    assert policy.delay(0, httpx.Headers({"Retry-After": "7"})) == 7.0
    assert policy.delay(0, httpx.Headers({"Retry-After": "600"})) == 60.0
    assert policy.delay(0, httpx.Headers({"Retry-After": "-3"})) == 0.0


def test_retryable_statuses() -> None:
    policy = RetryPolicy()
    assert [s for s in (400, 401, 404, 408, 429, 500, 502, 503, 504) if policy.should_retry_status(s)] == [
        408,
        429,
        502,
        503,
        504,
    ]
    assert RetryPolicy(retry_server_errors=True).should_retry_status(500)


def test_redactor_hides_secret_headers_and_query_values() -> None:
    redactor = Redactor({"X-Custom-Key"})
    headers = redactor.headers(
        httpx.Headers({"api_key": "k1", "Authorization": "Bearer t", "x-custom-key": "k2", "Accept": "*/*"})
    )
    assert headers == {
        "api_key": REDACTED,
        "authorization": REDACTED,
        "x-custom-key": REDACTED,
        "accept": "*/*",
    }
    url = redactor.url("https://h/p?Collection=A&api_key=k1&access_token=t")
    assert "k1" not in url
    assert "=t" not in url
    assert "Collection=A" in url
