"""A circuit breaker per venue: stop calling a venue that keeps failing, probe it after a cool-down.

Closed: calls go through; `failure_threshold` consecutive failures open it. Open: every call fails
at once with a `VenueError` of kind `venue_unavailable` (nothing is sent) until `cool_down_s` has
passed. Half-open: one call goes through as a probe; its success closes the breaker, its failure
opens it for another cool-down. Calls made while the probe is out fail fast like an open breaker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from bot.venues.base import VenueError

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures of one venue and fails fast while it is open."""

    def __init__(
        self,
        venue: str,
        *,
        failure_threshold: int = 5,
        cool_down_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cool_down_s < 0:
            raise ValueError("failure_threshold must be >= 1 and cool_down_s >= 0")
        self.venue = venue
        self.failure_threshold = failure_threshold
        self.cool_down_s = cool_down_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """closed, open, or half_open (the cool-down has passed: the next call is a probe)."""
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at < self.cool_down_s:
            return "open"
        return "half_open"

    def before_call(self) -> None:
        """Let a call through, or raise `VenueError(kind="venue_unavailable")` while open."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open":
            self._probing = True  # this call is the probe; others wait for its outcome
            return
        assert self._opened_at is not None
        left = max(self.cool_down_s - (self._clock() - self._opened_at), 0.0)
        raise VenueError(
            f"{self.venue} is unavailable: {self._failures} consecutive failures opened its circuit "
            f"breaker; the next probe is allowed in {left:.1f} s",
            kind="venue_unavailable",
        )

    def record_success(self) -> None:
        """The venue answered: close the breaker and forget past failures."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """The venue failed: count it; open (or re-open after a failed probe) at the threshold."""
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False

    def abandon_probe(self) -> None:
        """A call ended without an answer either way (cancelled): let the next call probe instead."""
        self._probing = False

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.venue!r}, state={self.state}, failures={self._failures})"
