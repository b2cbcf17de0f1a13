"""Decision-path and full-cycle latency, each against a floor measured in the same run.

- decision: quotes in, decision out, guards included: `bot.domain.decision.decide`, the function
  `Orchestrator` calls every cycle, with the `Limits` production builds (`limits_from` on default
  settings but the ones named in `DECISION_ENV`); floor: the bare Decimal arithmetic of one
  decision (spread, fees, profit) with no structure around it.
- cycle: a full simulated cycle that trades, journal write included (SQLite WAL,
  synchronous=FULL, EXEC_LATENCY_MS=0); floor: one such durable SQLite transaction alone.

Run alone: `python -m bench.bench_core`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from bench.figures import figure, median, percentile
from bot.domain.decision import decide, limits_from
from bot.domain.market import Book, Level

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# the risk settings the decision is timed under (the rest, fees included, are the defaults)
DECISION_ENV = {
    "TRADING_WINDOW_UTC": "05:00-21:00",
    "MAX_DAILY_LOSS_GBP": "500",
    "LOAN_LIMIT_GBP": "100000",
    "MAX_NOTIONAL_PER_TRADE": "10000",
    "MAX_POSITION_MWH": "50",
    "MIN_PROFIT_GBP": "1",
    "KELLY_BANK_GBP": "50000",
}


def _books() -> tuple[Book, Book]:
    asks = tuple(Level(D("50.00") + D(i) / 4, D("20")) for i in range(5))
    bids = tuple(Level(D("53.00") - D(i) / 2, D("20")) for i in range(5))
    return Book("sim-power", "P", (), asks, NOW), Book("sim-futures", "F", bids, (), NOW)


def _time_ns(fn: Callable[[], None], n: int) -> list[float]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000)
    return out


def bench_decision(n: int = 50_000) -> list[dict[str, object]]:
    from bot.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        limits = limits_from(Settings.from_mapping({"DATA_DIR": tmp, **DECISION_ENV}))
    power, futures = _books()
    loss = D(0)

    def one() -> None:
        decide(NOW, power, futures, limits, trading_enabled=True, daily_loss=loss)

    ask, bid, qty = D("50.00"), D("53.00"), D("20")
    fee = (D("5") + D("2") + D("9")) / D(10000)

    def bare() -> None:
        notional = ask * qty
        _ = (bid - ask) * qty - notional * fee - bid * qty * fee - D("0.50")

    for f in (one, bare):
        _time_ns(f, 2000)  # warm up
    samples = _time_ns(one, n)
    floor = _time_ns(bare, n)
    p50, p99, f99 = median(samples), percentile(samples, 99), percentile(floor, 99)
    print(
        f"decision: p50 {p50:.2f} µs, p99 {p99:.2f} µs; bare arithmetic p99 {f99:.2f} µs "
        f"(ratio {p99 / f99:.1f}); budget p99 < 10 µs"
    )
    return [
        figure("decision_p50_us", p50, "us", median(floor)),
        figure("decision_p99_us", p99, "us", f99),
    ]


def _sqlite_floor(directory: Path, n: int) -> list[float]:
    con = sqlite3.connect(directory / "floor.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        con.execute("BEGIN")
        con.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        con.execute("COMMIT")
        out.append((time.perf_counter_ns() - t0) / 1e6)
    con.close()
    return out


class _SteppingClock:
    """One simulated second per reading pair, so each cycle meets a fresh market tick."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def bench_cycle(trades: int = 1000) -> list[dict[str, object]]:
    """Cycles on a simulated market whose basis always pays, so every measured cycle trades."""
    from bot.config import Settings
    from bot.journal import Journal
    from bot.loans.simulated import build_simulated_loan
    from bot.markets.model import MarketParams
    from bot.metrics import BotMetrics
    from bot.orchestrator.cycle import Orchestrator
    from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue

    paying = MarketParams(basis_mean_gbp_mwh=6.0, basis_sd_gbp_mwh=0.01, dislocation_rate_per_s=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_mapping(
            {
                "DATA_DIR": tmp,
                "TRADING_WINDOW_UTC": "00:00-24:00",
                "EXEC_LATENCY_MS": "0",
                "MAX_DAILY_LOSS_GBP": "1000000000",
            }
        )
        clock = _SteppingClock()
        market = SimulatedMarket(seed=7, clock=clock, params=paying, exec_latency_ms=0)
        journal = Journal.open(settings.journal_url, migrate=True)  # SQLite WAL, synchronous=FULL
        orch = Orchestrator.from_settings(
            settings,
            power=SimulatedPowerVenue(market),
            futures=SimulatedFuturesVenue(market),
            loan=build_simulated_loan(settings),
            journal=journal,
            metrics=BotMetrics(),
            clock=clock,
        )
        orch.load_state()
        traded: list[float] = []
        other = 0

        async def drive() -> None:
            nonlocal other
            for _ in range(trades + 50):
                clock.at += timedelta(seconds=1)
                t0 = time.perf_counter_ns()
                result = await orch.run_once()
                ms = (time.perf_counter_ns() - t0) / 1e6
                if result.outcome == "traded":
                    traded.append(ms)
                else:
                    other += 1

        asyncio.run(drive())
        journal.close()
        floor = _sqlite_floor(Path(tmp), 2000)
    traded = traded[50:]  # warm-up
    if not traded:
        print("cycle: no simulated cycle traded; figure left out", file=sys.stderr)
        return []
    p50, p99, f99 = median(traded), percentile(traded, 99), percentile(floor, 99)
    print(
        f"cycle (trading, durable journal): p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(traded)} trades "
        f"({other} cycles did not trade); one SQLite WAL FULL transaction alone p50 {median(floor):.3f} ms, "
        f"p99 {f99:.3f} ms (ratio {p99 / f99:.1f}); budget p99 < 1 ms"
    )
    return [
        figure("cycle_p50_ms", p50, "ms", median(floor)),
        figure("cycle_p99_ms", p99, "ms", f99),
    ]


def run() -> list[dict[str, object]]:
    return bench_decision() + bench_cycle()


if __name__ == "__main__":
    for row in run():
        print(row)
