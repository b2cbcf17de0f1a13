"""How the simulated market tells its readers that the books moved (the sim's `BookStream`).

The market publishes once per new tick; each subscriber holds one flag, so changes it has not
read yet coalesce into one (a slow reader sees the latest book, never a backlog). Publishing is
synchronous and cheap: it only sets the subscribers' events, on the event loop's thread.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Subscription:
    """One reader of the market's changes: `wait()` says whether a change came since the last."""

    __slots__ = ("_event", "_feed", "_seen")

    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed
        self._event = asyncio.Event()
        self._seen = feed.version  # only changes published from now on are news

    @property
    def changed(self) -> bool:
        """A change was published that this reader has not taken yet."""
        return self._feed.version != self._seen

    def wake(self) -> None:
        """End the current `wait()` now (a change, or the reader's venue closing)."""
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` (or a `wake()`) for a change; True, and the change taken, if one came."""
        if not self.changed:
            event = self._event
            event.clear()
            timer = asyncio.get_running_loop().call_later(timeout_s, event.set)
            try:
                await event.wait()
            finally:
                timer.cancel()
            if not self.changed:
                return False
        self._seen = self._feed.version
        return True

    def close(self) -> None:
        self._feed.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ChangeFeed:
    """The subscribers of one market; `publish()` wakes each of them."""

    __slots__ = ("_subscribers", "version")

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.version = 0  # changes published so far

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self) -> None:
        """The books moved: wake every subscriber (each hears it once, however many came)."""
        self.version += 1
        for subscription in self._subscribers:
            subscription.wake()
