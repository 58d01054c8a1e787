"""The API version and client a command runs against, from the global options.

``--server`` takes what the client's ``server=`` takes (a server name of the spec: ``nlst``) or a
URL (the client's ``base_url=``). Without it the client applies its own precedence: the version's
environment variable (``TCIA_BASE_URL`` for NBIA v4), then the spec's default server. Credentials
are the client's too: ``--api-key``, else the variable the spec names (``TCIA_API_KEY`` for v3).
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource

from .._runtime.endpoint import ApiInfo
from .._versions import load_version
from ..errors import ConfigurationError

DEFAULT_API = "nbia_v4"  # the live TCIA API


def _api_name(ctx: click.Context) -> str:
    name = ctx.params.get("api") or os.environ.get("TCIA_API") or DEFAULT_API
    return str(name)


def _target(root: click.Context, api: ApiInfo) -> dict[str, str]:
    """``server=`` or ``base_url=`` for the client, from ``--server`` or ``--base-url``."""
    server: str | None = root.params.get("server")
    base_url: str | None = root.params.get("base_url")
    if server and base_url:
        raise click.UsageError("give --server or --base-url, not both", ctx=root)
    if base_url or (server and "://" in server):
        return {"base_url": base_url or server or ""}
    if not server:
        return {}
    if api.server(server) is None:
        known = ", ".join(s.name for s in api.servers)
        hint = f"known servers: {known}" if known else "it has no named servers"
        raise click.UsageError(
            f"--server {server!r}: not a server of {api.name} ({hint}); or give a URL", ctx=root
        )
    return {"server": server}


def _credentials(root: click.Context, api_name: str, api: ApiInfo) -> dict[str, str]:
    key: str | None = root.params.get("api_key")
    auth = api.auth
    if auth.kind != "api_key":
        if key and root.get_parameter_source("api_key") == ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--api-key: {api_name} takes no API key", ctx=root)
        return {}
    if key:
        return {"api_key": key}
    from_env = (os.environ.get(auth.env) or "").strip() if auth.env else ""
    if auth.required and not from_env:
        where = f" or set the {auth.env} environment variable" if auth.env else ""
        raise click.UsageError(f"{api_name} needs an API key: pass --api-key KEY{where}", ctx=root)
    return {}


def make_client(ctx: click.Context) -> Any:
    """The chosen version's Client with the global options (close it: use ``with``).

    A setting the client refuses (``--timeout inf``, a garbage URL) is a usage error: nothing was
    sent yet, and the fix is on the command line.
    """
    root = ctx.find_root()
    api_name = _api_name(root)
    module = load_version(api_name)
    api: ApiInfo = module.API
    options: dict[str, Any] = {
        "timeout": root.params["timeout"],
        "max_retries": root.params["max_retries"],
        **_target(root, api),
        **_credentials(root, api_name, api),
    }
    try:
        return module.Client(**options)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc), ctx=root) from None
