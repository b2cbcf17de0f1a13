"""The original project's feed files: `timestamp_iso,price_gbp_per_mwh`, one price per row.

Half-hourly spot prices are the power leg (`PRICES`), daily futures prices the futures leg
(`--futures FUTURES`). Each price stands until the next row of its file. A book is built around
it as the simulated market lays one around its mid (`BookShape`: best bid and ask 0.05 GBP/MWh
either side, each further level 0.05 worse), with BOOK_LEVELS levels of BOOK_SIZE_MWH each (one
bottomless level when USE_DEPTH_SIM=0). The two files merge into one stream of book changes in the
tick format, so everything after reading is the replay of any tick file.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.replay.errors import TickFileError
from bot.replay.ticks import BATCH_ROWS, TickBatch, parse_time, to_us
from bot.venues.simulated import DEEP_BOOK_MWH, BookShape

FEED_COLUMNS = ("timestamp_iso", "price_gbp_per_mwh")
_PENNY = Decimal("0.01")


def is_feed(path: Path) -> bool:
    """True when `path` is a CSV whose header is the original feed's."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return False
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    return header is not None and [h.strip().lower() for h in header] == list(FEED_COLUMNS)


def read_feed(path: Path) -> Iterator[tuple[int, Decimal]]:
    """(microseconds since the epoch, price) of each row; `TickFileError` names line and column."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != list(FEED_COLUMNS):
            found = ",".join(header) if header else "an empty file"
            raise TickFileError(path, 1, 1, "header", "the header " + ",".join(FEED_COLUMNS), found)
        last = -(1 << 62)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise TickFileError(path, line, min(len(row), 2) + 1, "row", "2 columns", ",".join(row))
            try:
                us = to_us(parse_time(row[0]))
            except ValueError:
                raise TickFileError(
                    path,
                    line,
                    1,
                    FEED_COLUMNS[0],
                    "an ISO 8601 UTC time such as 2025-01-06T00:30:00Z",
                    row[0],
                ) from None
            if us < last:
                raise TickFileError(
                    path, line, 1, FEED_COLUMNS[0], "a time at or after the row before", row[0]
                )
            try:
                price = Decimal(row[1].strip())
                if not price.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise TickFileError(
                    path, line, 2, FEED_COLUMNS[1], "a decimal price in GBP/MWh such as 71.25 or -3.5", row[1]
                ) from None
            last = us
            yield us, price


def feed_batches(
    spot: Path, futures: Path, *, levels: int, size_mwh: Decimal, use_depth: bool
) -> Iterator[TickBatch]:
    """Both feeds merged in time order as tick batches: each price a whole new book of its leg."""
    shape = BookShape()
    n = levels if use_depth else 1
    size = size_mwh if use_depth else DEEP_BOOK_MWH
    offsets = [(shape.half_spread + j * shape.level_step) * _PENNY for j in range(n)]
    streams = (
        ((us, 0, price) for us, price in read_feed(spot)),
        ((us, 1, price) for us, price in read_feed(futures)),
    )
    batch = TickBatch([], [], [], [], [], [])
    for us, leg, price in heapq.merge(*streams):
        for side, sign in ((0, -1), (1, 1)):
            for j, offset in enumerate(offsets):
                batch.at_us.append(us)
                batch.legs.append(leg)
                batch.sides.append(side)
                batch.levels.append(j)
                batch.prices.append(price + sign * offset)
                batch.quantities.append(size)
        if len(batch.at_us) >= BATCH_ROWS:
            yield batch
            batch = TickBatch([], [], [], [], [], [])
    if batch.at_us:
        yield batch
