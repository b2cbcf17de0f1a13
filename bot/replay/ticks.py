"""The project's own tick format: one row per book change, as CSV or Parquet.

Columns, in this order: `timestamp` (ISO 8601, UTC; a time without an offset is read as UTC),
`leg` (`power` | `futures`), `side` (`bid` | `ask`), `level` (0 is the best), `price` (GBP/MWh,
may be zero or negative), `quantity` (MWh; 0 removes the level). Rows are in time order; the rows
sharing a timestamp are one change of the books, and the replay runs one cycle after each.

Readers decode into column batches (`TickBatch`) rather than one object per row: a replay of a
million rows spends its time in the cycle, not in building row objects. Prices and quantities are
stored as text in Parquet too, so a recorded book comes back exactly (no binary float, no scale
forced on a quantity).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from bot.replay.errors import TickFileError

COLUMNS = ("timestamp", "leg", "side", "level", "price", "quantity")
LEGS = ("power", "futures")  # leg code: its index
SIDES = ("bid", "ask")  # side code: its index
MAX_LEVEL = 999
BATCH_ROWS = 65_536
_LEG_CODE = {name: code for code, name in enumerate(LEGS)}
_SIDE_CODE = {name: code for code, name in enumerate(SIDES)}
_EXPECT_TIME = "an ISO 8601 UTC time such as 2026-01-05T12:00:00Z"
_EXPECT_PRICE = "a decimal price in GBP/MWh such as 71.25 or -3.5"
_EXPECT_QTY = "a decimal quantity in MWh, 0 or more (0 removes the level)"


class TickRow(NamedTuple):
    """One book change as written: what the recorder and `simulate-ticks` produce."""

    at: datetime
    leg: str
    side: str
    level: int
    price: Decimal
    quantity: Decimal


class TickBatch(NamedTuple):
    """Decoded rows as parallel columns: times in microseconds since the epoch, legs and sides as codes."""

    at_us: list[int]
    legs: list[int]
    sides: list[int]
    levels: list[int]
    prices: list[Decimal]
    quantities: list[Decimal]

    def __len__(self) -> int:
        return len(self.at_us)


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def to_us(at: datetime) -> int:
    """Microseconds since the epoch of an aware time (exact: no float)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as aware UTC; `ValueError` when it is not one."""
    at = datetime.fromisoformat(text.strip())
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


class DecimalMemo(dict[str, Decimal]):
    """Text to Decimal, each distinct text decoded once (books repeat the same few prices)."""

    def __init__(self, *, non_negative: bool) -> None:
        super().__init__()
        self.non_negative = non_negative

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)  # InvalidOperation for text that is no number
        if not value.is_finite() or (self.non_negative and value < 0):
            raise InvalidOperation(text)
        if len(self) > 200_000:
            self.clear()
        self[text] = value
        return value


# -- CSV -------------------------------------------------------------------------------------


def read_csv(path: Path) -> Iterator[TickBatch]:
    """Batches of a tick CSV; `TickFileError` at the first bad row (nothing is yielded past it)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != list(COLUMNS):
            found = ",".join(header) if header else "an empty file"
            raise TickFileError(path, 1, 1, "header", "the header " + ",".join(COLUMNS), found)
        yield from _decode_csv_rows(path, reader)


def _decode_csv_rows(path: Path, reader: Iterable[list[str]]) -> Iterator[TickBatch]:
    prices, quantities = DecimalMemo(non_negative=False), DecimalMemo(non_negative=True)
    batch = _empty()
    last_text, last_us = "", -(1 << 62)
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise TickFileError(
                path, line, min(len(row), len(COLUMNS)) + 1, "row", "6 columns", ",".join(row)
            )
        text, leg, side, level, price, qty = row
        if text != last_text:
            try:
                us = to_us(parse_time(text))
            except ValueError:
                raise TickFileError(path, line, 1, "timestamp", _EXPECT_TIME, text) from None
            if us < last_us:
                raise TickFileError(path, line, 1, "timestamp", "a time at or after the row before", text)
            last_text, last_us = text, us
        _append(path, line, batch, last_us, leg, side, level, price, qty, prices, quantities)
        if len(batch.at_us) >= BATCH_ROWS:
            yield batch
            batch = _empty()
    if batch.at_us:
        yield batch


def _append(
    path: Path,
    line: int,
    batch: TickBatch,
    us: int,
    leg: str,
    side: str,
    level: str | int,
    price: str,
    qty: str,
    prices: DecimalMemo,
    quantities: DecimalMemo,
) -> None:
    leg_code = _LEG_CODE.get(leg)
    if leg_code is None:
        raise TickFileError(path, line, 2, "leg", "power or futures", leg)
    side_code = _SIDE_CODE.get(side)
    if side_code is None:
        raise TickFileError(path, line, 3, "side", "bid or ask", side)
    try:
        n = int(level)
    except (TypeError, ValueError):
        n = -1
    if not 0 <= n <= MAX_LEVEL:
        raise TickFileError(path, line, 4, "level", f"a whole number from 0 to {MAX_LEVEL}", level)
    try:
        p = prices[price]
    except (InvalidOperation, TypeError):
        raise TickFileError(path, line, 5, "price", _EXPECT_PRICE, price) from None
    try:
        q = quantities[qty]
    except (InvalidOperation, TypeError):
        raise TickFileError(path, line, 6, "quantity", _EXPECT_QTY, qty) from None
    batch.at_us.append(us)
    batch.legs.append(leg_code)
    batch.sides.append(side_code)
    batch.levels.append(n)
    batch.prices.append(p)
    batch.quantities.append(q)


def _empty() -> TickBatch:
    return TickBatch([], [], [], [], [], [])


def write_csv(path: Path, rows: Iterable[TickRow]) -> int:
    """Write rows as a tick CSV; returns how many."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow((_iso(row.at), row.leg, row.side, row.level, row.price, row.quantity))
            n += 1
    return n


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- Parquet ---------------------------------------------------------------------------------


def parquet_schema() -> Any:  # pyarrow ships no type hints
    import pyarrow as pa

    return pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("leg", pa.string()),
            ("side", pa.string()),
            ("level", pa.int16()),
            ("price", pa.string()),
            ("quantity", pa.string()),
        ]
    )


def rows_to_table(rows: list[TickRow]) -> Any:
    """A pyarrow table of rows in the Parquet schema (the recorder and `simulate-ticks`)."""
    import pyarrow as pa

    return pa.table(
        [
            pa.array([r.at for r in rows], pa.timestamp("us", tz="UTC")),
            pa.array([r.leg for r in rows], pa.string()),
            pa.array([r.side for r in rows], pa.string()),
            pa.array([r.level for r in rows], pa.int16()),
            pa.array([str(r.price) for r in rows], pa.string()),
            pa.array([str(r.quantity) for r in rows], pa.string()),
        ],
        schema=parquet_schema(),
    )


def write_parquet(path: Path, rows: Iterable[TickRow], chunk: int = BATCH_ROWS) -> int:
    """Write rows as a tick Parquet file, in row groups of `chunk`; returns how many."""
    import pyarrow.parquet as pq

    n = 0
    with pq.ParquetWriter(str(path), parquet_schema(), compression="zstd") as writer:
        pending: list[TickRow] = []
        for row in rows:
            pending.append(row)
            if len(pending) >= chunk:
                writer.write_table(rows_to_table(pending))
                n += len(pending)
                pending = []
        if pending:
            writer.write_table(rows_to_table(pending))
            n += len(pending)
    return n


def read_parquet(path: Path) -> Iterator[TickBatch]:
    """Batches of a tick Parquet file; `TickFileError` names the row (1-based) and column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise TickFileError(
            path, 0, 0, "file", "a Parquet file in the tick format", type(exc).__name__
        ) from None
    names = source.schema_arrow.names
    for i, name in enumerate(COLUMNS):
        if name not in names:
            raise TickFileError(path, 0, i + 1, name, f"a column {name} (columns: {', '.join(COLUMNS)})")
    prices, quantities = DecimalMemo(non_negative=False), DecimalMemo(non_negative=True)
    first_row, last_us = 1, -(1 << 62)
    for record in source.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS)):
        try:
            stamps = record.column(0).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
        except pa.ArrowException:
            raise TickFileError(
                path, first_row, 1, "timestamp", _EXPECT_TIME, str(record.column(0).type)
            ) from None
        legs, sides = record.column(1).to_pylist(), record.column(2).to_pylist()
        levels, price_text, qty_text = (record.column(i).to_pylist() for i in (3, 4, 5))
        batch = _empty()
        for i, us in enumerate(stamps):
            row = first_row + i
            if us is None or us < last_us:
                expected = _EXPECT_TIME if us is None else "a time at or after the row before"
                raise TickFileError(path, row, 1, "timestamp", expected, None if us is None else from_us(us))
            last_us = us
            _append(
                path,
                row,
                batch,
                us,
                legs[i],
                sides[i],
                levels[i],
                price_text[i],
                qty_text[i],
                prices,
                quantities,
            )
        first_row += len(stamps)
        if batch.at_us:
            yield batch


def read_ticks(path: Path) -> Iterator[TickBatch]:
    """The batches of a tick file, CSV or Parquet by its suffix."""
    return read_parquet(path) if is_parquet(path) else read_csv(path)


def write_ticks(path: Path, rows: Iterable[TickRow]) -> int:
    """Write rows as CSV or Parquet by the path's suffix; returns how many."""
    return write_parquet(path, rows) if is_parquet(path) else write_csv(path, rows)
