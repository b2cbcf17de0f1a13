"""The headline: a recording of the bot trading, replayed, gives the same trades and PnL to the penny.

The orchestrator runs on the simulated markets with RECORD_TICKS=1, its venues wrapped by the
same `recording_venues` the wiring uses; the recording is then replayed by `flash-green replay`'s
own code into a separate journal, and the two journals are compared trade by trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from bot.config import Settings
from bot.journal import Journal
from bot.journal.records import TradeRecord
from bot.loans.simulated import build_simulated_loan
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator
from bot.replay.backtest import JOURNAL_FILE, ReplayRequest, run_replay
from bot.replay.recorder import TICKS_DIR, recording_venues
from bot.venues.base import Venue
from bot.venues.simulated import build_simulated_venues

START = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # a Thursday, inside the trading window
CYCLES = 400
# what the live run and the replay share: the replay starts from the defaults plus these
SHARED = {"EXEC_LATENCY_MS": "0", "SLIPPAGE_BP": "5", "KELLY_BANK_GBP": "50000", "MIN_PROFIT_GBP": "1"}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class LiveRun:
    data_dir: Path
    trades: list[TradeRecord]
    pnl: Decimal


async def run_live(data_dir: Path) -> LiveRun:
    settings = Settings.from_mapping({"DATA_DIR": str(data_dir), "RECORD_TICKS": "1", **SHARED})
    clock = Clock(START)
    sim_power, sim_futures = build_simulated_venues(settings, clock=clock)
    power, futures = recording_venues(cast(Venue, sim_power), cast(Venue, sim_futures), settings)
    journal = Journal.open(settings.journal_url, migrate=True)
    orchestrator = Orchestrator.from_settings(
        settings,
        power=power,
        futures=futures,
        loan=build_simulated_loan(settings),
        journal=journal,
        metrics=BotMetrics(),
        clock=clock,
    )
    orchestrator.load_state()
    for _ in range(CYCLES):
        clock.at += timedelta(seconds=1)
        await orchestrator.run_once()
    orchestrator.flush_skipped(force=True)
    await power.close()
    await futures.close()
    trades = journal.trades(limit=10_000)
    pnl = journal.daily_pnl(START.date()).realised_gbp
    journal.close()
    return LiveRun(data_dir, trades, pnl)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    import asyncio

    return asyncio.run(run_live(tmp_path_factory.mktemp("live")))


def replayed(recording: Path, out: Path) -> tuple[list[TradeRecord], Decimal, dict[str, Any]]:
    report = run_replay(ReplayRequest(prices=recording, out=out, sets=dict(SHARED)))
    journal = Journal.open(f"sqlite:///{out / JOURNAL_FILE}", migrate=False)
    try:
        return journal.trades(limit=10_000), journal.daily_pnl(START.date()).realised_gbp, report
    finally:
        journal.close()


def test_replaying_a_recording_gives_the_live_trades_and_pnl_to_the_penny(
    live: LiveRun, tmp_path: Path
) -> None:
    # given the bot traded live on the simulated markets while recording every book it read
    files = sorted((live.data_dir / TICKS_DIR).glob("*.parquet"))
    assert len(files) == 1 and not list((live.data_dir / TICKS_DIR).glob("*.partial"))
    assert len(live.trades) >= 5, "the live run must trade for the comparison to mean anything"

    # when the recording is replayed through the replay command's code
    trades, pnl, report = replayed(files[0], tmp_path / "out")

    # then every trade is the same, quantity, prices, costs and net, and so is the PnL
    def key(t: TradeRecord) -> tuple[Any, ...]:
        return (
            t.cycle_id,
            t.quantity_mwh,
            t.power_price_gbp,
            t.futures_price_gbp,
            t.loan_amount_gbp,
            t.costs,
            t.net_gbp,
        )

    assert [key(t) for t in trades] == [key(t) for t in live.trades]
    assert pnl == live.pnl
    assert Decimal(report["summary"]["pnl_gbp"]) == live.pnl.quantize(Decimal("0.01"))
    assert report["summary"]["trades"] == len(live.trades)


def test_the_live_journal_is_never_the_replays(live: LiveRun, tmp_path: Path) -> None:
    # given a live journal with trades
    live_journal = live.data_dir / "journal.db"
    before = live_journal.stat().st_mtime_ns
    files = sorted((live.data_dir / TICKS_DIR).glob("*.parquet"))
    # when the recording is replayed into an output directory
    replayed(files[0], tmp_path / "out")
    # then the replay wrote its own journal there and left the live one untouched
    assert (tmp_path / "out" / JOURNAL_FILE).is_file()
    assert live_journal.stat().st_mtime_ns == before
