"""What the orchestrator needs from its journal: exactly the calls the cycle and recovery make.

`bot.journal.Journal` is the implementation; typing against this protocol keeps the saga
independent of how the journal stores things.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from bot.journal.records import CycleRecord, DailyPnl, OrderRecord


class CycleJournal(Protocol):
    """The journal as the trading loop uses it."""

    def next_cycle_seq(self) -> int:
        """One more than the highest cycle sequence journalled (1 on an empty journal)."""
        ...

    def daily_pnl(self, day: date) -> DailyPnl:
        """The UTC day's realised PnL (what the daily loss limit reads after a restart)."""
        ...

    def count_skipped(self, day: date, outcome: str, reason: str, n: int) -> None:
        """Add `n` cycles that never traded on `day` for (outcome, reason)."""
        ...

    def begin_cycle(self, cycle: CycleRecord) -> None:
        """Write-ahead entry: the cycle and its planned orders, before any order is sent."""
        ...

    def record_orders(self, orders: Sequence[OrderRecord]) -> None:
        """Per-order write-ahead: orders about to be sent, or what their venue answered (upsert)."""
        ...

    def finish_cycle(self, cycle: CycleRecord) -> None:
        """Close a cycle: final status, orders, trade and its day's PnL, in one transaction."""
        ...

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        """One cycle with its orders and trade, or None."""
        ...

    def incomplete_cycles(self) -> list[CycleRecord]:
        """Cycles left STARTED by a crash, oldest first, each with its orders."""
        ...
