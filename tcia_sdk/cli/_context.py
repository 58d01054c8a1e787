"""The API version and client a command runs against, from the global options."""

from __future__ import annotations

import os
from typing import Any

import click

from .._versions import load_version

DEFAULT_API = "nbia_v4"  # the live TCIA API


def _api_name(ctx: click.Context) -> str:
    name = ctx.params.get("api") or os.environ.get("TCIA_API") or DEFAULT_API
    return str(name)


def make_client(ctx: click.Context) -> Any:
    """The chosen version's Client with the global options (close it: use ``with``)."""
    root = ctx.find_root()
    module = load_version(_api_name(root))
    options: dict[str, Any] = {"timeout": root.params["timeout"], "max_retries": root.params["max_retries"]}
    base_url = root.params.get("base_url")
    if base_url:
        options["base_url"] = base_url
    return module.Client(**options)
