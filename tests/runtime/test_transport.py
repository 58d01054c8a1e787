"""The async pool's readability check of idle connections, on real sockets."""

from __future__ import annotations

import socket

from tcia_sdk._runtime._deadline import _readable
from tcia_sdk._runtime.transport import new_async_client


def test_an_idle_socket_is_readable_only_with_data_or_a_close() -> None:
    left, right = socket.socketpair()
    with left, right:
        assert not _readable(left)
        right.sendall(b"x")
        assert _readable(left)
        assert left.recv(1) == b"x"
        assert not _readable(left)
        right.close()
        assert _readable(left)  # the EOF of a server-side close: the pool drops the connection


async def test_a_pooled_connection_answers_is_readable_from_its_socket() -> None:
    import httpx

    from tcia_sdk.testing import LoopbackServer, Response

    with LoopbackServer(lambda request: Response(200, b"[]", {"Content-Type": "application/json"})) as srv:
        client = new_async_client(httpx.Timeout(5.0), None)
        try:
            assert (await client.get(srv.url + "/x")).status_code == 200
            pool = client._transport._pool  # type: ignore[attr-defined]
            stream = pool.connections[0]._connection._network_stream
            assert stream.get_extra_info("is_readable") is False  # idle, kept alive
            assert stream.get_extra_info("socket") is not None
        finally:
            await client.aclose()
