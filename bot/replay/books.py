"""Books as rows and rows as books: the diff the recorder writes and the state the replay rebuilds.

One rule on both sides, so a recording replays into the very books that were read: rows sharing a
timestamp are one change; a row sets level `level` of one side of one leg; quantity 0 removes it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain.market import Book, Level
from bot.replay.ticks import SIDES, TickRow

_ZERO = Decimal(0)


def book_rows(previous: Book | None, book: Book, leg: str, at: datetime) -> list[TickRow]:
    """The rows that turn `previous` into `book`: each level that changed, each one that went (0 MWh).

    A book read that changed nothing still gives one row (its best level restated): the replay runs
    a cycle after each change, so the cycle the bot ran on that read is run again.
    """
    rows: list[TickRow] = []
    for side, new, old in (
        ("bid", book.bids, previous.bids if previous else ()),
        ("ask", book.asks, previous.asks if previous else ()),
    ):
        n_old = len(old)
        for j, level in enumerate(new):
            if j >= n_old or old[j] != level:
                rows.append(TickRow(at, leg, side, j, level.price, level.quantity))
        for j in range(len(new), n_old):
            rows.append(TickRow(at, leg, side, j, old[j].price, _ZERO))
    if not rows:
        side, levels = ("ask", book.asks) if book.asks else ("bid", book.bids)
        if levels:
            rows.append(TickRow(at, leg, side, 0, levels[0].price, levels[0].quantity))
    return rows


class LegBook:
    """One leg's recorded levels by side code (0 bid, 1 ask), a level per index, None where removed."""

    __slots__ = ("sides",)

    def __init__(self) -> None:
        self.sides: tuple[list[Level | None], list[Level | None]] = ([], [])

    def set(self, side: int, level: int, price: Decimal, quantity: Decimal) -> None:
        levels = self.sides[side]
        if level >= len(levels):
            levels.extend([None] * (level + 1 - len(levels)))
        levels[level] = Level(price, quantity) if quantity else None

    def best(self, side: int) -> Level | None:
        """The best level of a side (the lowest index still standing), None when the side is empty."""
        for level in self.sides[side]:
            if level is not None:
                return level
        return None

    def levels(self, side: int) -> list[Level]:
        return [level for level in self.sides[side] if level is not None]


def side_name(code: int) -> str:
    return SIDES[code]
