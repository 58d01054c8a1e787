"""What a raw call returns, and how an error body's own sentence is found."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx

from .decode import EXCERPT_LIMIT, OddValue

T = TypeVar("T")


class RawResponse(Generic[T]):
    """An endpoint's HTTP response with its retry count; `parse` gives the typed value."""

    def __init__(
        self,
        endpoint: str,
        http_response: httpx.Response,
        retries_taken: int,
        parser: Callable[[], T],
        decode: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.http_response = http_response
        # Every HTTP response of the call: more than one when a long list was sent in chunks.
        self.http_responses = [http_response]
        self.retries_taken = retries_taken
        self._parser = parser
        self._parsed: list[T] = []
        self._decode = decode  # the DecodeContext, which collects the odd values found
        self._chunks: list[RawResponse[Any]] = []

    @property
    def odd_values(self) -> list[OddValue]:
        """Values the spec's types could not hold, found while parsing (empty before `parse`).

        Outside strict mode each one is kept as received in its row's ``additional_properties``
        and its attribute is None; see `tcia_sdk.odd_values`.
        """
        found: list[OddValue] = []
        for raw in self._chunks or [self]:
            if raw._decode is not None:
                found.extend(raw._decode.odd)
        return found

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def url(self) -> httpx.URL:
        return self.http_response.url

    def parse(self) -> T:
        """The decoded value, as the non-raw method returns it (decoded once, then cached)."""
        if not self._parsed:
            self._parsed.append(self._parser())
        return self._parsed[0]

    def __repr__(self) -> str:
        return f"<RawResponse {self.endpoint} [{self.status_code}] retries_taken={self.retries_taken}>"


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def server_message(content: bytes, content_type: str) -> str:
    """The server's own sentence from an error body (v3 ``errorMessage``, NBIA plain text, HTML)."""
    text = content[: EXCERPT_LIMIT * 8].decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            obj = json.loads(content)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for key in ("errorMessage", "message", "error", "detail"):
                if isinstance(obj.get(key), str):
                    return str(obj[key])[:EXCERPT_LIMIT]
    if "html" in content_type or text.startswith("<"):
        text = _TAGS.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:EXCERPT_LIMIT]
