"""Table-driven wire checks shared by the NBIA version tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx


@dataclass
class Case:
    method: str
    kwargs: dict[str, Any]
    path: str  # after the version's base path
    wire: list[tuple[str, str]]  # query pairs (GET) or form pairs (POST), in order
    body: Any = None  # JSON body to answer, or bytes/str for non-JSON
    http_method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)


def call(
    client_cls: Any, base: str, case: Case, mode: str, **client_kwargs: Any
) -> tuple[Any, httpx.Request]:
    """Run one case against respx, sync or async; return the result and the request sent."""
    if isinstance(case.body, bytes | str):
        response = httpx.Response(
            200,
            content=case.body if isinstance(case.body, bytes) else case.body.encode(),
            headers=case.headers,
        )
    else:
        response = httpx.Response(200, json=case.body if case.body is not None else [], headers=case.headers)
    with respx.mock(assert_all_called=True) as router:
        route = router.route(method=case.http_method, path=f"{httpx.URL(base).path}/{case.path}").mock(
            return_value=response
        )
        if mode == "sync":
            with client_cls(base_url=base, **client_kwargs) as client:
                result = getattr(client, case.method)(**case.kwargs)
        else:

            async def run() -> Any:
                async with client_cls(base_url=base, **client_kwargs) as client:
                    return await getattr(client, case.method)(**case.kwargs)

            result = asyncio.run(run())
    return result, route.calls.last.request


def sent_pairs(request: httpx.Request) -> list[tuple[str, str]]:
    if request.method == "POST":
        return httpx.QueryParams(request.content.decode()).multi_items()
    return request.url.params.multi_items()
