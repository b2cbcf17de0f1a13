"""When to try the journal again after a failed write: exponential backoff, bounded, with jitter.

The trading loop does not wait inside a retry loop (a cycle must never block on a database that
is away): it asks `due()` at the start of each cycle and, while the journal is down, blocks the
cycle as `journal_error`. tenacity (used by the venue adapters for reads) wraps a call in a retry
loop, which is not the shape needed here, so this is the whole policy: the first retry
after `first_s`, each next one twice as late up to `cap_s`, each delay drawn between half and all
of that (so bots sharing one database do not come back in lockstep), and never given up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 15.0


class Backoff:
    """The schedule of retries after consecutive failures; `reset()` once one succeeds."""

    def __init__(
        self,
        *,
        first_s: float = FIRST_RETRY_S,
        cap_s: float = MAX_RETRY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """A schedule starting at `first_s`, doubling up to `cap_s`, on the `monotonic` clock."""
        self._first_s = first_s
        self._cap_s = cap_s
        self._monotonic = monotonic
        self.failures = 0
        self._next_at = 0.0

    @property
    def active(self) -> bool:
        """Whether the last attempt failed (and none has succeeded since)."""
        return self.failures > 0

    def due(self) -> bool:
        """Whether the next attempt may be made now."""
        return self._monotonic() >= self._next_at

    def failed(self) -> float:
        """Count a failure; return the delay, in seconds, before the next attempt is due."""
        bound = min(self._cap_s, self._first_s * 2.0 ** min(self.failures, 32))
        self.failures += 1
        delay = bound * random.uniform(0.5, 1.0)
        self._next_at = self._monotonic() + delay
        return delay

    def reset(self) -> None:
        """An attempt succeeded: the next failure starts the schedule again."""
        self.failures = 0
        self._next_at = 0.0
