"""When the trading loop starts a cycle: at once on a streamed book change, else on the interval.

`CycleTrigger` is the rule, pure and driven by the caller's clock (seconds, monotonic):

- a book change makes a cycle due at once, yet never sooner than MIN_CYCLE_GAP_MS after the last
  cycle ended, so a busy stream cannot starve everything else the event loop serves;
- CYCLE_INTERVAL_SECS after the last cycle ended a cycle is due anyway: legs that only poll rely
  on it, and with every leg streaming it is the heartbeat that re-runs the guards, retries a
  journal outage and notices a stream gone quiet;
- one cycle in flight at most: nothing is due while one runs, and the changes that arrive
  meanwhile coalesce into one next cycle.

`CycleLoop` runs it: one listener task per `BookStream` venue marks changes and wakes the loop,
which awaits each cycle to its end. A stop (SIGTERM, SIGINT) prevents the next cycle only; the
cycle in flight finishes or unwinds, its orders keeping their deadline (ORDER_TIMEOUT_SECS).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from bot.venues.base import BookStream

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.orchestrator.cycle import CycleResult, Orchestrator

log = logging.getLogger("bot.orchestrator")

Cause = Literal["start", "book_change", "interval"]
Monotonic = Callable[[], float]


class CycleTrigger:
    """Whether a cycle is due, and when: book changes, the interval and the gap (see the module)."""

    __slots__ = ("_last_end", "_pending", "_running", "interval_s", "min_gap_s")

    def __init__(self, *, interval_s: float, min_gap_s: float) -> None:
        if interval_s < 0 or min_gap_s < 0:
            raise ValueError("interval_s and min_gap_s must be >= 0")
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s
        self._pending = False  # a book changed since the last cycle started
        self._running = False
        self._last_end: float | None = None  # None before the first cycle: it is due at once

    @classmethod
    def from_settings(cls, settings: Settings) -> CycleTrigger:
        """The trigger CYCLE_INTERVAL_SECS and MIN_CYCLE_GAP_MS describe."""
        return cls(interval_s=float(settings.cycle_interval_secs), min_gap_s=settings.min_cycle_gap_ms / 1000)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def pending(self) -> bool:
        """A book change is waiting for its cycle."""
        return self._pending

    def book_changed(self) -> None:
        """A streamed book moved: one cycle is owed, however many changes come before it starts."""
        self._pending = True

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next cycle is due (0: now); None while a cycle is in flight."""
        if self._running:
            return None
        if self._last_end is None:
            return 0.0
        wait = self.interval_s
        if self._pending and self.min_gap_s < wait:
            wait = self.min_gap_s
        return max(0.0, self._last_end + wait - now)

    def start(self, now: float) -> Cause:
        """A cycle starts now (it must be due); returns why. The changes seen so far are its own."""
        wait = self.wait_s(now)
        if wait is None:
            raise RuntimeError("a cycle is already in flight")
        if wait > 0:
            raise RuntimeError(f"no cycle is due for another {wait:.3f} s")
        cause: Cause = "start" if self._last_end is None else "book_change" if self._pending else "interval"
        self._running, self._pending = True, False
        return cause

    def finish(self, now: float) -> None:
        """The cycle in flight ended (traded, skipped or crashed); the gap and interval count from now."""
        self._running = False
        self._last_end = now


def book_streams(venues: Iterable[object]) -> list[BookStream]:
    """The venues that stream their book (each once: both simulated legs share a market).

    A paper or feed leg (bot.venues.paper) reads its book from a `source` venue: that source's
    stream triggers the cycle for it.
    """
    out: list[BookStream] = []
    for venue in venues:
        stream = venue if isinstance(venue, BookStream) else getattr(venue, "source", None)
        if isinstance(stream, BookStream) and all(stream is not seen for seen in out):
            out.append(stream)
    return out


class CycleLoop:
    """Runs the orchestrator's cycles as its `CycleTrigger` says, until `orchestrator.stopping`."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        trigger: CycleTrigger,
        streams: Sequence[BookStream] = (),
        *,
        clock: Monotonic = time.monotonic,
        on_cycle: Callable[[CycleResult], None] | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.trigger = trigger
        self.streams = tuple(streams)
        self.clock = clock
        self.on_cycle = on_cycle  # hears each cycle's result (tests, benchmarks)
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Cycle until `stopping` is set; the cycle in flight always finishes or unwinds first."""
        orch, trigger, clock, wake = self.orchestrator, self.trigger, self.clock, self._wake
        helpers = [asyncio.create_task(self._listen(stream)) for stream in self.streams]
        helpers.append(asyncio.create_task(self._wake_on_stop()))
        loop = asyncio.get_running_loop()
        try:
            while not orch.stopping.is_set():
                wake.clear()  # before reading the trigger: a change after this sets it again
                wait = trigger.wait_s(clock())
                if wait:
                    timer = loop.call_later(wait, wake.set)
                    try:
                        await wake.wait()
                    finally:
                        timer.cancel()
                    continue
                trigger.start(clock())
                result: CycleResult | None = None
                try:
                    result = await orch.run_once()
                except Exception:
                    # run_once handles its own failures; this is a last line so the loop never dies
                    log.exception("cycle crashed outside the saga")
                    orch.metrics.trades_blocked.labels(reason="error").inc()
                finally:
                    trigger.finish(clock())
                if result is not None and self.on_cycle is not None:
                    self.on_cycle(result)
                await asyncio.sleep(0)  # let the listeners and the rest of the loop run in between
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            orch.flush_skipped(force=True)

    async def _listen(self, stream: BookStream) -> None:
        name = getattr(stream, "name", type(stream).__name__)
        try:
            async for _ in stream.book_changes():
                self.trigger.book_changed()
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("book stream of %s failed; its leg waits for the interval", name, exc_info=True)
            return
        if not self.orchestrator.stopping.is_set():
            log.warning("book stream of %s ended; its leg waits for the interval", name)

    async def _wake_on_stop(self) -> None:
        await self.orchestrator.stopping.wait()
        self._wake.set()


__all__ = ["CycleLoop", "CycleTrigger", "book_streams"]
