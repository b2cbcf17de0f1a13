"""Rate limits: the control plane per caller, and failed authentications per client address.

Only failures are counted, and a locked-out address is refused only when it fails again: the
guard asks `locked_out` after a credential was found wrong, never before checking a valid one.

Backed by the `limits` package (in-memory moving window): exact counts over the last window, no
burst at a window boundary. The state lives in this process, which is right for one API per pod;
behind several replicas each replica limits on its own (see docs/security.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

DEFAULT_CONTROL_PLANE_LIMIT = "30/minute"
DEFAULT_AUTH_FAILURE_LIMIT = "20/minute"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int  # 0 when allowed


_ALLOWED = Verdict(True, 0)
_MAX_TRACKED = 10_000  # addresses with a recent failure, before the stale ones are dropped


class RateLimits:
    """Two moving-window limits sharing one in-memory store."""

    def __init__(
        self,
        *,
        control_plane: str = DEFAULT_CONTROL_PLANE_LIMIT,
        auth_failures: str = DEFAULT_AUTH_FAILURE_LIMIT,
    ) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._control: RateLimitItem = parse(control_plane)
        self._failures: RateLimitItem = parse(auth_failures)
        self._failure_window_s = self._failures.get_expiry()
        self._last_failure: dict[str, float] = {}

    def control_call(self, principal: str) -> Verdict:
        """Count one control-plane call by `principal`; refused once the window is full."""
        if self._limiter.hit(self._control, "control", principal):
            return _ALLOWED
        return Verdict(False, self._retry_after(self._control, "control", principal))

    def locked_out(self, client: str) -> Verdict:
        """Whether `client` has failed authentication too often recently (does not count a hit).

        Asked only about a request whose credential was wrong: a valid credential is never locked out.
        """
        last = self._last_failure.get(client)
        if last is None or time.monotonic() - last > self._failure_window_s:
            return _ALLOWED  # no recent failure: nothing to look up (the path of every good call)
        if self._limiter.test(self._failures, "auth-failure", client):
            return _ALLOWED
        return Verdict(False, self._retry_after(self._failures, "auth-failure", client))

    def auth_failed(self, client: str) -> None:
        """Count one failed authentication from `client`."""
        now = time.monotonic()
        if len(self._last_failure) > _MAX_TRACKED:
            horizon = now - self._failure_window_s
            self._last_failure = {c: t for c, t in self._last_failure.items() if t >= horizon}
        self._last_failure[client] = now
        self._limiter.hit(self._failures, "auth-failure", client)

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))
