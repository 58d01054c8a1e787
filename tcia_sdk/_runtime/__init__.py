"""The hand-written runtime shared by every generated API version. It knows no endpoint names.

Generated packages import only what is re-exported here, so this list is the seam between the
generator's output and hand-written code.
"""

from .auth import ApiKeyAuth, Auth, OAuth2PasswordAuth, make_auth
from .binary import Download
from .client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncAPIClient,
    Destination,
    SyncAPIClient,
    TimeoutTypes,
    resolve_base_url,
)
from .convert import make_converter
from .decode import Rows
from .endpoint import ApiInfo, AuthInfo, DownloadInfo, Endpoint, Field, ModelInfo, Param, ServerInfo
from .hooks import Hooks, RequestEvent, ResponseEvent
from .limits import Limits
from .paging import AsyncPager, Pager
from .response import RawResponse
from .retry import RetryPolicy
from .structure import EMPTY_EXTRAS, OddValue, odd_values, unstructure
from .wire import (
    BOOLISH,
    TEXT_FLOAT,
    TEXT_INT,
    Fallback,
    FastDecoder,
    date_memo,
    split_memo,
    text_unsupported,
)

__all__ = [
    "ApiInfo",
    "ApiKeyAuth",
    "AsyncAPIClient",
    "AsyncPager",
    "Auth",
    "AuthInfo",
    "BOOLISH",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Destination",
    "Download",
    "DownloadInfo",
    "EMPTY_EXTRAS",
    "Endpoint",
    "Fallback",
    "FastDecoder",
    "Field",
    "Hooks",
    "Limits",
    "ModelInfo",
    "OAuth2PasswordAuth",
    "OddValue",
    "Pager",
    "Param",
    "RawResponse",
    "RequestEvent",
    "ResponseEvent",
    "RetryPolicy",
    "Rows",
    "ServerInfo",
    "SyncAPIClient",
    "TEXT_FLOAT",
    "TEXT_INT",
    "TimeoutTypes",
    "date_memo",
    "make_auth",
    "make_converter",
    "odd_values",
    "resolve_base_url",
    "split_memo",
    "text_unsupported",
    "unstructure",
]
