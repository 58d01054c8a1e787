"""Child processes: loopback servers of `_server`, and fresh interpreters timed from outside."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Any

from ._common import ROOT

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def python_env() -> dict[str, str]:
    """The environment of child interpreters: the project importable, no stray proxies."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = HOST
    return env


class ServerProcess:
    """``python -m tests.benchmarks._server KIND ...`` on a free loopback port, as a context manager."""

    def __init__(self, kind: str, *args: str) -> None:
        self.kind = kind
        self.args = args
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> ServerProcess:
        self._log = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "tests.benchmarks._server", self.kind, "--port", str(self.port)]
        self._proc = subprocess.Popen(
            [*command, *self.args],
            cwd=ROOT,
            env=python_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the {self.kind} server exited early: {self.output()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the {self.kind} server did not listen within {START_TIMEOUT:.0f} s")

    def output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", "replace").strip()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


def run_python(args: list[str], *, timeout: float = 600.0) -> tuple[float, str]:
    """Run a fresh interpreter (``python ARGS``) in the project root: its wall time and stdout.

    Raises RuntimeError (with the end of stderr) when it fails.
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=python_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip()[-1500:]
        raise RuntimeError(f"`python {' '.join(args)[:80]}` exited {done.returncode}: {tail}")
    return elapsed, done.stdout.decode("utf-8", "replace")


def last_json(stdout: str) -> dict[str, Any]:
    """The last line of a child's stdout, a JSON object (children print their report there)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("the child printed no report")
    value = json.loads(lines[-1])
    if not isinstance(value, dict):
        raise RuntimeError(f"the child's report is not an object: {lines[-1][:200]}")
    return value
