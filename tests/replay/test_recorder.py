"""RECORD_TICKS: the wiring records every book read; files rotate, appear only when closed, and each
replays on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.orchestrator.trigger import book_streams
from bot.orchestrator.wiring import build_adapters
from bot.replay.recorder import PARTIAL, TICKS_DIR, RecordingVenue, TickRecorder
from bot.replay.ticks import read_ticks
from bot.venues.simulated import SimulatedMarket


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_record_ticks_wraps_both_legs_and_they_still_stream(tmp_path: Path) -> None:
    # given RECORD_TICKS=1; when the adapters are built as the orchestrator builds them
    adapters = build_adapters(Settings.from_mapping({"DATA_DIR": str(tmp_path), "RECORD_TICKS": "1"}))
    plain = build_adapters(Settings.from_mapping({"DATA_DIR": str(tmp_path / "plain")}))
    # then both legs record, and their book streams still trigger cycles as without recording
    assert isinstance(adapters.power, RecordingVenue) and isinstance(adapters.futures, RecordingVenue)
    streams = book_streams((adapters.power, adapters.futures))
    assert len(streams) == len(book_streams((plain.power, plain.futures))) > 0
    await adapters.power.book()
    await adapters.futures.book()
    assert [p.name.endswith(PARTIAL) for p in (tmp_path / TICKS_DIR).glob("*")] in ([], [True])
    await adapters.close()
    # and on close the recording is a finished Parquet file holding both books
    files = list((tmp_path / TICKS_DIR).glob("*"))
    assert len(files) == 1 and files[0].suffix == ".parquet"
    assert {leg for batch in read_ticks(files[0]) for leg in batch.legs} == {0, 1}


def test_files_rotate_by_size_and_by_utc_day_and_each_restates_the_books(tmp_path: Path) -> None:
    # given a recorder that rotates after every flush of 20 rows
    clock = Clock(datetime(2026, 1, 5, 23, 59, 58, tzinfo=UTC))
    market = SimulatedMarket(seed=1, clock=clock, tick_ms=1000)
    recorder = TickRecorder(tmp_path, rotate_bytes=1, flush_rows=20)
    # when books are read across midnight
    for _ in range(4):
        for leg in ("power", "futures"):
            recorder.record(leg, market.book(leg))
        clock.at += timedelta(seconds=1)
    recorder.close()
    # then every file is closed, none spans two UTC days, and each starts with both full books
    files = sorted(tmp_path.glob("*"))
    assert files == recorder.files and len(files) >= 3 and all(f.suffix == ".parquet" for f in files)
    assert any("20260106T000000" in f.name for f in files)  # a new file at midnight
    for f in files:
        batches = list(read_ticks(f))
        days = {us // 86_400_000_000 for b in batches for us in b.at_us}
        assert len(days) == 1
        first = batches[0]
        assert first.legs[:20].count(0) == 10 and first.legs[:20].count(1) == 10  # 5 levels x 2 sides each


def test_a_book_reread_at_the_same_venue_time_is_not_a_change(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    market = SimulatedMarket(seed=1, clock=clock, tick_ms=1000)
    recorder = TickRecorder(tmp_path)
    book = market.book("power")
    recorder.record("power", book)
    recorder.record("power", book._replace(asks=book.asks[1:]))  # our own fill took the best ask
    recorder.close()
    assert sum(len(b) for b in read_ticks(recorder.files[0])) == 10
