"""The UTC trading window and weekend guard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_WINDOW = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class TradingWindow:
    """Minutes after UTC midnight; `end < start` spans midnight; `start == end` is never open."""

    start_min: int
    end_min: int

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (timezone-aware) falls inside the window, start inclusive, end exclusive."""
        return self.is_open_minute(_utc_minute(at))

    def is_open_minute(self, minute: int) -> bool:
        """Whether the minute after UTC midnight `minute` (0-1439) falls inside the window."""
        if self.start_min <= self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min

    def __str__(self) -> str:
        return f"{_fmt(self.start_min)}-{_fmt(self.end_min)}"


def parse_window(text: str) -> TradingWindow:
    """Parse `HH:MM-HH:MM`; `24:00` is allowed as an end (so `00:00-24:00` is all day)."""
    match = _WINDOW.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a window like 05:00-21:00")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59:
        raise ValueError(f"start {sh:02d}:{sm:02d} is not a time of day")
    if (eh > 23 and (eh, em) != (24, 0)) or em > 59:
        raise ValueError(f"end {eh:02d}:{em:02d} is not a time of day (24:00 is allowed as an end)")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise ValueError(f"{text!r} is empty: start equals end (use 00:00-24:00 for all day)")
    return TradingWindow(start, end)


# Why the market is closed to the bot, in the words of the metric label `trades_blocked{reason}`.
TRADING_DISABLED = "trading_disabled"
WEEKEND = "weekend"
OUTSIDE_WINDOW = "outside_window"


def market_closed(
    at: datetime, window: TradingWindow, *, allow_weekend: bool, trading_enabled: bool
) -> str | None:
    """Why the bot may not trade at `at`, or None when the market is open to it.

    The one definition of "the market is open": the cycle's guard, the `trading_window_open`
    gauge, the API's `/state` and the operator's `Trading` condition all ask this function, so a
    Saturday is closed everywhere or nowhere. Checked in order: kill switch, weekend, window.
    """
    if not trading_enabled:
        return TRADING_DISABLED
    if not allow_weekend and is_weekend(at):
        return WEEKEND
    if not window.is_open(at):
        return OUTSIDE_WINDOW
    return None


def is_weekend(at: datetime) -> bool:
    """Saturday or Sunday in UTC."""
    return _as_utc(at).weekday() >= 5


def _utc_minute(at: datetime) -> int:
    t = _as_utc(at)
    return t.hour * 60 + t.minute


def _as_utc(at: datetime) -> datetime:
    tz = at.tzinfo
    if tz is UTC:
        return at
    if tz is None:
        raise ValueError("naive datetime: trading times are timezone-aware UTC")
    return at.astimezone(UTC)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
