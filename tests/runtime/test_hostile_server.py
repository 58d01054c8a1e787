"""The runtime against servers that misbehave on purpose: redirects elsewhere, trickles, bombs,
echoed secrets, broken encodings. Each ends in a TCIAError subclass, in bounded time and memory,
with no secret in any message or log line."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tcia_sdk import (
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    RedirectError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    TCIAError,
)
from tcia_sdk._runtime import Limits
from tcia_sdk.testing import LoopbackServer, Request, Response, Status, Trickle
from tcia_sdk.v3 import AsyncClient, Client

KEY = "k3y-9f1c2d3e-0000-4a4a-secret"
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02, max_retry_after=0.2)
ROWS = [{"SeriesInstanceUID": f"1.2.{i}", "Modality": "MR"} for i in range(3)]


def app(request: Request) -> Response:
    if request.path.endswith("getImage"):
        return Response(200, b"PK" + b"z" * 2000, {"Content-Type": "application/zip"})
    return Response(200, json.dumps(ROWS).encode(), {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[LoopbackServer]:
    """Another origin (another port): where a hostile redirect points."""
    with LoopbackServer(app) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: LoopbackServer, elsewhere: LoopbackServer) -> None:
    server.reset()
    elsewhere.reset()


def v3(server: LoopbackServer, **options: Any) -> Client:
    return Client(api_key=KEY, base_url=server.url + "/services/v3", retry_policy=FAST, **options)


def av3(server: LoopbackServer, **options: Any) -> AsyncClient:
    return AsyncClient(api_key=KEY, base_url=server.url + "/services/v3", retry_policy=FAST, **options)


# -- redirects -------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redirect_to_another_host_is_refused_and_the_key_never_leaves(
    server: LoopbackServer, elsewhere: LoopbackServer, status: int, mode: str
) -> None:
    target = f"{elsewhere.url}/services/v3/TCIA/query/getSeries?stolen=1"
    server.faults.add(Status(status, headers={"Location": target}), path="getSeries", times=None)
    if mode == "sync":
        with v3(server) as tcia, pytest.raises(RedirectError) as info:
            tcia.get_series(collection="X")
    else:

        async def run() -> None:
            async with av3(server) as tcia:
                await tcia.get_series(collection="X")

        with pytest.raises(RedirectError) as info:
            asyncio.run(run())
    assert elsewhere.count() == 0  # nothing at all was sent there, so neither was the key
    assert info.value.status_code == status
    assert info.value.location.startswith(elsewhere.url)
    assert "another host" in str(info.value)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_within_the_host_is_followed_with_credentials(server: LoopbackServer, status: int) -> None:
    moved = f"{server.url}/services/v3/TCIA/query/getSeries?moved=1"
    server.faults.add(Status(status, headers={"Location": moved}), path="getSeries", times=1)
    with v3(server) as tcia:
        assert len(tcia.get_series(collection="X")) == 3
    _first, second = [r for r in server.requests if r.path.endswith("getSeries")]
    assert dict(second.query) == {"moved": "1"}
    assert second.headers["api_key"] == KEY


def test_a_redirect_loop_ends_in_a_redirect_error(server: LoopbackServer) -> None:
    loop = f"{server.url}/services/v3/TCIA/query/getSeries"
    server.faults.add(Status(302, headers={"Location": loop}), path="getSeries", times=None)
    with v3(server) as tcia, pytest.raises(RedirectError, match="more than 5 redirects"):
        tcia.get_series()
    assert server.count("getSeries") == 6


def test_a_downgrade_to_http_on_the_same_host_is_refused() -> None:
    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://services.example.org/services/v3/x"})

    transport = httpx.MockTransport(redirecting)
    with (
        Client(api_key=KEY, base_url="https://services.example.org/services/v3", transport=transport) as tcia,
        pytest.raises(RedirectError),
    ):
        tcia.get_series()


@pytest.mark.parametrize("status", [307, 308])
def test_the_token_endpoint_never_reposts_the_password_elsewhere(
    server: LoopbackServer, elsewhere: LoopbackServer, status: int
) -> None:
    from tcia_sdk.nbia_v2 import Client as V2Client

    server.faults.add(
        Status(status, headers={"Location": f"{elsewhere.url}/token"}), path="token", times=None
    )
    with (
        V2Client(
            username="alice", password="pa55-word-xyz", base_url=server.url + "/nbia-api/services/v2"
        ) as nbia,
        pytest.raises(AuthenticationError) as info,
    ):
        nbia.get_collection_values()
    assert elsewhere.count() == 0
    assert "pa55-word-xyz" not in str(info.value)


# -- trickles and deadlines --------------------------------------------------------------------------
def test_default_deadline_follows_the_read_timeout() -> None:
    assert Limits().attempt_deadline(httpx.Timeout(3.0)) == 10.0
    assert Limits().attempt_deadline(httpx.Timeout(120.0)) == 360.0
    assert Limits(deadline=2.5).attempt_deadline(httpx.Timeout(120.0)) == 2.5


def test_timeout_3_ends_a_header_trickle_within_a_minute_with_every_other_default(
    server: LoopbackServer,
) -> None:
    server.faults.add(Trickle(rate=1.0, headers=True), path="getSeries", times=None)
    started = time.monotonic()
    with Client(api_key=KEY, base_url=server.url + "/services/v3", timeout=3) as tcia:
        with pytest.raises(APITimeoutError, match="deadline") as info:
            tcia.get_series()
    elapsed = time.monotonic() - started
    assert elapsed < 60
    assert info.value.retries_taken == 2  # the default retries ran, each ended by its deadline


@pytest.mark.parametrize("headers", [True, False])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_trickle_ends_at_the_attempt_deadline(server: LoopbackServer, headers: bool, mode: str) -> None:
    server.faults.add(Trickle(rate=20.0, headers=headers), path="getSeries", times=None)
    options = {"limits": Limits(deadline=1.0), "max_retries": 0, "timeout": 5}

    def sync() -> None:
        with v3(server, **options) as tcia:
            tcia.get_series()

    async def run() -> None:
        async with av3(server, **options) as tcia:
            await tcia.get_series()

    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="deadline"):
        sync() if mode == "sync" else asyncio.run(run())
    assert time.monotonic() - started < 4


def _get_image_to(server: LoopbackServer, options: dict[str, Any], target: Path, mode: str) -> None:
    """get_image of one series to ``target`` through the sync or the async v3 client."""
    if mode == "sync":
        with v3(server, **options) as tcia:
            tcia.get_image(series_instance_uid="1.2", to=target)
        return

    async def run() -> None:
        async with av3(server, **options) as tcia:
            await tcia.get_image(series_instance_uid="1.2", to=target)

    asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_download_below_the_minimum_rate_ends(server: LoopbackServer, tmp_path: Path, mode: str) -> None:
    server.faults.add(Trickle(rate=50.0, headers=False), path="getImage", times=None)
    options = {"limits": Limits(min_rate=1000, rate_window=1.0), "max_retries": 0, "timeout": 5}
    target = tmp_path / "s.zip"

    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="minimum"):
        _get_image_to(server, options, target, mode)
    assert time.monotonic() - started < 5
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # the partial file is gone too


# -- unbounded bodies --------------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_body_over_max_body_size_stops_there(server: LoopbackServer) -> None:
    big = json.dumps([{"SeriesInstanceUID": "1" * 1000}] * 20_000).encode()  # ~20 MB

    def huge(request: Request) -> Response:
        return Response(200, (big[i : i + 65536] for i in range(0, len(big), 65536)), {})

    with LoopbackServer(huge) as srv:
        with v3(srv, limits=Limits(max_body_size=1 << 20)) as tcia:
            with pytest.raises(ResponseTooLargeError, match="max_body_size"):
                tcia.get_series()


def test_a_gzip_bomb_is_cut_off_without_inflating_it() -> None:
    bomb = gzip.compress(b" " * (256 << 20), compresslevel=9)  # 256 MiB of whitespace, ~250 KB

    def bombing(request: Request) -> Response:
        return Response(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})

    before = _peak_rss_mb()
    with LoopbackServer(bombing) as srv, v3(srv, limits=Limits(max_body_size=8 << 20)) as tcia:
        with pytest.raises(ResponseTooLargeError):
            tcia.get_series()
    assert _peak_rss_mb() - before < 100  # never held the inflated body


# -- errors that used to escape the tree ------------------------------------------------------------
def _answering(body: bytes, **headers: str) -> Client:
    response = httpx.Response(200, content=body, headers=headers)
    return Client(api_key=KEY, transport=httpx.MockTransport(lambda request: response))


@pytest.mark.parametrize("strict", [False, True])
def test_deeply_nested_json_is_a_decode_error(strict: bool) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    response = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    transport = httpx.MockTransport(lambda request: response)
    with Client(api_key=KEY, transport=transport, strict=strict) as tcia:
        with pytest.raises(ResponseDecodeError):
            tcia.get_series()


def test_an_invalid_gzip_body_is_a_decode_error_with_the_cause_chained(server: LoopbackServer) -> None:
    def broken(request: Request) -> Response:
        return Response(200, b"this is not gzip", {"Content-Encoding": "gzip"})

    with LoopbackServer(broken) as srv, v3(srv) as tcia:
        with pytest.raises(ResponseDecodeError, match="decompressed") as info:
            tcia.get_series()
    assert isinstance(info.value.__cause__, httpx.DecodingError)


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/x", "http://", "https://exa mple.org/v3"])
def test_a_garbage_base_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, base_url=url)


@pytest.mark.parametrize("after", ["nan", "inf", "-inf", "NaN"])
def test_retry_after_nan_is_ignored_not_a_crash(server: LoopbackServer, after: str) -> None:
    server.faults.add(Status(503, headers={"Retry-After": after}), path="getSeries", times=1)
    with v3(server) as tcia:
        assert len(tcia.get_series()) == 3
    assert server.count("getSeries") == 2


def test_every_failure_chains_its_cause(server: LoopbackServer) -> None:
    server.faults.add(Trickle(rate=20.0), path="getSeries", times=None)
    with v3(server, limits=Limits(deadline=0.5), max_retries=0) as tcia:
        with pytest.raises(TCIAError) as info:
            tcia.get_series()
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


# -- secrets the server echoes ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, f"Server was not able to process your request\napi_key={KEY}", {}),
        (500, f"<html><body>request had header api_key: {KEY}</body></html>", {"Content-Type": "text/html"}),
        (401, f'{{"error": "invalid token {KEY}"}}', {"WWW-Authenticate": f'Bearer realm="x", key="{KEY}"'}),
    ],
)
def test_an_echoed_key_is_redacted_everywhere(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture, status: int, body: str, headers: dict[str, str]
) -> None:
    server.faults.add(Status(status, body.encode(), headers), path="getSeries", times=None)
    caplog.set_level(logging.DEBUG)
    with v3(server, max_retries=0) as tcia, pytest.raises(TCIAError) as info:
        tcia.get_series()
    error: Any = info.value
    shown = [
        str(error),
        repr(error),
        getattr(error, "body_excerpt", ""),
        getattr(error, "server_message", ""),
    ]
    shown += [f"{k}: {v}" for k, v in getattr(error, "headers", {}).items()]
    assert all(KEY not in text for text in shown)
    assert "<redacted>" in " ".join(shown)
    assert KEY not in caplog.text  # httpx's and httpcore's DEBUG lines included
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # they did log


def test_an_echoed_bearer_token_is_redacted(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    from tcia_sdk.nbia_v2 import Client as V2Client
    from tcia_sdk.testing import FakeTCIA

    fake = FakeTCIA(["nbia_v2"])
    with LoopbackServer(fake) as srv:
        base = fake.base_url(srv.url, "nbia_v2")
        with V2Client(username="alice", password="pw-123456", base_url=base, max_retries=0) as nbia:
            nbia.get_collection_values()  # fetch a token
            token = next(iter(fake.tokens))
            echo = f"token {token} is not valid here".encode()
            srv.faults.add(Status(500, echo, {"X-Echo": f"Bearer {token}"}), path="getCollectionValues")
            caplog.set_level(logging.DEBUG)
            with pytest.raises(ServerError) as info:
                nbia.get_collection_values()
    assert token not in str(info.value)
    assert token not in info.value.body_excerpt
    assert token not in str(dict(info.value.headers))
    assert token not in caplog.text


# -- keys and arguments from files and user input ---------------------------------------------------
def test_a_key_with_a_trailing_newline_is_stripped(server: LoopbackServer) -> None:
    with Client(api_key=KEY + "\n", base_url=server.url + "/services/v3") as tcia:
        tcia.get_series()
    assert server.requests[-1].headers["api_key"] == KEY


@pytest.mark.parametrize(
    "bad", [f"{KEY}\u2028x", f"{KEY[:6]}é{KEY[6:]}", "abc\ndef", f"{KEY[:6]}\x85{KEY[6:]}"]
)
def test_an_unusable_key_is_refused_without_quoting_it(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(api_key=bad)
    assert KEY[:6] not in str(info.value)
    assert "abc" not in str(info.value)
    monkeypatch.setenv("TCIA_API_KEY", bad)
    with pytest.raises(ConfigurationError, match="TCIA_API_KEY"):
        Client()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"collection": 123}, TypeError, "collection must be a str, not int"),
        ({"collection": ["A", "B"]}, TypeError, "collection must be a str, not list"),
        ({"collection": {"A": 1}}, TypeError, "collection must be a str, not dict"),
        ({"collection": b"TCGA"}, TypeError, "collection must be a str, not bytes"),
        ({"collection": object()}, TypeError, "collection must be a str, not object"),
        ({"collection": "   "}, ValueError, "collection must not be empty"),
        ({"timeout": float("inf")}, ValueError, "timeout must be a finite number"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0"),
    ],
)
def test_caller_mistakes_fail_before_any_request(
    server: LoopbackServer, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with v3(server) as tcia, pytest.raises(error, match=match):
        tcia.get_series(**kwargs)
    assert server.count() == 0


def test_an_empty_required_parameter_fails_before_any_request(server: LoopbackServer) -> None:
    with v3(server) as tcia, pytest.raises(ValueError, match="series_instance_uid must not be empty"):
        tcia.get_series_size(series_instance_uid="")
    assert server.count() == 0


def test_options_that_cannot_work_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Client(api_key=KEY, timeout=float("inf"))
    with pytest.raises(ValueError, match="max_retries"):
        Client(api_key=KEY, max_retries=-1)
    with pytest.raises(ValueError, match="header"):
        Client(api_key=KEY, headers={"X-Trace": "a\r\nInjected: 1"})


# -- load ---------------------------------------------------------------------------------------------
def test_thousands_of_concurrent_calls_on_one_async_client_all_succeed(server: LoopbackServer) -> None:
    server.faults.latency = 0.005

    async def run() -> list[Any]:
        async with av3(server) as tcia:
            return await asyncio.gather(*(tcia.get_series() for _ in range(2500)))

    results = asyncio.run(run())
    assert len(results) == 2500
    assert all(len(r) == 3 for r in results)
    assert server.count("getSeries") == 2500  # no call needed a retry


def test_a_pool_timeout_is_not_retried(server: LoopbackServer) -> None:
    server.faults.latency = 0.5

    async def run() -> list[Any]:
        limits = httpx.Limits(max_connections=1)
        timeout = httpx.Timeout(5.0, pool=0.05)
        async with (
            httpx.AsyncClient(limits=limits) as http,
            AsyncClient(
                api_key=KEY,
                base_url=server.url + "/services/v3",
                http_client=http,
                retry_policy=FAST,
                timeout=timeout,
            ) as tcia,
        ):
            return await asyncio.gather(*(tcia.get_series() for _ in range(3)), return_exceptions=True)

    results = asyncio.run(run())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors
    assert all(isinstance(e, APITimeoutError) for e in errors)
    assert all(e.retries_taken == 0 and "pool" in str(e) for e in errors)  # type: ignore[attr-defined]


# -- files ---------------------------------------------------------------------------------------------
def test_get_image_to_a_path_respects_the_umask(server: LoopbackServer, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with v3(server) as tcia:
            tcia.get_image(series_instance_uid="1.2", to=tmp_path / "s.zip")
    finally:
        os.umask(old)
    assert (tmp_path / "s.zip").stat().st_mode & 0o777 == 0o644


# -- gaps of issue 12: each failure chains its original, trickles on getImage, echoed Bearer tokens
@pytest.mark.parametrize("strict", [False, True])
def test_deeply_nested_json_chains_the_recursion_error(strict: bool) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    response = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    with Client(api_key=KEY, transport=httpx.MockTransport(lambda request: response), strict=strict) as tcia:
        with pytest.raises(ResponseDecodeError, match="nested too deeply") as info:
            tcia.get_series()
    assert isinstance(info.value.__cause__, RecursionError)


def test_invalid_json_chains_the_parser_error() -> None:
    response = httpx.Response(200, content=b"[{", headers={"Content-Type": "application/json"})
    with Client(api_key=KEY, transport=httpx.MockTransport(lambda request: response)) as tcia:
        with pytest.raises(ResponseDecodeError, match="invalid JSON") as info:
            tcia.get_series()
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("url", ["http://[::1", "https://exa\x00mple.org/v3"])
def test_a_base_url_httpx_cannot_parse_chains_its_invalid_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not a usable URL") as info:
        Client(api_key=KEY, base_url=url)
    assert isinstance(info.value.__cause__, httpx.InvalidURL)


def test_too_many_redirects_is_the_sdks_own_error_with_nothing_unrelated_chained(
    server: LoopbackServer,
) -> None:
    # The SDK follows redirects itself (httpx's follow_redirects is off), so there is no
    # httpx.TooManyRedirects to chain: the RedirectError is the original, and it carries no
    # unrelated context either.
    loop = f"{server.url}/services/v3/TCIA/query/getSeries"
    server.faults.add(Status(302, headers={"Location": loop}), path="getSeries", times=None)
    with v3(server) as tcia, pytest.raises(RedirectError, match="more than 5 redirects") as info:
        tcia.get_series()
    assert not isinstance(info.value.__cause__, httpx.TooManyRedirects)
    assert info.value.__context__ is None or isinstance(info.value.__context__, TCIAError)


def test_retry_after_nan_raises_nothing_to_chain_even_when_retries_run_out(server: LoopbackServer) -> None:
    server.faults.add(Status(503, headers={"Retry-After": "nan"}), path="getSeries", times=None)
    with v3(server, max_retries=1) as tcia, pytest.raises(ServerError) as info:
        tcia.get_series()
    assert info.value.status_code == 503  # a server error, not a ValueError from parsing "nan"
    assert not isinstance(info.value.__cause__ or info.value.__context__, ValueError)
    assert server.count("getSeries") == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_header_trickle_on_get_image_to_a_path_ends_within_the_deadline(
    server: LoopbackServer, tmp_path: Path, mode: str
) -> None:
    server.faults.add(Trickle(rate=1.0, headers=True), path="getImage", times=None)
    options = {"limits": Limits(deadline=1.5), "max_retries": 0, "timeout": 3}
    target = tmp_path / "s.zip"

    started = time.monotonic()
    with pytest.raises(TCIAError, match="deadline") as info:
        _get_image_to(server, options, target, mode)
    assert time.monotonic() - started < 4
    assert isinstance(info.value, APITimeoutError)
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_get_image_with_timeout_3_and_every_other_default_ends_within_a_minute(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.faults.add(Trickle(rate=1.0, headers=True), path="getImage", times=None)
    started = time.monotonic()
    with Client(api_key=KEY, base_url=server.url + "/services/v3", timeout=3) as tcia:
        with pytest.raises(APITimeoutError, match="deadline"):
            tcia.get_image(series_instance_uid="1.2", to=tmp_path / "s.zip")
    assert time.monotonic() - started < 60
    assert list(tmp_path.iterdir()) == []


def _v2_with_token(srv: LoopbackServer, fake: Any, **options: Any) -> Any:
    from tcia_sdk.nbia_v2 import Client as V2Client

    base = fake.base_url(srv.url, "nbia_v2")
    return V2Client(username="alice", password="pw-123456", base_url=base, max_retries=0, **options)


@pytest.mark.parametrize("where", ["body", "header", "both"])
def test_a_bearer_token_echoed_by_a_401_is_redacted(caplog: pytest.LogCaptureFixture, where: str) -> None:
    from tcia_sdk.testing import FakeTCIA

    fake = FakeTCIA(["nbia_v2"])
    with LoopbackServer(fake) as srv, _v2_with_token(srv, fake) as nbia:
        nbia.get_collection_values()  # fetch a token
        token = next(iter(fake.tokens))
        body = f'{{"error": "invalid_token", "error_description": "Bearer {token} expired"}}'
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", token="{token}"'}
        srv.faults.add(
            Status(
                401,
                body.encode() if where != "header" else b'{"error": "invalid_token"}',
                headers if where != "body" else {},
            ),
            path="getCollectionValues",
            times=None,
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(AuthenticationError) as info:
            nbia.get_collection_values()
    error: Any = info.value
    shown = [
        str(error),
        repr(error),
        getattr(error, "body_excerpt", ""),
        getattr(error, "server_message", ""),
    ]
    shown += [f"{k}: {v}" for k, v in getattr(error, "headers", {}).items()]
    assert all(token not in text for text in shown), shown
    assert "<redacted>" in " ".join(shown)
    assert token not in caplog.text
    assert any(r.name.startswith("httpcore") for r in caplog.records)


PASSWORD = "v2-pa55word-0f-alice"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_v2_password_with_a_trailing_newline_is_stripped_and_never_logged(
    caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    from tcia_sdk.nbia_v2 import AsyncClient as V2Async
    from tcia_sdk.nbia_v2 import Client as V2Client
    from tcia_sdk.testing import FakeTCIA

    fake = FakeTCIA(["nbia_v2"])
    caplog.set_level(logging.DEBUG)  # every logger: tcia_sdk, httpx, httpcore
    with LoopbackServer(fake) as srv:
        options = {
            "username": "alice",
            "password": PASSWORD + "\n",
            "base_url": fake.base_url(srv.url, "nbia_v2"),
        }
        if mode == "sync":
            with V2Client(**options) as nbia:
                assert "TCGA-FAKE" in nbia.get_collection_values()
                shown = repr(nbia) + str(vars(nbia))
        else:

            async def run() -> str:
                async with V2Async(**options) as nbia:
                    assert "TCGA-FAKE" in await nbia.get_collection_values()
                    return repr(nbia) + str(vars(nbia))

            shown = asyncio.run(run())
        sent = [dict(r.form)["password"] for r in srv.requests if r.path.endswith("/token")]
    assert sent == [PASSWORD]  # stripped of its newline before it was sent
    assert PASSWORD not in shown
    assert {"tcia_sdk", "httpx", "httpcore"} <= {r.name.split(".")[0] for r in caplog.records}
    assert PASSWORD not in caplog.text
