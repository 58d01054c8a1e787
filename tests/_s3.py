"""A real S3 API on loopback for the object-store tests: moto's standalone server in a child
process, and a forwarding proxy in front of it whose fault plan can make the store answer 503."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from tcia_sdk.testing import App, Request, Response

# moto takes any key; these fake ones are what the SDK must never print.
ACCESS_KEY = "AKIAMOTOLOOPBACK0001"
SECRET_KEY = "moto-loopback-secret-key-never-printed"
REGION = "us-east-1"
# Hop-by-hop and framing headers the proxy must not copy (the loopback server frames bodies itself).
_FRAMING = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``python -m moto.server`` on a free loopback port, until ``stop``."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("moto's server exited at start")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("moto's server did not start within 60 s")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)

    def reset(self) -> None:
        """Forget every bucket and object."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def boto3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (through boto3, not the SDK: the store as anyone sees it)."""
        out: list[str] = []
        pages = self.boto3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            out.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(out)

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.boto3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body


def aws_environment(endpoint: str) -> dict[str, str]:
    """The standard variables that point every S3 client (the SDK's, boto3's) at ``endpoint``."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def proxy_to(target: str) -> App:
    """A loopback-server app forwarding every request to ``target`` (moto), answers unchanged."""
    http = httpx.Client(base_url=target, timeout=30)

    def app(request: Request) -> Response:
        url = quote(request.path, safe="/")
        if request.query:
            url += "?" + urlencode(request.query)
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        answer = http.request(request.method, url, content=request.body, headers=headers)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _FRAMING}
        return Response(answer.status_code, answer.content, kept)

    return app


def env_patch(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in os.environ for the duration (child processes inherit them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
