"""One venue's HTTP transport: timeouts, the read-retry policy, error kinds, 429, the breaker.

Reads (book, order status) are retried through tenacity with exponential backoff and jitter when
they fail for a reason that may pass (timeout, connection, 5xx, 429 within `max_retry_after_s`).
Writes (`POST /orders`, `DELETE`) are sent once: a write whose fate is unknown (the request may
have reached the venue: a read timeout, a dropped connection, a 5xx) raises `AmbiguousWrite`, so
the venue adapter can look the order up instead of sending it again. A `Retry-After` is honoured:
reads wait for it, writes made before it has passed fail at once with kind `rate_limited`.

Every attempt is reported to the observer (venue, endpoint, seconds, outcome) and to the
circuit breaker. Error messages carry the method, path, HTTP status and at most the first bytes
of the body, with every credential masked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.redaction import SecretMask
from bot.venues.base import LastCall, VenueError, VenueErrorKind, VenueObserver
from bot.venues.http.breaker import CircuitBreaker
from bot.venues.http.wire import decode_json

log = logging.getLogger("bot.venues")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

BODY_HEAD_CHARS = 80  # at most this much of a reply body reaches an error message
# Failures that say the venue (not our request) is in trouble: they count for the breaker and,
# on reads, are retried.
VENUE_TROUBLE: frozenset[str] = frozenset(
    {"timeout", "unreachable", "server_error", "rate_limited", "malformed"}
)
_RETRIED: frozenset[str] = frozenset({"timeout", "unreachable", "server_error", "rate_limited"})
# Exceptions after which a write may have reached the venue (the request went out, no answer came).
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, read retries, rate limiting and the breaker of one venue (seconds)."""

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 5.0
    read_attempts: int = 3  # a read is tried at most this often
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 2.0
    backoff_jitter_s: float = 0.2
    max_retry_after_s: float = 10.0  # a read waits out a longer Retry-After only by failing
    breaker_failures: int = 5  # consecutive failures that open the breaker
    breaker_cool_down_s: float = 30.0


@dataclass(frozen=True)
class Reply:
    """A venue's HTTP answer: its status and its JSON body (Decimals; None when not JSON)."""

    status: int
    body: Any


@dataclass(frozen=True)
class _Call:
    """One request as the transport sends it."""

    endpoint: str  # the metric label: orderbook, price, place, status, cancel, lookup
    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    allow: frozenset[int] = frozenset()  # non-2xx statuses handed to the parser, not raised
    write: bool = False


class AmbiguousWrite(VenueError):
    """A write whose fate is unknown: the venue may or may not have acted on it."""


def _kind_of_status(status: int) -> VenueErrorKind:
    if status in (401, 403):
        return "unauthorized"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    if status == 429:
        return "rate_limited"
    if 400 <= status < 500:
        return "rejected"
    return "server_error" if status >= 500 else "malformed"


def _kind_of_exception(exc: httpx.HTTPError) -> VenueErrorKind:
    return "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A `Retry-After` header in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


class RestTransport:
    """HTTP to one venue: the adapter says what to send and how to read the answer."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        secrets: Iterable[str] = (),
        policy: HttpPolicy | None = None,
        observer: VenueObserver | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.venue = venue
        self.policy = policy or HttpPolicy()
        self._mask = SecretMask(secrets)
        self._observer = observer
        self._clock = clock
        self._sleep = sleep
        self._quiet_until = 0.0  # the venue's Retry-After, on our clock
        self.last = LastCall()  # what `health()` reports
        self.breaker = CircuitBreaker(
            venue,
            failure_threshold=self.policy.breaker_failures,
            cool_down_s=self.policy.breaker_cool_down_s,
            clock=clock,
        )
        self._backoff = wait_exponential_jitter(
            multiplier=self.policy.backoff_initial_s,
            max=self.policy.backoff_max_s,
            jitter=self.policy.backoff_jitter_s,
        )
        timeout = httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Accept": "application/json", "User-Agent": "flash-green", **headers},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    async def read(
        self,
        endpoint: str,
        path: str,
        parse: Callable[[Reply], T],
        *,
        params: Mapping[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
        attempts: int | None = None,
    ) -> T:
        """GET `path` and `parse` the reply, retrying what may pass (at most `attempts` tries)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts or self.policy.read_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._worth_retrying),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(_Call(endpoint, "GET", path, params=params, allow=allow), parse)
        raise AssertionError("unreachable: tenacity re-raises the last failure")  # pragma: no cover

    async def write(
        self,
        endpoint: str,
        method: str,
        path: str,
        parse: Callable[[Reply], T],
        *,
        body: Mapping[str, Any] | None = None,
        allow: frozenset[int] = frozenset(),
    ) -> T:
        """Send a write once; `AmbiguousWrite` when the venue may have acted on it without saying so."""
        return await self._attempt(_Call(endpoint, method, path, body=body, allow=allow, write=True), parse)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def masked(self, text: str) -> str:
        """`text` cut to the first bytes an error may show, every credential masked."""
        return self._mask(text[:BODY_HEAD_CHARS])

    # -- one attempt -----------------------------------------------------------------------------

    async def _attempt(self, call: _Call, parse: Callable[[Reply], T]) -> T:
        try:
            self._check_quiet(call)
            self.breaker.before_call()
        except VenueError as exc:
            self._observe(call.endpoint, 0.0, exc.kind)
            raise
        started = time.perf_counter()
        try:
            result = await self._exchange(call, parse)
        except VenueError as exc:
            self._settle(call.endpoint, started, exc.kind)
            raise
        except BaseException:  # cancelled: neither a success nor a failure of the venue
            self.breaker.abandon_probe()
            raise
        self._settle(call.endpoint, started, "ok")
        return result

    async def _exchange(self, call: _Call, parse: Callable[[Reply], T]) -> T:
        where = f"{self.venue} {call.method} {call.path}"
        try:
            response = await self._client.request(call.method, call.path, params=call.params, json=call.body)
        except httpx.HTTPError as exc:
            kind = _kind_of_exception(exc)
            what = "no answer in time" if kind == "timeout" else "connection failed"
            message = f"{where}: {what} ({type(exc).__name__})"
            if call.write and isinstance(exc, _MAYBE_SENT):
                raise AmbiguousWrite(message, kind=kind) from None
            raise VenueError(message, kind=kind) from None
        status, text = response.status_code, response.text
        reply = Reply(status, self._decode(text))
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            self._quiet_until = self._clock() + (wait or 0.0)
            raise VenueError(
                f"{where}: HTTP 429 (rate limited; retry after {wait} s)",
                kind="rate_limited",
                retry_after=wait,
            )
        ok = 200 <= status < 300
        if not ok and status not in call.allow:
            head = self.masked(text).replace("\n", " ")
            shown = f"; body starts: {head!r}" if head else ""
            kind = _kind_of_status(status)
            if call.write and status >= 500:
                raise AmbiguousWrite(f"{where}: HTTP {status}{shown}", kind=kind)
            raise VenueError(f"{where}: HTTP {status}{shown}", kind=kind)
        if ok and reply.body is None:
            raise VenueError(f"{where}: HTTP {status} with a body that is not JSON", kind="malformed")
        return parse(reply)

    def _check_quiet(self, call: _Call) -> None:
        """Before a venue's Retry-After has passed, send nothing (a read waits it out and retries)."""
        remaining = self._quiet_until - self._clock()
        if remaining <= 0:
            return
        message = (
            f"{self.venue} {call.method} {call.path}: not sent, Retry-After has {remaining:.1f} s to run"
        )
        raise VenueError(message, kind="rate_limited", retry_after=remaining)

    @staticmethod
    def _decode(text: str) -> Any:
        try:
            return decode_json(text) if text else None
        except ValueError:
            return None

    def _settle(self, endpoint: str, started: float, outcome: str) -> None:
        if outcome in VENUE_TROUBLE:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        self._observe(endpoint, time.perf_counter() - started, outcome)

    def _observe(self, endpoint: str, seconds: float, outcome: str) -> None:
        self.last.note(seconds, outcome)
        if self._observer is None:
            return
        try:
            self._observer(self.venue, endpoint, seconds, outcome)
        except Exception:  # a metrics hook must never break trading
            log.exception("venue observer failed for %s %s", self.venue, endpoint)

    # -- the read-retry policy -------------------------------------------------------------------

    def _worth_retrying(self, exc: BaseException) -> bool:
        if not isinstance(exc, VenueError) or exc.kind not in _RETRIED:
            return False
        return exc.retry_after is None or exc.retry_after <= self.policy.max_retry_after_s

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the venue's Retry-After when that is longer."""
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, VenueError) and exc.retry_after else 0.0
        return max(self._backoff(state), asked)
