"""RECORD_TICKS=1: every book the bot reads, written as tick rows to rotating Parquet files.

`RecordingVenue` wraps a leg's venue (simulated, paper or live) and hands each book its `book()`
returns to the `TickRecorder`, which writes what changed since that leg's last recorded book
(`book_rows`). A book is recorded when its venue time is newer than the last one recorded for the
leg: a book re-read at the same venue time differs only by what our own orders took, which the
replay takes again itself.

Files go to `DATA_DIR/ticks/ticks-<first time, UTC>.parquet`. A file is written as `….parquet.partial`
and renamed when closed: at each new UTC day, when it passes RECORD_TICKS_ROTATE_MB, and when the
bot stops. A new file restates both books in full, so every file replays on its own. Rows are
buffered and written every `flush_rows` rows (one Parquet row group each); a process killed
mid-file leaves a `.partial` file without its footer, which no reader can open.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.market import Book, Leg
from bot.replay.books import book_rows
from bot.replay.ticks import TickRow, parquet_schema, rows_to_table

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.venues.base import Venue

log = logging.getLogger("bot.replay")
TICKS_DIR = "ticks"
PARTIAL = ".partial"


class TickRecorder:
    """Writes book reads as tick rows to rotating Parquet files in `directory` (see the module)."""

    def __init__(self, directory: Path, *, rotate_bytes: int = 64 << 20, flush_rows: int = 10_000) -> None:
        self.directory = directory
        self.rotate_bytes = rotate_bytes
        self.flush_rows = flush_rows
        self.files: list[Path] = []  # closed files, oldest first
        self._last: dict[str, Book] = {}
        self._pending: list[TickRow] = []
        self._writer: Any = None
        self._path: Path | None = None
        self._day: date | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TickRecorder:
        return cls(settings.data_dir / TICKS_DIR, rotate_bytes=settings.record_ticks_rotate_mb << 20)

    def record(self, leg: Leg, book: Book) -> None:
        """Note one book read; never raises (a recording problem must not stop trading)."""
        if self._closed:
            return
        last = self._last.get(leg)
        if last is not None and book.at <= last.at:
            return
        try:
            day = book.at.date()
            if day != self._day:
                self._rotate()
                self._day = day
                last = None
            self._pending.extend(book_rows(last, book, leg, book.at))
            self._last[leg] = book
            if len(self._pending) >= self.flush_rows:
                self._flush()
        except Exception:
            log.exception("tick recording failed; recording stops, trading goes on")
            self._closed = True

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            import pyarrow.parquet as pq

            self.directory.mkdir(parents=True, exist_ok=True)
            first = self._pending[0].at.strftime("%Y%m%dT%H%M%S%fZ")
            self._path = self.directory / f"ticks-{first}.parquet{PARTIAL}"
            self._writer = pq.ParquetWriter(str(self._path), parquet_schema(), compression="zstd")
        self._writer.write_table(rows_to_table(self._pending))
        self._pending = []
        assert self._path is not None
        if self._path.stat().st_size >= self.rotate_bytes:
            self._rotate()

    def _rotate(self) -> None:
        """Close the current file (it becomes visible as .parquet); the next rows start a new one."""
        self._flush_pending_only()
        if self._writer is not None and self._path is not None:
            self._writer.close()
            final = self._path.with_name(self._path.name.removesuffix(PARTIAL))
            self._path.rename(final)
            self.files.append(final)
        self._writer, self._path = None, None
        self._last.clear()  # the next file restates both books in full

    def _flush_pending_only(self) -> None:
        if self._pending:
            rotate, self.rotate_bytes = self.rotate_bytes, 1 << 62  # no rotation inside the flush
            try:
                self._flush()
            finally:
                self.rotate_bytes = rotate

    def close(self) -> None:
        """Write what is buffered and close the file; later reads are not recorded."""
        if self._closed:
            return
        self._closed = True
        try:
            self._rotate()
        except Exception:
            log.exception("tick recording could not be closed; the last file stays .partial")


class RecordingVenue:
    """A venue whose `book()` reads are recorded; everything else is the wrapped venue's own."""

    def __init__(self, venue: Venue, recorder: TickRecorder) -> None:
        self._venue = venue
        self._recorder = recorder
        self.name = venue.name
        self.leg: Leg = venue.leg

    async def book(self) -> Book:
        book = await self._venue.book()
        self._recorder.record(self.leg, book)
        return book

    async def close(self) -> None:
        try:
            await self._venue.close()
        finally:
            self._recorder.close()

    def __getattr__(self, name: str) -> Any:
        # place, status, cancel, ping, health, book_changes, source, paper ...: the venue's own
        return getattr(self._venue, name)

    def __repr__(self) -> str:
        return f"RecordingVenue({self._venue!r})"


def recording_venues(power: Venue, futures: Venue, settings: Settings) -> tuple[Venue, Venue]:
    """Both legs wrapped to record into one recorder in DATA_DIR (RECORD_TICKS=1)."""
    recorder = TickRecorder.from_settings(settings)
    log.info("recording every book read to %s (RECORD_TICKS=1)", recorder.directory)
    return RecordingVenue(power, recorder), RecordingVenue(futures, recorder)
