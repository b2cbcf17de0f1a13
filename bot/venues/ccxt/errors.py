"""ccxt's exceptions as our `VenueError` kinds, and what a failed order call leaves unknown.

ccxt raises one class for causes we must tell apart: `ExchangeNotAvailable` is a refused
connection, an HTTP 5xx, an unmapped 4xx and an exchange's own "under maintenance" alike. The
exchange class is built with a hook (`exchange.py`) that tags each HTTP error with its status,
the `Retry-After` header and the exchange's own error code and message; the mapping here reads
those tags and the exception's cause, and falls back to the class alone.

Messages are safe to log: the exception class, the HTTP status and the exchange's error code and
message, never ccxt's own text (it carries the request URL and the whole response body).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import ccxt

from bot.venues.base import VenueError, VenueErrorKind

# Kinds of a read worth another try (tenacity): the venue may answer next time.
RETRYABLE_KINDS: frozenset[str] = frozenset({"timeout", "unreachable", "server_error", "rate_limited"})
# Kinds that leave an order call's outcome unknown: it may have reached the matching engine.
# Binance says so of a 5xx ("execution status unknown") and of its -1007 backend timeout.
OUTCOME_UNKNOWN_KINDS: frozenset[str] = frozenset({"timeout", "unreachable", "server_error", "malformed"})
_VENUE_MESSAGE_MAX = 200  # characters of the exchange's own error message kept in ours
_SERVICE_UNAVAILABLE = 503  # the exchange says it is down (maintenance): venue_unavailable


def annotate_http_error(exc: BaseException, status: int, headers: Any, response: Any) -> None:
    """Tag a ccxt exception with the HTTP status, `Retry-After` and the exchange's code/message."""
    exc.http_status = status  # type: ignore[attr-defined]
    exc.retry_after = retry_after_seconds(headers)  # type: ignore[attr-defined]
    if isinstance(response, dict):
        code, message = response.get("code"), response.get("msg")
        exc.venue_code = str(code) if code is not None else None  # type: ignore[attr-defined]
        exc.venue_message = str(message)[:_VENUE_MESSAGE_MAX] if message is not None else None  # type: ignore[attr-defined]


def retry_after_seconds(headers: Any) -> float | None:
    """The `Retry-After` header in seconds (a number or an HTTP date), or None."""
    if not isinstance(headers, dict):
        return None
    value = next((str(v) for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cause: BaseException | None = exc.__cause__ or exc.__context__
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def request_never_sent(exc: BaseException | None) -> bool:
    """True when the connection failed before the request went out (refused, no DNS name)."""
    if exc is None:
        return False
    return any(isinstance(c, aiohttp.ClientConnectorError | socket.gaierror) for c in _causes(exc))


def _connection_failed(exc: BaseException) -> bool:
    """Refused, reset or dropped: a transport error under ccxt's exception."""
    return any(isinstance(c, aiohttp.ClientConnectionError | OSError) for c in _causes(exc))


def error_kind(exc: BaseException) -> VenueErrorKind:
    """Our kind of a ccxt exception (or of an exception ccxt let through while parsing an answer)."""
    status = getattr(exc, "http_status", None)
    if isinstance(exc, ccxt.RequestTimeout):
        return "timeout"
    if isinstance(exc, ccxt.DDoSProtection):  # RateLimitExceeded is one; binance's 418 and 429 raise it
        return "rate_limited"
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        if status is None and _connection_failed(exc):
            return "unreachable"
        if status is None or status == _SERVICE_UNAVAILABLE:
            return "venue_unavailable"
        return _http_kind(status)
    if isinstance(exc, ccxt.ChecksumError):  # a streamed book out of sync: ccxt.pro resubscribes
        return "malformed"
    if isinstance(exc, ccxt.InvalidNonce):  # our clock is off the exchange's: a refused request
        return "rejected"
    if isinstance(exc, ccxt.NetworkError):
        return "unreachable"
    if isinstance(exc, ccxt.BadResponse):
        return "malformed"
    if isinstance(exc, ccxt.AuthenticationError):  # PermissionDenied, AccountSuspended too
        return "unauthorized"
    if isinstance(exc, ccxt.OrderNotFound | ccxt.BadSymbol):
        return "not_found"
    if isinstance(exc, ccxt.InsufficientFunds | ccxt.InvalidOrder | ccxt.BadRequest | ccxt.OperationRejected):
        return "rejected"
    if isinstance(exc, ccxt.ExchangeError):
        return _http_kind(status) if status is not None else "rejected"
    if isinstance(exc, ccxt.OperationFailed):  # binance -1000/-1001: the exchange failed, not us
        return "server_error"
    if isinstance(exc, ccxt.BaseError):
        return "other"
    if isinstance(exc, ValueError | TypeError | KeyError | IndexError | AttributeError | ArithmeticError):
        return "malformed"  # ccxt (or we) could not read the answer: not JSON, fields missing
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError):
        return "unreachable"
    return "other"


def _http_kind(status: int) -> VenueErrorKind:
    if status in (401, 403, 407, 511):
        return "unauthorized"
    if status == 404:
        return "not_found"
    if status >= 500:
        return "server_error"
    return "rejected"


def venue_error(exc: BaseException, *, venue: str, action: str) -> VenueError:
    """A `VenueError` for `exc`, its message safe to log. Raise it `from exc` to keep the cause."""
    kind = error_kind(exc)
    details = [type(exc).__name__]
    status = getattr(exc, "http_status", None)
    if status is not None:
        details.append(f"HTTP {status}")
    code, message = getattr(exc, "venue_code", None), getattr(exc, "venue_message", None)
    if code is not None:
        details.append(f"code {code}")
    text = f"{venue} {action} failed ({kind}): {', '.join(details)}"
    if message:
        text += f": {message}"
    retry_after = getattr(exc, "retry_after", None) if kind == "rate_limited" else None
    if retry_after is not None:
        text += f" (retry after {retry_after:g} s)"
    return VenueError(text, kind=kind, retry_after=retry_after)


def is_duplicate_order(error: VenueError) -> bool:
    """The exchange refused a client order id it already holds (binance -2010 "Duplicate order sent.")."""
    cause = error.__cause__
    if isinstance(cause, ccxt.DuplicateOrderId):
        return True
    message = getattr(cause, "venue_message", None) or ""
    return "duplicate order" in message.lower()
