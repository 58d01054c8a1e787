"""Every error the SDK raises.

No call returns ``None`` for a failure: it returns a value of its declared type or raises one of these.
Each error names the endpoint and the request (method and URL, with secrets removed)::

    TCIAError
    ├── APIConnectionError        the request did not get a complete response
    │   └── APITimeoutError       ... because a timeout, the attempt's deadline or the minimum
    │                             transfer rate was not met
    ├── APIStatusError            the server answered 4xx/5xx (status, headers, body excerpt, message)
    │   ├── BadRequestError       400 (NBIA: also "not public / no access"; the sentence is kept)
    │   ├── AuthenticationError   401
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── RateLimitError        429
    │   ├── ServerError           5xx
    │   └── RedirectError         3xx to another host or scheme: not followed, credentials stay home
    ├── ResponseDecodeError       a 2xx body that is not what the spec says (HTML for JSON, wrong types, ...)
    │   └── ResponseTooLargeError ... larger than the client's max_body_size once decompressed
    ├── DownloadError             a download that could not be verified or safely written
    │   └── DestinationLockedError  another run holds the destination's lock
    └── ConfigurationError        the client or a call was set up wrongly (also a ValueError)
        └── WrongServerError      the data asked for lives on another of the API's servers (NLST)

Every failure of a call is one of these, with the original exception chained as ``__cause__``.
``retries_taken`` on every request error says how many retries ran before it was raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DestinationLockedError",
    "DownloadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "TCIAError",
    "WrongServerError",
]


class TCIAError(Exception):
    """Base class of every error raised by tcia_sdk."""

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (a cluster worker's report): rebuild them from their
        # message and fields, since their keyword-only constructors cannot take ``args`` alone.
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def _rebuilt(cls: type[TCIAError], args: tuple[object, ...], state: dict[str, object]) -> TCIAError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(TCIAError, ValueError):
    """The client or a call was configured in a way that cannot work (before any request).

    It is also a ValueError, so code that validates arguments the usual way catches it.
    """


class WrongServerError(ConfigurationError):
    """The call names data that only another server of the API holds (NLST lives on its own host).

    ``server`` is the name of the server to use (``Client(server=...)``), ``url`` its base URL.
    """

    def __init__(self, message: str, *, server: str, url: str) -> None:
        super().__init__(message)
        self.server = server
        self.url = url


class _RequestError(TCIAError):
    """Shared fields of errors tied to one endpoint call."""

    endpoint: str
    method: str
    url: str
    retries_taken: int

    def __init__(self, message: str, *, endpoint: str, method: str, url: str, retries_taken: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.method = method
        self.url = url
        self.retries_taken = retries_taken

    def __str__(self) -> str:
        retries = f" after {self.retries_taken} retries" if self.retries_taken else ""
        return f"{self.endpoint}: {self.message} ({self.method} {self.url}{retries})"


class APIConnectionError(_RequestError):
    """The request failed before a complete response arrived (DNS, refused, reset, truncated body)."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired."""


class APIStatusError(_RequestError):
    """The server answered with a 4xx or 5xx status.

    ``server_message`` is the server's own sentence (NBIA's plain text, v3's ``errorMessage``), and
    ``body_excerpt`` a bounded prefix of the body, so huge HTML error pages never end up in logs whole.
    """

    status_code: int
    headers: httpx.Headers
    body_excerpt: str
    server_message: str

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        method: str,
        url: str,
        status_code: int,
        headers: httpx.Headers,
        body_excerpt: str,
        server_message: str,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(message, endpoint=endpoint, method=method, url=url, retries_taken=retries_taken)
        self.status_code = status_code
        self.headers = headers
        self.body_excerpt = body_excerpt
        self.server_message = server_message


class BadRequestError(APIStatusError):
    """400. NBIA also uses it for "series not public / no access" and unknown parameters."""


class AuthenticationError(APIStatusError):
    """401: missing, wrong or expired credentials."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404: unknown endpoint or resource."""


class RateLimitError(APIStatusError):
    """429: the server asks the client to slow down (``Retry-After`` is honoured by the retries)."""


class ServerError(APIStatusError):
    """5xx: the server failed (NBIA answers uncaught exceptions with 500 text/plain)."""


class RedirectError(APIStatusError):
    """A redirect to another host or scheme, which the SDK does not follow.

    Credentials (api key, tokens, passwords) must never leave the configured host, so only
    redirects within it are followed. ``location`` is where the server pointed (secrets removed).
    """

    location: str


class ResponseDecodeError(_RequestError):
    """A successful status with a body that contradicts the spec.

    ``field`` and ``value`` name the offending field and value when the body parsed but a row did not
    match its model; ``row`` is that row's index in the list.
    """

    status_code: int
    content_type: str
    body_excerpt: str
    field: str | None
    value: object
    row: int | None

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        method: str,
        url: str,
        status_code: int,
        content_type: str,
        body_excerpt: str,
        field: str | None = None,
        value: object = None,
        row: int | None = None,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(message, endpoint=endpoint, method=method, url=url, retries_taken=retries_taken)
        self.status_code = status_code
        self.content_type = content_type
        self.body_excerpt = body_excerpt
        self.field = field
        self.value = value
        self.row = row


class ResponseTooLargeError(ResponseDecodeError):
    """The decoded body grew past the client's ``max_body_size`` (a runaway or hostile answer).

    The body is read no further than that, so memory stays bounded (a gzip bomb included).
    """


class DownloadError(TCIAError):
    """A download failed verification (CRC, count, size, MD5) or could not be written safely."""

    def __init__(self, message: str, *, series_instance_uid: str | None = None) -> None:
        super().__init__(message)
        self.series_instance_uid = series_instance_uid


class DestinationLockedError(DownloadError):
    """Another download run holds the destination's lock (``wait=True`` waits for it instead)."""
