"""A small HTTP/1.1 server on loopback, with the fault injection of `FaultPlan`.

It is asyncio-based and owns the raw bytes, so it can do what real TCIA servers do and a mock
cannot: stream length-less bodies, reset a connection mid-body, stall, or cut a body short. It runs
in a background thread (tests, the demo) or in the foreground (``python -m tcia_sdk.testing serve``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from ._faults import CorruptBody, Delay, Fault, FaultPlan, ResetMidBody, Status, Trickle, Truncate

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@attrs.frozen
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes

    @property
    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)


@attrs.define
class Response:
    """What the app answers. An iterable body is streamed chunked, without Content-Length."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = attrs.field(factory=dict)


App = Callable[[Request], Response]


class LoopbackServer:
    """Serve ``app`` on 127.0.0.1; record every request; apply ``faults``.

    Use it as a context manager (a background thread), or call `serve_forever` in the foreground.
    """

    def __init__(
        self, app: App, *, host: str = "127.0.0.1", port: int = 0, faults: FaultPlan | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.faults = faults or FaultPlan()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._active: Counter[str] = Counter()  # requests being answered, per endpoint
        self._peak: Counter[str] = Counter()

    # -- observing -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def count(self, path_suffix: str | None = None) -> int:
        """How many requests arrived (whose path ends with ``path_suffix``)."""
        with self._lock:
            return sum(1 for r in self.requests if path_suffix is None or r.path.endswith(path_suffix))

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(r.path.rsplit("/", 1)[-1] for r in self.requests)

    def peak(self, endpoint: str) -> int:
        """The most requests to ``endpoint`` (a path's last part) answered at once since the reset."""
        with self._lock:
            return self._peak[endpoint]

    def reset(self) -> None:
        """Forget recorded requests, peaks and scripted faults."""
        with self._lock:
            self.requests.clear()
            self._peak.clear()
        self.faults.clear()

    # -- running ---------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="tcia-loopback-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run in the foreground until interrupted; ``on_ready`` runs once the port is bound."""

        async def main() -> None:
            server = await self._listen()
            if on_ready is not None:
                on_ready()
            async with server:
                await server.serve_forever()

        asyncio.run(main())

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _listen(self) -> asyncio.AbstractServer:
        server = await asyncio.start_server(self._on_connection, self.host, self.port, limit=1 << 20)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    # -- serving ---------------------------------------------------------------------------
    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        parts = urlsplit(target)
        request = Request(
            method=method.upper(),
            path=unquote(parts.path),
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
        )
        endpoint = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests.append(request)
            self._active[endpoint] += 1
            self._peak[endpoint] = max(self._peak[endpoint], self._active[endpoint])
        try:
            return await self._answer(request, writer)
        finally:
            with self._lock:
                self._active[endpoint] -= 1

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        # Faults match form fields too: NBIA's POST endpoints take their parameters in the body.
        form = (
            request.form
            if request.method == "POST" and "form" in request.headers.get("content-type", "")
            else []
        )
        faults = self.faults.take(request.path, {**dict(form), **dict(request.query)})
        delay = self.faults.latency + sum(f.seconds for f in faults if isinstance(f, Delay))
        if delay:
            await asyncio.sleep(delay)
        status = next((f for f in faults if isinstance(f, Status)), None)
        if status is not None:
            response = Response(status.status, status.body, dict(status.headers))
        else:
            try:
                response = self.app(request)
            except Exception as exc:  # an app bug answers 500, as a Java server would
                text = f"Server was not able to process your request\n{exc}".encode()
                response = Response(500, text, {"Content-Type": "text/plain"})
        return await self._write(writer, request, response, faults)

    async def _write(
        self, writer: asyncio.StreamWriter, request: Request, response: Response, faults: list[Fault]
    ) -> bool:
        streamed = not isinstance(response.body, bytes)
        head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}"]
        headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        truncate = next((f for f in faults if isinstance(f, Truncate)), None)
        body_bytes = response.body if isinstance(response.body, bytes) else None
        if body_bytes is not None and truncate is not None and not truncate.keep_length:
            body_bytes = body_bytes[: truncate.after]
            truncate = None
        if streamed:
            head.append("Transfer-Encoding: chunked")
        else:
            assert body_bytes is not None
            head.append(f"Content-Length: {len(body_bytes)}")
        head.extend(f"{k}: {v}" for k, v in headers.values())
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        trickle = next((f for f in faults if isinstance(f, Trickle)), None)
        if trickle is not None:
            await self._trickle(writer, head_bytes if trickle.headers else b"", trickle.rate)
            if not trickle.headers:
                writer.write(head_bytes)
            body = response.body if isinstance(response.body, bytes) else b"".join(response.body)
            if streamed:
                body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
            await self._trickle(writer, body, trickle.rate)
            return True
        writer.write(head_bytes)
        if request.method == "HEAD":
            await writer.drain()
            return True
        reset = next((f for f in faults if isinstance(f, ResetMidBody)), None)
        corrupt = next((f for f in faults if isinstance(f, CorruptBody)), None)
        # Where the connection dies (reset, or a Content-Length/chunked body cut short), and where a
        # length-less body ends cleanly but early (a truncated zip that looks complete).
        limit = reset.after if reset else (truncate.after if truncate and truncate.keep_length else None)
        clean_end = truncate.after if truncate and not truncate.keep_length else None
        chunks: Iterable[bytes]
        if body_bytes is not None:
            chunks = [body_bytes]
        else:
            assert not isinstance(response.body, bytes)
            chunks = response.body
        sent = 0
        for chunk in chunks:
            if not chunk:
                continue
            if corrupt is not None and sent <= corrupt.offset < sent + len(chunk):
                index = corrupt.offset - sent
                chunk = chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
            if clean_end is not None and sent + len(chunk) >= clean_end:
                self._emit(writer, chunk[: clean_end - sent], streamed)
                break
            if limit is not None and sent + len(chunk) >= limit:
                chunk = chunk[: limit - sent]
                self._emit(writer, chunk, streamed)
                await writer.drain()
                if reset is not None:
                    _reset(writer)
                else:
                    writer.close()
                return False
            self._emit(writer, chunk, streamed)
            sent += len(chunk)
            await writer.drain()
        if streamed:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return headers.get("connection", ("", ""))[1].lower() != "close"

    @staticmethod
    async def _trickle(writer: asyncio.StreamWriter, data: bytes, rate: float) -> None:
        """Write ``data`` one byte at a time, ``rate`` bytes per second."""
        for index in range(len(data)):
            writer.write(data[index : index + 1])
            await writer.drain()
            await asyncio.sleep(1.0 / rate)

    @staticmethod
    def _emit(writer: asyncio.StreamWriter, chunk: bytes, streamed: bool) -> None:
        if not chunk:
            return
        if streamed:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        else:
            writer.write(chunk)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a proxy dropping the connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
