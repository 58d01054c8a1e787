"""``tcia``: one subcommand per endpoint of the chosen API version, plus download and fake-server.

Endpoint subcommands are built from the generated descriptors when they are looked up, so every
spec's endpoints appear here without code: ``tcia --api nbia_v4 get-series --collection X``.
Credentials come from the environment (``TCIA_API_KEY``, ``NBIA_USERNAME``/``NBIA_PASSWORD``).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from .._runtime.endpoint import Endpoint, Param
from .._versions import available_versions, load_version
from ..errors import TCIAError
from ._context import DEFAULT_API, _api_name, make_client
from ._download import download
from ._output import emit, print_table

OUTPUTS = click.Choice(["table", "json", "csv"])


def _endpoints(api: str) -> dict[str, Endpoint]:
    module = load_version(api)
    return {e.python_name.replace("_", "-"): e for e in module.ENDPOINTS}


def _click_type(param: Param) -> click.ParamType[Any]:
    if param.type == "int":
        return click.INT
    if param.type == "float":
        return click.FLOAT
    if param.type == "bool":
        return click.BOOL
    if param.type == "date":
        return click.DateTime(formats=["%Y-%m-%d"])
    if param.type == "enum":
        return click.Choice(list(param.enum))
    return click.STRING


def _option(param: Param) -> click.Option:
    help_text = param.doc + (" (YYYY-MM-DD)" if param.type == "date" else "") + f" [wire: {param.wire}]"
    return click.Option(
        [f"--{param.python.rstrip('_').replace('_', '-')}", param.python],
        type=_click_type(param),
        required=param.required,
        multiple=param.repeated,
        help=help_text,
    )


def endpoint_command(endpoint: Endpoint) -> click.Command:
    """A subcommand calling ``endpoint`` with its parameters as options."""
    params: list[click.Parameter] = [_option(p) for p in endpoint.params]
    if endpoint.result == "binary":
        params.append(click.Option(["--to", "to"], required=True, help="file to write"))
    else:
        params.append(
            click.Option(["--output", "-o", "output"], type=OUTPUTS, default="table", show_default=True)
        )

    def run(**kwargs: Any) -> None:
        ctx = click.get_current_context()
        output = kwargs.pop("output", "table")
        for param in endpoint.params:
            value = kwargs.get(param.python)
            if isinstance(value, dt.datetime) and param.type == "date":
                kwargs[param.python] = value.date()
            elif param.repeated:
                kwargs[param.python] = list(value) if value else None
        with make_client(ctx) as client:
            try:
                result = getattr(client, endpoint.python_name)(**kwargs)
            except TCIAError as exc:
                raise click.ClickException(str(exc)) from None
        emit(result, output, endpoint.value_field)

    return click.Command(
        endpoint.python_name.replace("_", "-"),
        params=params,
        callback=run,
        help=f"{endpoint.doc} [{endpoint.method} {endpoint.name}]",
        short_help=endpoint.doc.split(". ")[0][:70],
    )


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


@click.group(cls=ApiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api",
    type=click.Choice(available_versions()),
    envvar="TCIA_API",
    default=DEFAULT_API,
    show_default=True,
    help="API version (spec) to use.",
)
@click.option(
    "--base-url", envvar="TCIA_BASE_URL", help="Override the API's base URL (e.g. the fake server)."
)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per request.")
@click.option("--max-retries", type=int, default=2, show_default=True)
def cli(api: str, base_url: str | None, timeout: float, max_retries: int) -> None:
    """Query The Cancer Imaging Archive and download image series.

    Run `tcia --api v3 COMMAND --help` for one endpoint's options.
    """


@cli.command("endpoints")
@click.option("--output", "-o", type=OUTPUTS, default="table", show_default=True)
@click.pass_context
def list_endpoints(ctx: click.Context, output: str) -> None:
    """List the chosen API's endpoints and their subcommands."""
    rows = [
        {"command": name, "endpoint": e.name, "method": e.method, "returns": e.result}
        for name, e in sorted(_endpoints(_api_name(ctx.find_root())).items())
    ]
    if output == "table":
        print_table(["command", "endpoint", "method", "returns"], rows)
    else:
        emit(rows, output)


@cli.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--versions", default=",".join(available_versions()), show_default=True)
@click.option("--latency", type=float, default=0.0, help="Seconds added to every response.")
def fake_server(host: str, port: int, versions: str, latency: float) -> None:
    """Serve the offline fake TCIA (every API version) until interrupted."""
    from ..testing._serve import serve_forever

    serve_forever(versions.split(","), host=host, port=port, latency=latency)


cli.add_command(download)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="tcia", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
