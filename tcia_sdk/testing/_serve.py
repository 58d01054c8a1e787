"""Running the fake TCIA: a context manager, a foreground server, and ``python -m tcia_sdk.testing``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import attrs

from .._versions import available_versions
from ._fake import DEFAULT_API_KEY, FakeTCIA
from ._faults import FaultPlan
from ._http import LoopbackServer


@attrs.frozen
class RunningFake:
    """A fake TCIA serving on loopback: where it is, its faults and its request log."""

    server: LoopbackServer
    fake: FakeTCIA
    api_key: str = DEFAULT_API_KEY

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> FaultPlan:
        return self.server.faults

    def base_url(self, version: str) -> str:
        """The ``base_url`` a client of ``version`` uses here (``"v3"``, ``"nbia_v4"``, ...)."""
        return self.fake.base_url(self.server.url, version)

    def count(self, path_suffix: str | None = None) -> int:
        return self.server.count(path_suffix)


@contextmanager
def fake_tcia_server(
    versions: Sequence[str] | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningFake]:
    """Serve every API version (or ``versions``) from the bundled dataset on loopback::

    with fake_tcia_server() as tcia_fake:
        with Client(api_key=tcia_fake.api_key, base_url=tcia_fake.base_url("v3")) as tcia:
            ...
    """
    fake = FakeTCIA(list(versions) if versions else available_versions())
    with LoopbackServer(fake, host=host, port=port) as server:
        yield RunningFake(server, fake)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tcia_sdk.testing", description="The fake TCIA server.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the fake TCIA until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--versions", default=",".join(available_versions()), help="comma-separated")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    args = parser.parse_args(argv)
    serve_forever(args.versions.split(","), host=args.host, port=args.port, latency=args.latency)
    return 0


def serve_forever(versions: Sequence[str], *, host: str, port: int, latency: float = 0.0) -> None:
    fake = FakeTCIA(list(versions))
    server = LoopbackServer(fake, host=host, port=port)
    server.faults.latency = latency

    def announce() -> None:
        for version in fake.mounts:
            print(f"{version}: base_url={fake.base_url(server.url, version)}", flush=True)
        print(f"api_key for versions that need one: {DEFAULT_API_KEY}", flush=True)

    try:
        server.serve_forever(on_ready=announce)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
