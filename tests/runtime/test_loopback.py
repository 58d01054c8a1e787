"""The runtime against a real HTTP server on loopback, sync and async, with injected faults."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tcia_sdk import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Hooks,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from tcia_sdk.testing import Delay, LoopbackServer, Request, ResetMidBody, Response, Status, Truncate
from tcia_sdk.v3 import AsyncClient, Client

KEY = "9f1c2d3e-secret-api-key-0000"
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02, max_retry_after=0.3)
ROWS = [{"SeriesInstanceUID": f"1.2.{i}", "Modality": "MR", "ImageCount": i} for i in range(50)]
ZIP = bytes(range(256)) * 2000  # 512 KB, streamed in 64 KB pieces


def app(request: Request) -> Response:
    if request.path.endswith("getImage"):
        return Response(
            200, (ZIP[i : i + 65536] for i in range(0, len(ZIP), 65536)), {"Content-Type": "application/zip"}
        )
    if request.path.endswith("getSeries"):
        return Response(200, json.dumps(ROWS).encode(), {"Content-Type": "application/json"})
    return Response(200, b"[]", {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(app) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: LoopbackServer) -> None:
    server.reset()


Caller = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def call(mode: str, server: LoopbackServer) -> Caller:
    """Call one client method sync or async; the client is closed afterwards either way.

    The underlying httpx client has a single pooled connection and a short pool timeout: a
    connection leaked by a failure would make the follow-up call in the same client time out.
    """

    def do(
        method: str, *, raw: bool = False, client_options: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        options: dict[str, Any] = {
            "api_key": KEY,
            "base_url": server.url + "/services/v3",
            "retry_policy": FAST,
        }
        options.update(client_options or {})
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(5.0, pool=1.0)
        if mode == "sync":
            with (
                httpx.Client(limits=limits, timeout=timeout) as http,
                Client(http_client=http, **options) as tcia,
            ):
                target = tcia.with_raw_response if raw else tcia
                try:
                    return getattr(target, method)(**kwargs)
                finally:
                    assert tcia.get_collection_values() == []  # no leaked connection

        async def run() -> Any:
            async with (
                httpx.AsyncClient(limits=limits, timeout=timeout) as http,
                AsyncClient(http_client=http, **options) as tcia,
            ):
                target = tcia.with_raw_response if raw else tcia
                try:
                    return await getattr(target, method)(**kwargs)
                finally:
                    assert await tcia.get_collection_values() == []

        return asyncio.run(run())

    return do


def test_429_with_retry_after_then_success(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(429, b"slow down", {"Retry-After": "0.2"}), path="getSeries", times=1)
    started = time.monotonic()
    raw = call("get_series", raw=True, collection="X")
    assert time.monotonic() - started >= 0.2  # Retry-After honoured
    assert raw.retries_taken == 1
    assert raw.status_code == 200
    assert len(raw.parse()) == 50
    assert server.count("getSeries") == 2


def test_retry_after_is_capped(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(503, headers={"Retry-After": "3600"}), path="getSeries", times=1)
    started = time.monotonic()
    assert len(call("get_series")) == 50
    assert time.monotonic() - started < 2  # capped at max_retry_after=0.3


@pytest.mark.parametrize("burst", [1, 2])
def test_503_burst_shorter_than_max_retries(call: Caller, server: LoopbackServer, burst: int) -> None:
    server.faults.add(Status(503, b"busy"), path="getSeries", times=burst)
    raw = call("get_series", raw=True, client_options={"max_retries": 2})
    assert raw.retries_taken == burst
    assert server.count("getSeries") == burst + 1


def test_503_burst_longer_than_max_retries(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(503, b"busy"), path="getSeries", times=5)
    with pytest.raises(ServerError) as info:
        call("get_series", client_options={"max_retries": 2})
    assert info.value.status_code == 503
    assert info.value.retries_taken == 2
    assert "after 2 retries" in str(info.value)
    assert server.count("getSeries") == 3


def test_per_call_max_retries_overrides_the_client(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(503), path="getSeries", times=1)
    with pytest.raises(ServerError):
        call("get_series", max_retries=0)
    assert server.count("getSeries") == 1


def test_connection_reset_mid_body_is_retried(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(ResetMidBody(after=100), path="getSeries", times=1)
    raw = call("get_series", raw=True)
    assert raw.retries_taken == 1
    assert len(raw.parse()) == 50


def test_connection_reset_every_time_is_a_connection_error(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(ResetMidBody(after=10), path="getSeries", times=None)
    with pytest.raises(APIConnectionError) as info:
        call("get_series", client_options={"max_retries": 1})
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.retries_taken == 1
    assert info.value.endpoint == "getSeries"


def test_read_timeout(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Delay(1.0), path="getSeries", times=2)
    with pytest.raises(APITimeoutError) as info:
        call("get_series", timeout=httpx.Timeout(5.0, read=0.2), max_retries=1)
    assert info.value.retries_taken == 1
    assert "ReadTimeout" in str(info.value)


def test_html_page_with_status_200_is_a_decode_error_not_retried(
    call: Caller, server: LoopbackServer
) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Scheduled maintenance</h1></body></html>"
    server.faults.add(Status(200, page, {"Content-Type": "text/html"}), path="getSeries", times=1)
    with pytest.raises(ResponseDecodeError) as info:
        call("get_series")
    assert info.value.content_type == "text/html"
    assert "Scheduled maintenance" in info.value.body_excerpt
    assert server.count("getSeries") == 1


def test_truncated_json(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Truncate(after=200, keep_length=False), path="getSeries", times=1)
    with pytest.raises(ResponseDecodeError, match="invalid JSON"):
        call("get_series")


def test_body_shorter_than_its_content_length_is_retried(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Truncate(after=200, keep_length=True), path="getSeries", times=1)
    assert len(call("get_series")) == 50
    assert server.count("getSeries") == 2


def test_500_text_plain_keeps_the_server_message(call: Caller, server: LoopbackServer) -> None:
    body = b"Server was not able to process your request\nnull"
    server.faults.add(Status(500, body, {"Content-Type": "text/plain"}), path="getSeries", times=1)
    with pytest.raises(ServerError) as info:
        call("get_series")
    assert info.value.server_message == "Server was not able to process your request null"
    assert server.count("getSeries") == 1  # 500 is not retried unless asked


def test_500_is_retried_when_asked(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(500, b"boom"), path="getSeries", times=1)
    policy = RetryPolicy(initial_delay=0.01, retry_server_errors=True)
    assert len(call("get_series", client_options={"retry_policy": policy})) == 50


def test_400_with_nbia_plain_sentence(call: Caller, server: LoopbackServer) -> None:
    sentence = b"A parameter, SeriesInstanceUID is required for this API call."
    server.faults.add(Status(400, sentence, {"Content-Type": "application/json"}), path="getSeries", times=1)
    with pytest.raises(BadRequestError) as info:
        call("get_series")
    assert info.value.server_message == sentence.decode()
    assert info.value.status_code == 400
    assert "getSeries" in str(info.value)
    assert "GET http://127.0.0.1" in str(info.value)


def test_v3_error_message_json(call: Caller, server: LoopbackServer) -> None:
    body = b'{"errorMessage":"java.lang.IndexOutOfBoundsException: Index: 0, Size: 0"}'
    server.faults.add(Status(500, body, {"Content-Type": "application/json"}), path="getSeries", times=1)
    with pytest.raises(APIStatusError, match="IndexOutOfBoundsException"):
        call("get_series")


def test_streamed_download_restarts_while_nothing_reached_the_caller(
    call: Caller, server: LoopbackServer, tmp_path: Path
) -> None:
    server.faults.add(ResetMidBody(after=150_000), path="getImage", times=1)
    result = call("get_image", series_instance_uid="1.2.3", to=tmp_path / "s.zip")
    assert (tmp_path / "s.zip").read_bytes() == ZIP
    assert result.bytes_written == len(ZIP)
    assert server.count("getImage") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zip"]


def test_streamed_download_into_a_file_object_is_not_restarted(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(ResetMidBody(after=150_000), path="getImage", times=1)
    sink = io.BytesIO()
    with pytest.raises(APIConnectionError):
        call("get_image", series_instance_uid="1.2.3", to=sink)
    assert server.count("getImage") == 1
    assert 0 < len(sink.getvalue()) < len(ZIP)


def test_failed_download_leaves_nothing_at_the_destination(
    call: Caller, server: LoopbackServer, tmp_path: Path
) -> None:
    server.faults.add(ResetMidBody(after=1000), path="getImage", times=None)
    with pytest.raises(APIConnectionError):
        call("get_image", series_instance_uid="1.2.3", to=tmp_path / "s.zip", max_retries=1)
    assert list(tmp_path.iterdir()) == []


def test_hooks_run_once_per_attempt(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(503), path="getSeries", times=1)
    seen: list[tuple[str, str, int]] = []
    hooks = Hooks(
        on_request=[lambda e: seen.append(("request", e.endpoint, e.attempt))],
        on_response=[
            lambda e: seen.append(("response", e.endpoint, e.response.status_code if e.response else -1))
        ],
    )
    call("get_series", client_options={"hooks": hooks})
    series_events = [s for s in seen if s[1] == "getSeries"]
    assert series_events == [
        ("request", "getSeries", 0),
        ("response", "getSeries", 503),
        ("request", "getSeries", 1),
        ("response", "getSeries", 200),
    ]


def test_extra_headers_and_query_and_user_agent(call: Caller, server: LoopbackServer) -> None:
    call("get_series", collection="X", extra_headers={"X-Trace": "t1"}, extra_query={"debug": "1"})
    request = next(r for r in server.requests if r.path.endswith("getSeries"))
    assert request.headers["x-trace"] == "t1"
    assert request.query == (("Collection", "X"), ("format", "json"), ("debug", "1"))
    assert request.headers["user-agent"].startswith("tcia-sdk/")
    assert request.headers["api_key"] == KEY


def test_401_and_the_key_never_shows(
    call: Caller, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tcia_sdk")
    server.faults.add(Status(401, b"", {"WWW-Authenticate": "Basic"}), path="getSeries", times=1)
    with pytest.raises(AuthenticationError) as info:
        call("get_series", extra_query={"api_key": KEY})  # even a key a user put into the URL
    error = info.value
    texts = [str(error), repr(error), error.url, str(error.headers), caplog.text]
    assert all(KEY not in text for text in texts)
    assert "<redacted>" in caplog.text
    assert "request GET" in caplog.text
    assert "response HTTP 401" in caplog.text


def test_client_repr_hides_the_key() -> None:
    with Client(api_key=KEY) as tcia:
        assert KEY not in repr(tcia)
        assert KEY not in repr(tcia._auth)


def test_logger_has_no_handlers_at_import() -> None:
    import tcia_sdk.v3  # noqa: F401

    logger = logging.getLogger("tcia_sdk")
    assert logger.handlers == []
    assert logging.getLogger().handlers == [] or all(
        type(h).__module__.startswith("_pytest") for h in logging.getLogger().handlers
    )


def test_proxies_from_the_environment_are_used(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Client(api_key=KEY, base_url="http://tcia.invalid/services/v3") as tcia:
        assert len(tcia.get_series()) == 50  # tcia.invalid cannot resolve: only the proxy answers
    request = next(r for r in server.requests if r.path.endswith("getSeries"))
    assert request.headers["host"] == "tcia.invalid"


def test_own_http_client_is_left_open_and_transport_is_used(server: LoopbackServer) -> None:
    http = httpx.Client()
    with Client(api_key=KEY, base_url=server.url + "/services/v3", http_client=http) as tcia:
        tcia.get_collection_values()
    assert not http.is_closed
    http.close()
    mock = httpx.MockTransport(lambda r: httpx.Response(200, json=["x"]))
    with Client(api_key=KEY, transport=mock) as tcia, pytest.raises(ResponseDecodeError):
        tcia.get_collection_values()  # ["x"] is not a list of objects


def test_timeouts_are_finite_and_configurable() -> None:
    from tcia_sdk import ConfigurationError

    with Client(api_key=KEY) as tcia:
        assert tcia.timeout.connect == 10.0
        assert tcia.timeout.read == 120.0
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, timeout=httpx.Timeout(None))
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, timeout=0)
    with Client(api_key=KEY, timeout=3) as tcia:
        assert tcia.timeout.read == 3.0


def test_rate_limit_error_after_exhausting_retries(call: Caller, server: LoopbackServer) -> None:
    server.faults.add(Status(429, headers={"Retry-After": "0"}), path="getSeries", times=None)
    with pytest.raises(RateLimitError) as info:
        call("get_series", max_retries=1)
    assert info.value.retries_taken == 1


def test_download_after_an_error_status_releases_the_connection(
    call: Caller, server: LoopbackServer, tmp_path: Path
) -> None:
    big_error = b"<html>" + b"x" * 100_000 + b"</html>"  # more than the excerpt the client reads
    server.faults.add(Status(503, big_error, {"Content-Type": "text/html"}), path="getImage", times=1)
    call("get_image", series_instance_uid="1.2.3", to=tmp_path / "s.zip")
    assert (tmp_path / "s.zip").read_bytes() == ZIP
    server.faults.add(Status(404, big_error), path="getImage", times=1)
    with pytest.raises(APIStatusError) as info:
        call("get_image", series_instance_uid="1.2.3", to=tmp_path / "t.zip")
    assert info.value.status_code == 404
    assert len(info.value.body_excerpt) <= 501
