"""A client's settings as data, to build the same client in another process (a cluster worker).

The settings (`ClientRecipe`) hold no secret: they may travel in task graphs, logs and dashboards.
The credentials (`Credentials`: the auth and any secret header) travel apart, by a channel that
keeps them out of those (a Dask worker plugin), and never show in a repr. Hooks stay behind:
they are the caller's callables, bound to its process.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NamedTuple

import httpx

from ..errors import ConfigurationError
from .auth import Auth
from .limits import Limits
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .client import AsyncAPIClient, BaseAPIClient


class ClientRecipe(NamedTuple):
    """How to build a client like one that exists: its API (the module of its AsyncClient), its
    server and settings. No secrets."""

    module: str
    base_url: str
    server: str | None
    timeout: httpx.Timeout
    max_retries: int
    headers: tuple[tuple[str, str], ...]
    retry_policy: RetryPolicy
    limits: Limits
    strict: bool


class Credentials:
    """A client's auth and secret headers, for a process that rebuilds the client."""

    def __init__(self, auth: Auth, headers: tuple[tuple[str, str], ...]) -> None:
        self.auth = auth
        self.headers = headers

    def __repr__(self) -> str:
        return f"Credentials({type(self.auth).__name__}, <{len(self.headers)} secret headers>)"

    def secret_values(self) -> list[str]:
        return [*self.auth.secret_values(), *(v for _, v in self.headers)]


def _async_class(client: BaseAPIClient) -> type[AsyncAPIClient]:
    from .client import AsyncAPIClient

    for cls in type(client).__mro__:
        twin = getattr(sys.modules.get(cls.__module__), "AsyncClient", None)
        if isinstance(twin, type) and issubclass(twin, AsyncAPIClient):
            return twin
    raise ConfigurationError(f"no AsyncClient beside {type(client).__qualname__}")


def recipe_of(client: BaseAPIClient) -> tuple[ClientRecipe, Credentials]:
    """The recipe of ``client`` and, apart, its credentials."""
    redactor = client._redactor
    headers = tuple(client._headers.items())
    recipe = ClientRecipe(
        module=_async_class(client).__module__,
        base_url=client.base_url,
        server=client.server,
        timeout=client.timeout,
        max_retries=client.max_retries,
        headers=tuple((k, v) for k, v in headers if not redactor.is_secret(k)),
        retry_policy=client.retry_policy,
        limits=client.limits,
        strict=client.strict,
    )
    return recipe, Credentials(client._auth, tuple((k, v) for k, v in headers if redactor.is_secret(k)))


def build_async(recipe: ClientRecipe, credentials: Credentials) -> AsyncAPIClient:
    """An AsyncClient from ``recipe`` with ``credentials`` (in this process: its own pool)."""
    from .client import AsyncAPIClient

    __import__(recipe.module)
    module = sys.modules[recipe.module]
    cls = getattr(module, "AsyncClient", None)
    api = getattr(module, "API", None)
    if not (isinstance(cls, type) and issubclass(cls, AsyncAPIClient)) or api is None:
        raise ConfigurationError(f"{recipe.module} has no generated AsyncClient")
    client = cls.__new__(cls)
    AsyncAPIClient.__init__(
        client,
        api=api,
        auth=credentials.auth,
        base_url=recipe.base_url,
        timeout=recipe.timeout,
        max_retries=recipe.max_retries,
        headers=dict(recipe.headers + credentials.headers),
        hooks=None,
        retry_policy=recipe.retry_policy,
        limits=recipe.limits,
        strict=recipe.strict,
    )
    client.server = recipe.server
    return client
