"""tcia_sdk: a typed sync/async SDK for The Cancer Imaging Archive, generated from YAML specs.

API versions live in subpackages (``tcia_sdk.v3``, ...), each with ``Client`` and ``AsyncClient``.
Importing ``tcia_sdk`` is cheap: it loads the errors only; the runtime (httpx) and a version's models
load when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DestinationLockedError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    TCIAError,
    WrongServerError,
)

if TYPE_CHECKING:
    from ._runtime import (
        AsyncPager,
        Download,
        Hooks,
        Limits,
        OddValue,
        Pager,
        RawResponse,
        RequestEvent,
        ResponseEvent,
        RetryPolicy,
        odd_values,
    )
    from .dataframes import to_dataframe
    from .download import (
        DownloadReport,
        Estimate,
        Progress,
        SeriesResult,
        adownload_series,
        aestimate_download,
        download_series,
        estimate_download,
        read_manifest,
        write_manifest,
    )

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DestinationLockedError",
    "Download",
    "DownloadError",
    "DownloadReport",
    "Estimate",
    "Hooks",
    "Limits",
    "NotFoundError",
    "OddValue",
    "Pager",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RawResponse",
    "RedirectError",
    "RequestEvent",
    "ResponseDecodeError",
    "ResponseEvent",
    "ResponseTooLargeError",
    "RetryPolicy",
    "SeriesResult",
    "ServerError",
    "TCIAError",
    "WrongServerError",
    "__version__",
    "adownload_series",
    "aestimate_download",
    "download_series",
    "estimate_download",
    "odd_values",
    "read_manifest",
    "to_dataframe",
    "write_manifest",
]

_LAZY = {
    "AsyncPager": "._runtime",
    "Limits": "._runtime",
    "OddValue": "._runtime",
    "Pager": "._runtime",
    "odd_values": "._runtime",
    "Download": "._runtime",
    "Hooks": "._runtime",
    "RawResponse": "._runtime",
    "RequestEvent": "._runtime",
    "ResponseEvent": "._runtime",
    "RetryPolicy": "._runtime",
    **dict.fromkeys(
        [
            "DownloadReport",
            "Estimate",
            "Progress",
            "SeriesResult",
            "adownload_series",
            "aestimate_download",
            "download_series",
            "estimate_download",
            "read_manifest",
            "write_manifest",
        ],
        ".download",
    ),
    "to_dataframe": ".dataframes",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tcia_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
