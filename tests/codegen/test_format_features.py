"""The spec format's generic features, each on a small inline spec: generated, imported, called.

Indexed criteria, paging, aliases, joined lists, servers, optional login, comma-joined and chunked
lists, bool wire values, defaults and internal parameters, single objects and string arrays,
positional CSV. None of it is specific to an API version."""

from __future__ import annotations

import asyncio
import datetime
import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tcia_sdk import WrongServerError

from .helpers import generate_and_import

HEAD = """\
spec_version: 1
api:
  name: Features
  package: mini
  doc: Every feature once.
  base_url: https://main.example.org/api
  base_url_env: FEATURES_BASE_URL
  servers:
    production: {url: "https://main.example.org/api", doc: The main host.}
    archive: {url: "https://archive.example.org/api", doc: Holds the OLD collection only.}
  auth: {kind: none}
  empty_result: empty_body
resources:
  r: {path: ""}
"""


def package(tmp_path: Path, body: str, head: str = HEAD) -> Any:
    return generate_and_import(head + textwrap.dedent(body), tmp_path)


def recorder(*responses: httpx.Response) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return seen, httpx.MockTransport(handler)


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return httpx.QueryParams(request.content.decode()).multi_items()


CRITERIA = """\
criteria:
  Search:
    doc: Indexed criteria.
    type_key: "kind{i}"
    fields:
      name: {criterion: NameC, keys: {value: "v{i}"}, type: str, many: true, upper: true, doc: Names.}
      when:
        criterion: DateC
        keys: {from: "from{i}", to: "to{i}"}
        type: date
        date_format: "%Y%m%d"
        doc: Dates.
      at_least: {criterion: MinC, keys: {value: "v{i}"}, type: int, offset: -1, doc: More than.}
      strict:
        criterion: AllC
        keys: {value: "v{i}"}
        type: bool
        wire_true: all
        wire_false: null
        requires: name
        doc: All.
models:
  Page:
    doc: A page.
    fields:
      items: {type: list, items: Item, doc: This page.}
      total: {type: int, doc: All pages.}
  Item:
    doc: An item.
    fields:
      id: {type: int, doc: Key.}
endpoints:
  search:
    resource: r
    method: POST
    idempotent: true
    doc: Paged search.
    params:
      - {criteria: Search}
      - {wire: order, type: enum, enum: [a, b], default: a, doc: Order.}
      - {wire: offset, type: int, paging: start, doc: Start.}
      - {wire: limit, name: page_size, type: int, paging: size, doc: Size.}
    response: {kind: page, model: Page, items: items, total: total, page_size: 2}
"""


def test_indexed_criteria_are_numbered_in_order_without_gaps(tmp_path: Path) -> None:
    pkg = package(tmp_path, CRITERIA)
    seen, transport = recorder(httpx.Response(200, json={"items": [], "total": 0}))
    with pkg.Client(transport=transport) as client:
        client.search(
            name=["x", "y"],
            when=(datetime.date(2020, 1, 2), datetime.date(2020, 3, 4)),
            at_least=3,
            strict=True,
        ).first_page()
    assert form(seen[0]) == [
        ("order", "a"),
        ("offset", "0"),
        ("limit", "2"),
        ("kind0", "NameC"),
        ("v0", "X"),
        ("kind1", "NameC"),
        ("v1", "Y"),
        ("kind2", "DateC"),
        ("from2", "20200102"),
        ("to2", "20200304"),
        ("kind3", "MinC"),
        ("v3", "2"),
        ("kind4", "AllC"),
        ("v4", "all"),
    ]
    with pkg.Client(transport=transport) as client, pytest.raises(ValueError, match="needs name"):
        client.search(strict=True)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_paging_iterates_every_item_and_stops_at_the_total(tmp_path: Path, mode: str) -> None:
    pkg = package(tmp_path, CRITERIA)
    pages = [
        httpx.Response(200, json={"items": [{"id": 1}, {"id": 2}], "total": 5}),
        httpx.Response(200, json={"items": [{"id": 3}, {"id": 4}], "total": 5}),
        httpx.Response(200, json={"items": [{"id": 5}], "total": 5}),
        httpx.Response(500, text="past the end"),
    ]
    seen, transport = recorder(*pages)
    if mode == "sync":
        with pkg.Client(transport=transport) as client:
            ids = [item.id for item in client.search(name="x")]
    else:

        async def run() -> list[int]:
            async with pkg.AsyncClient(transport=httpx.MockTransport(transport.handler)) as client:
                return [item.id async for item in client.search(name="x")]

        ids = asyncio.run(run())
    assert ids == [1, 2, 3, 4, 5]
    assert [dict(form(r))["offset"] for r in seen] == ["0", "2", "4"]


def test_an_empty_page_ends_the_iteration_even_when_the_total_says_more(tmp_path: Path) -> None:
    pkg = package(tmp_path, CRITERIA)
    seen, transport = recorder(
        httpx.Response(200, json={"items": [{"id": 1}], "total": 9}),
        httpx.Response(200, json={"items": [], "total": 9}),
    )
    with pkg.Client(transport=transport) as client:
        assert [i.id for i in client.search(page_size=1)] == [1]
    assert len(seen) == 2


MODELS = """\
models:
  Row:
    doc: A row.
    fields:
      SeriesUID: {type: str, aliases: ["Series UID"], doc: UID.}
      Spacing: {type: list, items: float, separator: ", ", doc: Joined.}
      Flag: {type: bool, wire_type: str, doc: A varchar.}
      Counts: {type: map, items: int, doc: A map.}
      Extra: {type: json, doc: Anything.}
      Child: {type: model, model: Child, doc: Nested.}
  Child:
    doc: A child.
    fields:
      Name: {type: str, doc: Name.}
      Kids: {type: list, items: Child, doc: Recursive.}
endpoints:
  rows:
    resource: r
    formats: false
    doc: Rows.
    response: {kind: rows, model: Row}
  one:
    resource: r
    doc: One object.
    response: {kind: object, model: Row}
  names:
    resource: r
    doc: Strings.
    response: {kind: strings}
  table:
    resource: r
    doc: CSV read by position under a wrong header.
    response: {kind: rows, model: Row, body: csv, csv_header: ["Wrong A", "Wrong B"]}
"""


def test_aliases_joined_lists_strings_maps_json_and_recursion(tmp_path: Path) -> None:
    pkg = package(tmp_path, MODELS)
    row = {
        "Series UID": "1.2",
        "Spacing": "0.7, 0.78",
        "Flag": "false",
        "Counts": {"a": 1},
        "Extra": [1, {"x": None}],
        "Child": {"Name": "root", "Kids": [{"Name": "leaf", "Kids": []}]},
    }
    _, transport = recorder(httpx.Response(200, json=[row]))
    with pkg.Client(transport=transport) as client:
        (got,) = client.rows()
    assert got.series_uid == "1.2"  # an older server's spelling
    assert got.spacing == (0.7, 0.78)
    assert got.flag is False
    assert got.counts == {"a": 1}
    assert got.extra == [1, {"x": None}]
    assert got.child.kids[0].name == "leaf"
    assert got.additional_properties == {}
    _, transport = recorder(httpx.Response(200, json=row))
    with pkg.Client(transport=transport) as client:
        assert client.one().child.name == "root"
    _, transport = recorder(httpx.Response(200, content=b"null"))
    with pkg.Client(transport=transport) as client:
        assert client.one() == pkg.Row()  # no such object: every field None
    _, transport = recorder(httpx.Response(200, json=["a", "b"]))
    with pkg.Client(transport=transport) as client:
        assert client.names() == ["a", "b"]


def test_positional_csv_only_while_the_header_is_the_known_wrong_one(tmp_path: Path) -> None:
    pkg = package(tmp_path, MODELS)
    wrong = '"Wrong A","Wrong B"\n"1.2","0.5"\n'
    right = '"Spacing","SeriesUID"\n"0.5","1.2"\n'
    for text in (wrong, right):
        _, transport = recorder(httpx.Response(200, text=text))
        with pkg.Client(transport=transport) as client:
            (row,) = client.table()
        assert (row.series_uid, row.spacing) == ("1.2", (0.5,))


LISTS = """\
endpoints:
  send:
    resource: r
    method: POST
    idempotent: true
    doc: Lists and flags.
    params:
      - {wire: joined, type: str, repeated: true, explode: false, doc: One value.}
      - {wire: many, type: str, repeated: true, chunk: 2, doc: Chunked.}
      - {wire: "Yes", name: yes_flag, type: bool, wire_true: "Yes", wire_false: null, doc: Flag.}
      - {wire: fixed, type: str, internal: true, default: "1000", doc: Always this.}
    response: {kind: strings}
"""


def test_joined_chunked_flagged_and_internal_parameters(tmp_path: Path) -> None:
    pkg = package(tmp_path, LISTS)
    seen, transport = recorder(httpx.Response(200, json=["a"]), httpx.Response(200, json=["b"]))
    with pkg.Client(transport=transport) as client:
        result = client.send(joined=["1", "2"], many=["a", "b", "c"], yes_flag=True)
        client.send(yes_flag=False)
        with pytest.raises(ValueError, match="cannot hold a comma"):
            client.send(joined=["1,2"])
    assert result == ["a", "b"]  # two requests, rows joined in order
    assert [form(r) for r in seen] == [
        [("joined", "1,2"), ("many", "a"), ("many", "b"), ("Yes", "Yes"), ("fixed", "1000")],
        [("joined", "1,2"), ("many", "c"), ("Yes", "Yes"), ("fixed", "1000")],
        [("fixed", "1000")],  # False is left out
    ]


def test_servers_the_environment_and_data_that_lives_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = HEAD.replace(
        "doc: Holds the OLD collection only.}",
        "doc: Holds the OLD collection only., exclusive: {Collection: [OLD]}}",
    )
    pkg = package(
        tmp_path,
        """\
        endpoints:
          find:
            resource: r
            doc: Find.
            params: [{wire: Collection, type: str, doc: A collection.}]
            response: {kind: strings}
        """,
        head,
    )
    assert pkg.Client().base_url == "https://main.example.org/api"
    assert pkg.Client(server="archive").base_url == "https://archive.example.org/api"
    monkeypatch.setenv("FEATURES_BASE_URL", "http://127.0.0.1:9/api")
    assert pkg.Client().base_url == "http://127.0.0.1:9/api"  # the environment overrides the default
    assert pkg.Client(base_url="http://x.example.org").base_url == "http://x.example.org"
    monkeypatch.delenv("FEATURES_BASE_URL")
    with pytest.raises(ValueError, match="base_url or server"):
        pkg.Client(server="archive", base_url="http://x.example.org")
    with pytest.raises(ValueError, match="unknown server 'nowhere'"):
        pkg.Client(server="nowhere")
    seen, transport = recorder(httpx.Response(200, json=[]))
    with pkg.Client(transport=transport) as client, pytest.raises(WrongServerError) as info:
        client.find(collection="old")
    assert info.value.server == "archive"
    assert 'server="archive"' in str(info.value)
    assert seen == []  # refused before any request
    with pkg.Client(server="archive", transport=transport) as client:
        assert client.find(collection="OLD") == []
    with pkg.Client(base_url="http://mirror.example.org/api", transport=transport) as client:
        assert client.find(collection="OLD") == []  # a mirror: no guessing


LOGIN = HEAD.replace(
    "  auth: {kind: none}",
    """  auth:
    kind: oauth2_password
    optional: true
    token_url: ../oauth/token
    client_id: nbia
    username_env: FEATURES_USER
    password_env: FEATURES_PASSWORD""",
) + textwrap.dedent(
    """\
    endpoints:
      names:
        resource: r
        doc: Names.
        response: {kind: strings}
    """
)


def test_optional_login_is_anonymous_by_default_and_fetches_refreshes_renews_with_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = generate_and_import(LOGIN, tmp_path)
    grants: list[dict[str, str]] = []
    refused = {"first": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            grant = dict(form(request))
            grants.append(grant)
            token = f"t{len(grants)}"
            return httpx.Response(
                200, json={"access_token": token, "expires_in": 30, "refresh_token": f"r{len(grants)}"}
            )
        if (
            "authorization" in request.headers
            and request.headers["authorization"] == "Bearer t2"
            and refused["first"]
        ):
            refused["first"] = False
            return httpx.Response(401)
        return httpx.Response(200, json=[request.headers.get("authorization", "anonymous")])

    transport = httpx.MockTransport(handler)
    monkeypatch.delenv("FEATURES_USER", raising=False)
    with pkg.Client(transport=transport) as client:
        assert client.names() == ["anonymous"]  # no login: no token, no header
    assert grants == []
    monkeypatch.setenv("FEATURES_USER", "alice")
    monkeypatch.setenv("FEATURES_PASSWORD", "s3cret\n")  # a trailing newline, as files leave it
    with pkg.Client(transport=transport) as client:
        assert client.names() == ["Bearer t1"]
        # t1 expires within the refresh margin (60 s): the next call refreshes it first.
        assert client.names() == ["Bearer t3"]  # t2 was refused once (401): renewed, then used
    assert grants[0] == {
        "grant_type": "password",
        "username": "alice",
        "password": "s3cret",
        "client_id": "nbia",
    }
    # Before expiry and after the 401, the refresh grant renews the token; the password went once.
    assert [g["grant_type"] for g in grants] == ["password", "refresh_token", "refresh_token"]
    assert json.dumps(grants).count("s3cret") == 1
