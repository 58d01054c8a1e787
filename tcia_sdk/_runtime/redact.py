"""Keeping secrets out of logs, reprs and exception text.

Two nets: by *name* (a header or query parameter called ``api_key``, ``Authorization``, ...), and by
*value* (the api key, password and tokens a client holds), because servers echo what they were
sent: a 500 page quoting the request, a 401 naming the refused token. Every excerpt, header dump,
error message and log line the SDK writes goes through `Redactor.text`. httpx's and httpcore's own
loggers (their DEBUG lines print response headers) get a filter that does the same with the secret
values of every live client.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus

import httpx

REDACTED = "<redacted>"

# Header and query names that carry credentials in TCIA/NBIA and in general.
ALWAYS_SECRET = frozenset(
    {
        "api_key",
        "api-key",
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "password",
        "client_secret",
    }
)
# Shorter values are not hunted in free text: they would blank out ordinary words.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Knows which names are secret for one client, and which values (``values`` is called each
    time, so tokens refreshed later are covered too)."""

    def __init__(
        self, extra_names: Iterable[str] = (), values: Callable[[], Iterable[str]] | None = None
    ) -> None:
        self._names = ALWAYS_SECRET | {n.lower() for n in extra_names}
        self._values = values
        self._extra: tuple[str, ...] = ()
        _LIVE.add(self)

    def with_values(self, values: Iterable[str]) -> Redactor:
        """A copy that also hides ``values`` (secrets a caller put in one call's headers or query)."""
        extra = tuple(v for v in values if v)
        if not extra:
            return self
        twin = Redactor(self._names, self._values)
        twin._extra = self._extra + extra
        return twin

    def is_secret(self, name: str) -> bool:
        return name.lower() in self._names

    def secret_values(self) -> list[str]:
        found = list(self._values()) if self._values is not None else []
        found.extend(self._extra)
        # Longest first, so a token containing another secret is replaced whole.
        return sorted({v for v in found if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every secret value (as is, or URL-encoded) replaced by <redacted>."""
        for value in self.secret_values():
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                if form in text:
                    text = text.replace(form, REDACTED)
        return text

    def url(self, url: httpx.URL | str) -> str:
        url = httpx.URL(str(url))
        if url.query:
            params = [(k, REDACTED if self.is_secret(k) else v) for k, v in url.params.multi_items()]
            url = url.copy_with(params=params)
        return self.text(str(url))

    def headers(self, headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
        return {k: (REDACTED if self.is_secret(k) else self.text(v)) for k, v in items}


# Every Redactor alive in the process, for the filter on httpx's and httpcore's loggers.
_LIVE: weakref.WeakSet[Redactor] = weakref.WeakSet()
# Filters apply to records of their own logger only, not of its children: name each one. The
# SDK's own lines are redacted where they are made; the filter on its logger is a second net.
LOGGERS = (
    "tcia_sdk",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _SecretFilter(logging.Filter):
    """Rewrites a record whose text holds a live client's secret value (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = {v for r in list(_LIVE) for v in r.secret_values()}
        if not values:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        redacted = message
        for value in sorted(values, key=len, reverse=True):
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                redacted = redacted.replace(form, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = _SecretFilter()
_installed = False
_install_lock = threading.Lock()


def install_log_filter() -> None:
    """Attach the secret filter to the SDK's, httpx's and httpcore's loggers (once per process)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            for name in LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _installed = True
