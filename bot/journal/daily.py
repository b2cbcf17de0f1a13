"""Daily accounting: what a finished cycle adds to its UTC day's totals.

A cycle's share of its day is added to the day's row by an atomic upsert (exact: NUMERIC, or
integer 10^-8 GBP). Finishing a cycle again with different figures (a correction) takes its old
share away and adds the new one, so the day's row always equals the sum of its cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.journal.encoding import ZERO_MONEY, exact_money, utc_day
from bot.journal.records import CycleStatus, DailyPnl


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one finished cycle adds to its UTC day's row (or, negated, takes away from it)."""

    day: date
    realised_gbp: Decimal
    loss_gbp: Decimal
    trades: int
    unwound: int

    def plus(self, other: Contribution) -> Contribution:
        """Both shares together (they must be of the same day)."""
        return Contribution(
            day=self.day,
            realised_gbp=self.realised_gbp + other.realised_gbp,
            loss_gbp=self.loss_gbp + other.loss_gbp,
            trades=self.trades + other.trades,
            unwound=self.unwound + other.unwound,
        )

    def negated(self) -> Contribution:
        """The share taken away again (a corrected cycle's old figures)."""
        return Contribution(self.day, -self.realised_gbp, -self.loss_gbp, -self.trades, -self.unwound)

    def row(self) -> dict[str, Any]:
        """The `daily_pnl` row that adds this share to its day."""
        return {
            "day": self.day,
            "realised_gbp": self.realised_gbp,
            "loss_gbp": self.loss_gbp,
            "trades": self.trades,
            "unwound": self.unwound,
        }


def contribution(status: CycleStatus, realised: Decimal, finished_at: datetime | None) -> Contribution | None:
    """A finished cycle's share of its day; a STARTED cycle has none yet."""
    if status is CycleStatus.STARTED or finished_at is None:
        return None
    realised = exact_money(realised)
    return Contribution(
        day=utc_day(finished_at),
        realised_gbp=realised,
        loss_gbp=-realised if realised < 0 else ZERO_MONEY,
        trades=1 if status is CycleStatus.TRADED else 0,
        unwound=1 if status is CycleStatus.UNWOUND else 0,
    )


def daily_deltas(old: Contribution | None, new: Contribution | None) -> list[Contribution]:
    """The additions to `daily_pnl` that replace `old` by `new`, one per day touched.

    Nothing when they are equal, so finishing the same cycle twice changes no day (idempotent).
    """
    if old == new:
        return []
    deltas: dict[date, Contribution] = {}
    for share in (old.negated() if old is not None else None, new):
        if share is not None:
            held = deltas.get(share.day)
            deltas[share.day] = share if held is None else held.plus(share)
    return list(deltas.values())


def empty_day(day: date) -> DailyPnl:
    """A day on which no cycle finished: zero PnL, no losses, no trades, no unwinds."""
    return DailyPnl(day=day, realised_gbp=ZERO_MONEY, loss_gbp=ZERO_MONEY, trades=0, unwound=0)
