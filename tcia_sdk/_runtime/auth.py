"""Credentials, applied per attempt and never shown: shared by every API version.

``Auth`` (none), ``ApiKeyAuth`` (a static header, TCIA v3) and ``OAuth2PasswordAuth`` (NBIA v2,
and v4 when credentials are given: a Bearer token from the password grant, refreshed before it
expires and once more after a 401). Each reports its secret values, so that a server echoing them
cannot put them into an error message or a log line.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx

from ..errors import AuthenticationError, ConfigurationError
from .endpoint import AuthInfo

# Refresh this many seconds before the token's announced expiry, so a call never starts with a
# token that dies in flight.
REFRESH_MARGIN = 60.0


class Auth:
    """No credentials (NBIA v1, and v4 without a login)."""

    secret_names: frozenset[str] = frozenset()
    refreshable = False

    def headers(self) -> dict[str, str]:
        return {}

    def secret_values(self) -> Iterable[str]:
        """Every secret this auth holds or has held recently (for redaction by value)."""
        return ()

    def ensure_sync(self, http: httpx.Client, timeout: httpx.Timeout) -> None:
        """Make the credentials current before an attempt (a token fetch or refresh)."""

    async def ensure_async(self, http: httpx.AsyncClient, timeout: httpx.Timeout) -> None:
        """Async twin of `ensure_sync`."""

    def invalidate(self) -> None:
        """Forget the current token after the server refused it (401)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ApiKeyAuth(Auth):
    """A static key sent in a header (TCIA v3: ``api_key``); never put into URLs."""

    def __init__(self, header: str, key: str) -> None:
        self._header = header
        self._key = key
        self.secret_names = frozenset({header})

    def headers(self) -> dict[str, str]:
        return {self._header: self._key}

    def secret_values(self) -> Iterable[str]:
        return (self._key,)

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self._header!r}, key='<redacted>')"


class AnonymousBearer(Auth):
    """The guest's spelling where a server needs one: NBIA's Advanced API fails without an
    Authorization header but runs ``Bearer undefined`` as the guest. Not a secret."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:
        return f"AnonymousBearer({self._token!r})"


class OAuth2PasswordAuth(Auth):
    """Bearer tokens from an OAuth2 password grant (NBIA ``/nbia-api/oauth/token``)."""

    refreshable = True
    secret_names = frozenset({"authorization"})

    def __init__(
        self,
        *,
        token_url: str,
        username: str,
        password: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.username = username
        self._password = password
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._thread_lock = threading.Lock()
        self._async_lock: Any = None  # an asyncio.Lock, made in the event loop that uses it
        self.tokens_fetched = 0  # for tests and metrics: grants made (password or refresh)
        # Tokens given out earlier may still be echoed by a server: remember the last few.
        self._old_tokens: collections.deque[str] = collections.deque(maxlen=8)

    def __repr__(self) -> str:
        return (
            f"OAuth2PasswordAuth(token_url={self.token_url!r}, username={self.username!r}, "
            "password='<redacted>')"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Another process (a cluster worker) gets the credentials, not this one's tokens or locks:
        # it makes its own grant.
        kwargs = {
            "token_url": self.token_url,
            "username": self.username,
            "password": self._password,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        return (_oauth_from, (kwargs,))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access}"} if self._access else {}

    def secret_values(self) -> Iterable[str]:
        current = (self._password, self._access or "", self._refresh or "")
        return (*current, *self._old_tokens)

    def invalidate(self) -> None:
        if self._access:
            self._old_tokens.append(self._access)
        self._access = None
        self._expires_at = 0.0

    def _current(self) -> bool:
        return self._access is not None and self._clock() < self._expires_at - REFRESH_MARGIN

    def _grants(self) -> list[dict[str, str]]:
        """Form bodies to try in order: the refresh grant (with a refresh token), then the password."""
        client = (("client_id", self._client_id), ("client_secret", self._client_secret))
        common = {k: v for k, v in client if v}
        password = {"grant_type": "password", "username": self.username, "password": self._password, **common}
        if self._refresh:
            return [{"grant_type": "refresh_token", "refresh_token": self._refresh, **common}, password]
        return [password]

    def _accept(self, response: httpx.Response) -> bool:
        if response.status_code != 200:
            return False
        try:
            payload = response.json()
        except ValueError:
            return False
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token or not _is_header_safe(token):
            return False
        for old in (self._access, self._refresh):
            if old:
                self._old_tokens.append(old)
        self._access = token
        refresh = payload.get("refresh_token")
        self._refresh = refresh if isinstance(refresh, str) and refresh else self._refresh
        expires_in = payload.get("expires_in")
        finite = isinstance(expires_in, int | float) and 0 < expires_in < 10**7
        lifetime = float(expires_in) if finite else 300.0
        self._expires_at = self._clock() + lifetime
        self.tokens_fetched += 1
        return True

    def _refused(self, response: httpx.Response | None, error: Exception | None) -> AuthenticationError:
        status = response.status_code if response is not None else 0
        detail = f"HTTP {status}" if response is not None else f"{type(error).__name__}"
        return AuthenticationError(
            f"the token endpoint refused the credentials of {self.username!r} ({detail})",
            endpoint="oauth/token",
            method="POST",
            url=self.token_url,
            status_code=status,
            headers=httpx.Headers(),
            body_excerpt="",  # token responses may echo credentials: never kept
            server_message="",
        )

    def ensure_sync(self, http: httpx.Client, timeout: httpx.Timeout) -> None:
        with self._thread_lock:
            if self._current():
                return
            response: httpx.Response | None = None
            for form in self._grants():
                try:
                    # Never follow a redirect here: a 307/308 would re-POST the password elsewhere.
                    response = http.post(self.token_url, data=form, timeout=timeout, follow_redirects=False)
                except httpx.HTTPError as exc:
                    raise self._refused(None, exc) from exc
                if self._accept(response):
                    return
                self._refresh = None  # a refused refresh token: fall back to the password
            raise self._refused(response, None)

    async def ensure_async(self, http: httpx.AsyncClient, timeout: httpx.Timeout) -> None:
        if self._async_lock is None:
            import asyncio

            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            if self._current():
                return
            response: httpx.Response | None = None
            for form in self._grants():
                try:
                    response = await http.post(
                        self.token_url, data=form, timeout=timeout, follow_redirects=False
                    )
                except httpx.HTTPError as exc:
                    raise self._refused(None, exc) from exc
                if self._accept(response):
                    return
                self._refresh = None
            raise self._refused(response, None)


def clean_key(value: str | None, what: str) -> str | None:
    """A key as it can be sent in a header: surrounding whitespace dropped (keys read from files end
    in a newline); a key holding anything else than visible ASCII is refused without quoting it."""
    if value is None:
        return None
    cleaned = value.strip()
    if not cleaned:
        return None
    if not _is_header_safe(cleaned):
        raise ConfigurationError(
            f"the {what} holds a character that cannot be sent in an HTTP header (a line break, a "
            "control character or a non-ASCII letter, often from copying it); it is not shown here"
        )
    return cleaned


def clean_password(value: str | None) -> str:
    """A password as given, less the line break a file or a prompt leaves at its end."""
    return (value or "").rstrip("\r\n")


def _is_header_safe(value: str) -> bool:
    return all(" " <= c <= "~" for c in value)


def make_auth(
    info: AuthInfo,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    base_url: str | None = None,
) -> Auth:
    """The Auth an API declares, from the constructor's arguments or the declared env variables.

    ``optional`` OAuth (NBIA v4) stays anonymous unless a username is given or in the environment.
    """
    if info.kind == "none":
        return Auth()
    if info.kind == "api_key":
        assert info.header is not None
        given = api_key if api_key is not None else (os.environ.get(info.env) if info.env else None)
        source = "api_key" if api_key is not None else f"{info.env} environment variable"
        key = clean_key(given, source)
        if not key:
            if info.required:
                where = f" or set the {info.env} environment variable" if info.env else ""
                raise ConfigurationError(f"this API needs an api_key: pass api_key=...{where}")
            return Auth()
        return ApiKeyAuth(info.header, key)
    if info.kind == "oauth2_password":
        assert info.token_url is not None
        user = (username or "").strip() or (
            os.environ.get(info.username_env, "").strip() if info.username_env else ""
        )
        if not user and info.optional:
            return AnonymousBearer(info.anonymous_bearer) if info.anonymous_bearer else Auth()
        user = user or info.guest_username or ""
        if not user:
            raise ConfigurationError("this API needs a username (and password) for its OAuth token")
        secret = clean_password(password if password is not None else os.environ.get(info.password_env or ""))
        # A relative token URL follows the base URL (so a test server or a mirror gets its own).
        token_url = str(httpx.URL((base_url or "").rstrip("/") + "/").join(info.token_url))
        return OAuth2PasswordAuth(
            token_url=token_url,
            username=user,
            password=secret,
            client_id=info.client_id,
            client_secret=info.client_secret,
        )
    raise ConfigurationError(f"unsupported auth kind {info.kind!r}")


def _oauth_from(kwargs: dict[str, Any]) -> OAuth2PasswordAuth:
    return OAuth2PasswordAuth(**kwargs)
