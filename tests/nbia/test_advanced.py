"""NBIA Advanced (shared carts): every endpoint, sync and async, wire-exact, as the guest."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tcia_sdk.nbia_advanced import ENDPOINTS, AsyncClient, Client, SharedList

from .cases import Case, call, sent_pairs

BASE = "https://nbia.cancerimagingarchive.net/nbia-api/services"
UIDS = ["1.3.6.1.4.1.14519.5.2.1.1", "1.3.6.1.4.1.14519.5.2.1.2"]
CART = {
    "name": "nbia-49121659384603347",
    "comment": "two series",
    "hyperlink": "",
    "date": 1727098200000,
    "id": 5000,
    "userName": "nbia_guest",
    "seriesInstanceUIDs": UIDS,
    "seriesInstanceUidsList": None,
    "usageCount": None,
    "dateString": "2024-09-23",
}
TEXT = {"Content-Type": "text/plain"}


def cases() -> list[Case]:
    return [
        Case(
            "create_shared_list",
            {"series_instance_uids": UIDS, "name": "my-cart", "description": "two series", "url": "u"},
            "createSharedList",
            # One form value per UID (CreateSharedList reads a repeated @FormParam list).
            [
                ("list", UIDS[0]),
                ("list", UIDS[1]),
                ("name", "my-cart"),
                ("description", "two series"),
                ("url", "u"),
            ],
            "List created",
            http_method="POST",
            headers=TEXT,
        ),
        Case(
            "get_shared_list",
            {"name": "nbia-49121659384603347"},
            "getSharedList",
            [("nameValue", "nbia-49121659384603347")],
            CART,
            http_method="POST",
        ),
        Case(
            "delete_shared_list",
            {"name": "my-cart"},
            "deleteSharedList",
            [("name", "my-cart")],
            "List deleted",
            http_method="POST",
            headers=TEXT,
        ),
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_endpoint_wire_and_decoding(mode: str) -> None:
    table = cases()
    assert {c.method for c in table} == {e.python_name for e in ENDPOINTS}
    results: dict[str, Any] = {}
    for case in table:
        result, request = call(Client if mode == "sync" else AsyncClient, BASE, case, mode)
        assert request.method == "POST", case.method
        assert request.url.path == f"/nbia-api/services/{case.path}", case.method
        assert request.headers["content-type"] == "application/x-www-form-urlencoded", case.method
        assert sent_pairs(request) == case.wire, case.method
        assert request.url.query == b"", case.method  # form fields only: the server reads the body
        # Without a login the guest is spelled as the server needs it (no header at all is a 500).
        assert request.headers["authorization"] == "Bearer undefined", case.method
        results[case.method] = result
    assert results["create_shared_list"] == "List created"
    assert results["delete_shared_list"] == "List deleted"
    cart = results["get_shared_list"]
    assert isinstance(cart, SharedList)
    assert (cart.name, cart.user_name, cart.series_instance_uids) == (CART["name"], "nbia_guest", tuple(UIDS))
    assert cart.date_string == datetime.date(2024, 9, 23)
    assert cart.usage_count is None
