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
)
from .convert import make_converter
from .decode import EMPTY_EXTRAS, judge_signature, parse_date, parse_datetime, structure_slow, unstructure
from .endpoint import ApiInfo, AuthInfo, DownloadInfo, Endpoint, Field, ModelInfo, Param
from .hooks import Hooks, RequestEvent, ResponseEvent
from .response import RawResponse
from .retry import RetryPolicy

__all__ = [
    "ApiInfo",
    "ApiKeyAuth",
    "AsyncAPIClient",
    "Auth",
    "AuthInfo",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Destination",
    "Download",
    "DownloadInfo",
    "EMPTY_EXTRAS",
    "Endpoint",
    "Field",
    "Hooks",
    "ModelInfo",
    "OAuth2PasswordAuth",
    "Param",
    "RawResponse",
    "RequestEvent",
    "ResponseEvent",
    "RetryPolicy",
    "SyncAPIClient",
    "TimeoutTypes",
    "judge_signature",
    "make_auth",
    "make_converter",
    "parse_date",
    "parse_datetime",
    "structure_slow",
    "unstructure",
]
