"""Small functional tests: generate a package from an inline spec, import it, call it."""

from __future__ import annotations

import datetime
import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import generate_and_import

SPEC = (Path(__file__).parent / "fixtures" / "mini.yaml").read_text(encoding="utf-8")


def recorder(response: httpx.Response) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return seen, httpx.MockTransport(handler)


def test_enum_date_and_renamed_fields(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    row = {"ItemUID": "1", "Date Released": "12-31-2003", "3rd Party Analysis": "NO", "class": "c"}
    seen, transport = recorder(httpx.Response(200, json=[row]))
    with pkg.Client(transport=transport) as client:
        (item,) = client.get_items(from_date=datetime.date(2003, 12, 31), kind="a")
    assert item.date_released == datetime.date(2003, 12, 31)
    assert item.third_party_analysis == "NO"
    assert item.class_ == "c"
    assert seen[0].url.params.multi_items() == [("fromDate", "12-31-2003"), ("Kind", "a")]
    assert seen[0].url.path == "/api/getItems"


def test_empty_body_convention_and_row_endpoint(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    _, transport = recorder(httpx.Response(200, content=b""))
    with pkg.Client(transport=transport) as client:
        assert client.get_items(from_date=datetime.date(2020, 1, 1)) == []
        assert client.get_names() == []
        assert client.get_item_size() == pkg.Item()


def test_post_form_with_a_repeated_parameter(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    seen, transport = recorder(httpx.Response(200, json=[]))
    with pkg.Client(transport=transport) as client:
        assert client.post_list(list_=["1.2", "3.4"]) == []
    request = seen[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"list=1.2&list=3.4"


def test_text_and_csv_results(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    seen, transport = recorder(httpx.Response(200, text="a,b\n"))
    with pkg.Client(transport=transport) as client:
        assert client.get_text() == "a,b\n"
        assert client.get_names(format="csv") == "a,b\n"
    assert seen[1].url.params["format"] == "csv"
    assert "format" not in seen[0].url.params


def test_an_enum_value_outside_the_spec_is_refused(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    _, transport = recorder(httpx.Response(200, json=[]))
    with pkg.Client(transport=transport) as client, pytest.raises(ValueError, match=r"Kind|kind"):
        client.get_items(from_date=datetime.date(2020, 1, 1), kind="c")


def test_async_twin_has_the_same_signature(tmp_path: Path) -> None:
    pkg = generate_and_import(SPEC, tmp_path)
    for name in ("get_items", "get_item_size", "get_names", "post_list", "get_blob", "get_text"):
        sync: Any = getattr(pkg.Client, name)
        asyn: Any = getattr(pkg.AsyncClient, name)
        assert inspect.iscoroutinefunction(asyn)
        assert inspect.signature(sync) == inspect.signature(asyn)


def test_package_import_is_lazy(tmp_path: Path) -> None:
    import sys

    pkg = generate_and_import(SPEC, tmp_path)
    assert f"{pkg.__name__}.models" not in sys.modules
    assert f"{pkg.__name__}._client" not in sys.modules
    assert pkg.Item.__name__ == "Item"
    assert f"{pkg.__name__}.models" in sys.modules
