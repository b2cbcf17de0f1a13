"""The journal being away, from the trading loop's side: what it owes, and when to try again.

A cycle whose write-ahead fails sends nothing and is blocked (`journal_error`); a cycle that
traded but could not be finished keeps its final record. While the journal is away no new cycle
starts; at the start of each cycle, once the backoff allows, `settle` writes what is owed. When
that succeeds trading resumes by itself, with the cycle sequence read back from the journal, so
cycle ids stay contiguous and no order id is used twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from bot.domain.market import OrderStatus
from bot.journal.backoff import Backoff
from bot.journal.records import CycleRecord, CycleStatus
from bot.journal.store import CycleTaken

NEVER_SENT = "journal_error"  # the reason of a written-ahead cycle whose orders were never sent


class OwedJournal(Protocol):
    """The journal calls `settle` makes."""

    def next_cycle_seq(self) -> int: ...

    def cycle(self, cycle_id: str) -> CycleRecord | None: ...

    def finish_cycle(self, cycle: CycleRecord) -> None: ...


class Outage:
    """Failed journal writes not yet made good, and the backoff before the next attempt."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        """No outage yet; `backoff` schedules the attempts (default: 0.5 s doubling to 15 s)."""
        self.backoff = backoff or Backoff()
        self._unsent: CycleRecord | None = None
        self._unfinished: CycleRecord | None = None

    @property
    def active(self) -> bool:
        """Whether a journal write failed and has not been made good yet."""
        return self.backoff.active

    def write_ahead_failed(self, entry: CycleRecord, exc: BaseException) -> float:
        """`begin_cycle(entry)` raised `exc` (nothing was sent); return the delay before a retry.

        Its commit may have landed though its answer was lost: `settle` looks for it. A refusal
        (`CycleTaken`) wrote nothing of ours, so there is nothing to look for.
        """
        if not isinstance(exc, CycleTaken):
            self._unsent = entry
        return self.backoff.failed()

    def finish_failed(self, record: CycleRecord) -> float:
        """`finish_cycle(record)` failed: keep the record for `settle`; return the delay."""
        self._unfinished = record
        return self.backoff.failed()

    def settle(self, journal: OwedJournal, now: datetime) -> int | None:
        """When due, write what is owed; return the next cycle sequence once all is written.

        None when the backoff has not elapsed yet. Raises what the journal raised when it is still
        away (the outage goes on: call `retry_failed`).
        """
        if not self.backoff.due():
            return None
        if self._unfinished is not None:
            journal.finish_cycle(self._unfinished)  # idempotent: a commit that landed is kept as is
            self._unfinished = None
        if self._unsent is not None:
            _close_never_sent(journal, self._unsent, now)
            self._unsent = None
        next_seq = journal.next_cycle_seq()
        self.backoff.reset()
        return next_seq

    def retry_failed(self) -> float:
        """A `settle` attempt failed: return the delay before the next."""
        return self.backoff.failed()


def _close_never_sent(journal: OwedJournal, entry: CycleRecord, now: datetime) -> None:
    """A write-ahead entry that committed although its call failed: close it, nothing was sent."""
    found = journal.cycle(entry.cycle_id)
    if found is None or found.status is not CycleStatus.STARTED or found.started_at != entry.started_at:
        return  # it never landed (or is not this entry): its sequence is free again
    now = max(now, entry.started_at)
    orders = tuple(
        replace(order, status=OrderStatus.CANCELLED, updated_at=max(order.updated_at, now))
        for order in found.orders
    )
    journal.finish_cycle(
        replace(
            found,
            status=CycleStatus.FAILED,
            reason=NEVER_SENT,
            finished_at=now,
            realised_gbp=Decimal(0),
            orders=orders,
            trade=None,
        )
    )
