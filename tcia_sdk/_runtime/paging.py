"""Paged searches: iterate every result, one request per page, sync and async.

A spec's ``page`` response names the field of the page model that lists the results and the one
holding their total; its endpoint has a ``paging: start`` parameter (set here) and a
``paging: size`` one (the caller's ``page_size``, else the spec's). Iterating a pager fetches page
after page until the total is reached; it never asks beyond it (NBIA answers a start past the end
with a 500), and an empty page ends it too.

    for patient in tcia.get_simple_search(collection="TCGA-GBM", modality="MR"):
        ...
    summary = tcia.get_simple_search(collection="TCGA-GBM").first_page()  # facets, total
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .endpoint import Endpoint

if TYPE_CHECKING:
    from .client import AsyncAPIClient, SyncAPIClient

I = TypeVar("I")  # noqa: E741 - one result
P = TypeVar("P")  # one page


class _Paging:
    """What both pagers share: where the items and the total live, and which page comes next."""

    def __init__(self, endpoint: Endpoint, args: Mapping[str, object], options: Mapping[str, Any]) -> None:
        model = endpoint.model
        assert model is not None
        assert endpoint.page_items is not None
        assert endpoint.page_total is not None
        by_wire = {f.wire: f.python for f in model.fields}
        self._items = by_wire[endpoint.page_items]
        self._total = by_wire[endpoint.page_total]
        self._start = next(p.wire for p in endpoint.params if p.paging == "start")
        size = next(p for p in endpoint.params if p.paging == "size")
        self._size_wire = size.wire
        self.page_size = int(args.get(size.wire) or endpoint.page_size or 100)  # type: ignore[call-overload]
        if self.page_size < 1:
            raise ValueError(f"{endpoint.python_name}(): page_size must be >= 1, got {self.page_size}")
        self.endpoint = endpoint
        self._args = dict(args)
        self._options = dict(options)
        self.total: int | None = None  # known once the first page has arrived

    def _args_at(self, start: int) -> dict[str, object]:
        return {**self._args, self._start: start, self._size_wire: self.page_size}

    def _items_of(self, page: Any) -> list[Any]:
        return list(getattr(page, self._items) or ())

    def _after(self, page: Any, start: int) -> int | None:
        """The start of the next page, or None when this one was the last."""
        total = getattr(page, self._total)
        self.total = total if isinstance(total, int) else self.total
        count = len(self._items_of(page))
        following = start + count
        if count == 0 or (self.total is not None and following >= self.total):
            return None
        return following


class Pager(_Paging, Generic[I, P]):
    """Every result of a paged search (iterate it), its pages (`pages`), or the first (`first_page`)."""

    def __init__(
        self,
        client: SyncAPIClient,
        endpoint: Endpoint,
        args: Mapping[str, object],
        options: Mapping[str, Any],
    ) -> None:
        super().__init__(endpoint, args, options)
        self._client = client

    def first_page(self) -> P:
        page: P = self._client._call(self.endpoint, self._args_at(0), **self._options).parse()
        self._after(page, 0)
        return page

    def pages(self) -> Iterator[P]:
        start: int | None = 0
        while start is not None:
            page: P = self._client._call(self.endpoint, self._args_at(start), **self._options).parse()
            following = self._after(page, start)
            yield page
            start = following

    def __iter__(self) -> Iterator[I]:
        for page in self.pages():
            yield from self._items_of(page)


class AsyncPager(_Paging, Generic[I, P]):
    """The async twin of `Pager`: ``async for`` over the results, `pages`, ``await first_page()``."""

    def __init__(
        self,
        client: AsyncAPIClient,
        endpoint: Endpoint,
        args: Mapping[str, object],
        options: Mapping[str, Any],
    ) -> None:
        super().__init__(endpoint, args, options)
        self._client = client

    async def first_page(self) -> P:
        raw = await self._client._call(self.endpoint, self._args_at(0), **self._options)
        page: P = raw.parse()
        self._after(page, 0)
        return page

    async def pages(self) -> AsyncIterator[P]:
        start: int | None = 0
        while start is not None:
            raw = await self._client._call(self.endpoint, self._args_at(start), **self._options)
            page: P = raw.parse()
            following = self._after(page, start)
            yield page
            start = following

    async def __aiter__(self) -> AsyncIterator[I]:
        async for page in self.pages():
            for item in self._items_of(page):
                yield item
