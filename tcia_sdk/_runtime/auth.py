"""Credentials, applied per attempt and never shown: shared by every API version."""

from __future__ import annotations

import os

from ..errors import ConfigurationError
from .endpoint import AuthInfo


class Auth:
    """No credentials (NBIA v1 and v4)."""

    secret_names: frozenset[str] = frozenset()

    def headers(self) -> dict[str, str]:
        return {}

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

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self._header!r}, key='<redacted>')"


def make_auth(info: AuthInfo, *, api_key: str | None = None) -> Auth:
    """The Auth an API declares, from the constructor's arguments or the declared env variable."""
    if info.kind == "none":
        return Auth()
    if info.kind == "api_key":
        assert info.header is not None
        key = api_key if api_key is not None else (os.environ.get(info.env) if info.env else None)
        if not key:
            if info.required:
                where = f" or set the {info.env} environment variable" if info.env else ""
                raise ConfigurationError(f"this API needs an api_key: pass api_key=...{where}")
            return Auth()
        return ApiKeyAuth(info.header, key)
    raise ConfigurationError(f"unsupported auth kind {info.kind!r}")
