"""``tcia fake-server``: the offline fake TCIA in the foreground, every API version by default."""

from __future__ import annotations

import errno

import click

from .._versions import available_versions
from ._exit import CommandFailed, describe_os_error


def _versions(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in available_versions()]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown API version {', '.join(unknown) or '(none given)'}; "
            f"available: {', '.join(available_versions())}"
        )
    return names


@click.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="0: any free port (the one taken is printed).",
)
@click.option(
    "--versions",
    default=",".join(available_versions()),
    show_default=True,
    callback=_versions,
    help="Comma-separated API versions to serve.",
)
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds added to every response.")
def fake_server(host: str, port: int, versions: list[str], latency: float) -> None:
    """Serve the offline fake TCIA (every API version) until interrupted."""
    from ..testing._serve import serve_forever

    try:
        serve_forever(versions, host=host, port=port, latency=latency)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandFailed(
                f"port {port} on {host} is already in use: pick another with --port (0: any free one)"
            ) from None
        raise CommandFailed(f"cannot serve on {host}:{port}: {describe_os_error(exc)}") from None
