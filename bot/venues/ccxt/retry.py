"""How reads are retried (tenacity): exponential backoff with jitter, `Retry-After` honoured.

Only reads go through this: books, markets, an order's status, a cancel (cancelling twice is
harmless). `create_order` is never retried here; an unknown outcome is resolved by looking the
order up by its client id.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from bot.venues.base import VenueError
from bot.venues.ccxt.errors import RETRYABLE_KINDS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts of one read, and the waits between them (seconds)."""

    attempts: int = 3
    initial_s: float = 0.2
    max_s: float = 2.0
    # A rate limit asking for longer than this is not waited out inside a call: the error goes
    # up (with `retry_after`) and the venue refuses calls locally until the time has passed.
    max_retry_after_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial_s < 0 or self.max_s < self.initial_s:
            raise ValueError("attempts must be >= 1 and 0 <= initial_s <= max_s")

    def pause(self, failures: int) -> float:
        """The wait after `failures` consecutive failures of a loop (the book stream): backoff + jitter."""
        backoff: float = min(self.initial_s * 2 ** max(failures - 1, 0), self.max_s)
        return backoff + random.uniform(0, self.initial_s)

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, VenueError) or exc.kind not in RETRYABLE_KINDS:
            return False
        return exc.retry_after is None or exc.retry_after <= self.max_retry_after_s

    def _wait(self) -> Callable[[RetryCallState], float]:
        backoff = wait_exponential_jitter(multiplier=self.initial_s, max=self.max_s, jitter=self.initial_s)

        def wait(state: RetryCallState) -> float:
            waited = backoff(state)
            exc = state.outcome.exception() if state.outcome is not None else None
            retry_after = getattr(exc, "retry_after", None)
            return max(waited, retry_after) if retry_after is not None else waited

        return wait

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` until it succeeds, fails for good, or the attempts run out (the last error raised)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait(),
            retry=retry_if_exception(self._should_retry),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
