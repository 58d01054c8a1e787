"""Keeping secrets out of logs, reprs and exception text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
        "token",
        "password",
        "client_secret",
    }
)


class Redactor:
    """Knows which names are secret for one client (its auth header plus the usual suspects)."""

    def __init__(self, extra_names: Iterable[str] = ()) -> None:
        self._names = ALWAYS_SECRET | {n.lower() for n in extra_names}

    def is_secret(self, name: str) -> bool:
        return name.lower() in self._names

    def url(self, url: httpx.URL | str) -> str:
        url = httpx.URL(str(url))
        if not url.query:
            return str(url)
        params = [(k, REDACTED if self.is_secret(k) else v) for k, v in url.params.multi_items()]
        return str(url.copy_with(params=params))

    def headers(self, headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
        return {k: (REDACTED if self.is_secret(k) else v) for k, v in items}
