"""``tcia``: one subcommand per endpoint of the chosen API version, plus download and fake-server.

Endpoint subcommands are built from the generated descriptors when they are looked up, so every
spec's endpoints appear here without code: ``tcia --api nbia_v4 get-series --collection X``.

Exit codes (`main`): 0 all good; 1 a call failed, a series failed or a file could not be written;
2 a usage error; 130 interrupted. Every failure ends with one line on stderr, never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from .._runtime.endpoint import Endpoint
from .._version import __version__
from .._versions import available_versions, load_version
from ._context import DEFAULT_API, _api_name
from ._download import download
from ._endpoint_command import endpoint_command
from ._exit import INTERRUPTED, OK, USAGE, Interrupted, show_usage_error
from ._fake_server import fake_server
from ._output import OUTPUTS, emit_rows


def _endpoints(api: str) -> dict[str, Endpoint]:
    module = load_version(api)
    return {e.python_name.replace("_", "-"): e for e in module.ENDPOINTS}


class ApiGroup(click.Group):
    """Static commands plus one per endpoint of the API chosen with ``--api``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(super().list_commands(ctx)) + sorted(_endpoints(_api_name(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        endpoint = _endpoints(_api_name(ctx)).get(cmd_name)
        return endpoint_command(endpoint) if endpoint is not None else None

    def invoke(self, ctx: click.Context) -> Any:
        # Ctrl-C in any command: our one line, not click's blank line and "Aborted!".
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"tcia {__version__} (tcia_sdk)")
    for name in available_versions():
        api = load_version(name).API
        click.echo(f"  {name}: {api.name}, API version {api.api_version} ({api.status}), {api.spec_file}")
    ctx.exit()


@click.group(cls=ApiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="The package version and the API versions generated into it.",
)
@click.option(
    "--api",
    type=click.Choice(available_versions()),
    envvar="TCIA_API",
    default=DEFAULT_API,
    show_default=True,
    help="API version (spec) to use.",
)
@click.option(
    "--server",
    metavar="NAME|URL",
    help="A server of the API (production, nlst, ...: the client's server=) or a base URL. "
    "Default: the version's environment variable (TCIA_BASE_URL for nbia_v4), else production.",
)
@click.option("--base-url", metavar="URL", help="The same as --server URL.")
@click.option(
    "--api-key",
    metavar="KEY",
    help="The API key of versions that need one (v3); default: the TCIA_API_KEY environment "
    "variable, which keeps it out of the shell history. Never printed.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds per request read (> 0).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Retries of a failed idempotent request (>= 0).",
)
def cli(
    api: str,
    server: str | None,
    base_url: str | None,
    api_key: str | None,
    timeout: float,
    max_retries: int,
) -> None:
    """Query The Cancer Imaging Archive and download image series.

    Run `tcia --api v3 COMMAND --help` for one endpoint's options. Exit codes: 0 all good, 1 a call
    or a series failed, 2 usage error, 130 interrupted.
    """


@cli.command("endpoints")
@click.option("--output", "-o", type=click.Choice(OUTPUTS), default="table", show_default=True)
@click.pass_context
def list_endpoints(ctx: click.Context, output: str) -> None:
    """List the chosen API's endpoints and their subcommands."""
    rows: list[dict[str, Any]] = [
        {"command": name, "endpoint": e.name, "method": e.method, "returns": e.result}
        for name, e in sorted(_endpoints(_api_name(ctx.find_root())).items())
    ]
    emit_rows(output, ["command", "endpoint", "method", "returns"], rows)


cli.add_command(fake_server)
cli.add_command(download)


def main(argv: list[str] | None = None) -> int:
    """Run ``tcia`` and return its exit code (the console script exits with it)."""
    try:
        code = cli.main(args=argv, prog_name="tcia", standalone_mode=False)
    except click.UsageError as exc:
        show_usage_error(exc)
        return USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        Interrupted("interrupted").show()
        return INTERRUPTED
    except SystemExit as exc:  # shell completion, and click's own exit on a closed pipe
        return exc.code if isinstance(exc.code, int) else OK if exc.code is None else 1
    return code if isinstance(code, int) else OK
