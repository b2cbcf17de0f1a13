"""Crash consistency: a writer killed with SIGKILL at a random point never leaves half a cycle.

A real child process journals cycles as fast as it can (write-ahead, order updates, finish,
skipped counters) and prints the sequence of every cycle whose `finish_cycle` returned. The test
kills it at a random moment, several times over the same journal, and after each kill checks
that the journal opens cleanly and that every cycle is either STARTED with all its planned orders
(recoverable) or completely finished, with the daily rows equal to the sum of the cycles.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.journal import CycleStatus, DailyPnl, Journal, schema

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 4

WRITER = r"""
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from bot.domain.market import OrderStatus, Side
from bot.journal import CostBreakdown, CycleRecord, CycleStatus, Journal, OrderRecord, TradeRecord

journal = Journal.open(sys.argv[1], migrate=False)
day0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
seq = journal.next_cycle_seq()
while True:
    cycle_id = f"crash-{seq:09d}"
    at = day0 + timedelta(days=seq % 3, seconds=seq)
    power = OrderRecord(f"{cycle_id}-power-entry", cycle_id, "power", "sim-power", Side.BUY, "entry",
                        D("10"), D("-1.5"), OrderStatus.NEW, D(0), None, None, at, at)
    futures = OrderRecord(f"{cycle_id}-futures-exit", cycle_id, "futures", "sim-futures", Side.SELL, "exit",
                          D("10"), D("48.25"), OrderStatus.NEW, D(0), None, None, at, at)
    cycle = CycleRecord(cycle_id, seq, at, None, CycleStatus.STARTED, None, D("-1.5"), D("48.25"),
                        D("49.75"), D("10"), D("495"), D(0), (power, futures))
    journal.begin_cycle(cycle)
    journal.update_orders([replace(power, status=OrderStatus.OPEN, venue_order_id=f"v{seq}")])
    done = at + timedelta(milliseconds=30)
    if seq % 4 == 0:
        net = -D(seq % 7) - D("0.13")
        orders = (replace(power, status=OrderStatus.FILLED, filled_mwh=D(10), avg_price_gbp=D("-1.5")),
                  replace(futures, status=OrderStatus.REJECTED))
        final = replace(cycle, status=CycleStatus.UNWOUND, reason="futures_rejected", finished_at=done,
                        realised_gbp=net, orders=orders)
    else:
        net = D(seq % 11) + D("0.37")
        costs = CostBreakdown(D("0.1"), D("0.2"), D("0.03"), D("0.5"), D(0))
        trade = TradeRecord(cycle_id, done, D(10), D("-1.5"), D("48.25"), D("15"), net + costs.total_gbp,
                            costs, net)
        orders = (replace(power, status=OrderStatus.FILLED, filled_mwh=D(10), avg_price_gbp=D("-1.5")),
                  replace(futures, status=OrderStatus.FILLED, filled_mwh=D(10), avg_price_gbp=D("48.25")))
        final = replace(cycle, status=CycleStatus.TRADED, finished_at=done, realised_gbp=net, orders=orders,
                        trade=trade)
    journal.finish_cycle(final)
    journal.count_skipped(done.date(), "blocked", "stale_quote")
    print(seq, flush=True)
    seq += 1
"""


def run_and_kill(url: str, rng: random.Random) -> list[int]:
    """Start the writer, let it finish a random number of cycles, SIGKILL it mid-run."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    target = rng.randint(2, 12)
    try:
        while len(acknowledged) < target:
            line = child.stdout.readline()
            if not line:
                raise AssertionError(f"writer exited early: {child.stderr.read() if child.stderr else ''}")
            acknowledged.append(int(line))
        time.sleep(rng.uniform(0, 0.003))  # land anywhere inside the next cycle's transactions
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    return acknowledged


def check_consistent(url: str, acknowledged: list[int]) -> None:
    """Every cycle is recoverable or whole; the day rows equal the sum of their cycles."""
    journal = Journal.open(url)  # opens cleanly after the kill
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            cycles = conn.execute(sa.select(schema.cycles)).all()
            order_rows = conn.execute(sa.select(schema.orders)).all()
            trade_ids = set(conn.execute(sa.select(schema.trades.c.cycle_id)).scalars())
        orders = defaultdict(list)
        for row in order_rows:
            orders[row.cycle_id].append(row)
        finished = {c.seq for c in cycles if c.status != CycleStatus.STARTED.value}
        assert set(acknowledged) <= finished, "a cycle whose finish_cycle returned was lost"
        assert journal.next_cycle_seq() == max(c.seq for c in cycles) + 1
        expected: dict[object, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0, 0])
        for c in cycles:
            statuses = sorted(o.status for o in orders[c.cycle_id])
            if c.status == CycleStatus.STARTED.value:
                assert len(statuses) == 2, f"{c.cycle_id} STARTED without its planned orders"
                assert c.cycle_id not in trade_ids and c.finished_at is None
                continue
            day = c.finished_at.date()
            expected[day][0] += c.realised_gbp
            expected[day][1] += -c.realised_gbp if c.realised_gbp < 0 else Decimal(0)
            if c.status == CycleStatus.TRADED.value:
                assert c.cycle_id in trade_ids, f"{c.cycle_id} traded without its trade"
                assert statuses == ["FILLED", "FILLED"]
                expected[day][2] += 1
            else:
                assert c.status == CycleStatus.UNWOUND.value
                assert c.cycle_id not in trade_ids
                assert statuses == ["FILLED", "REJECTED"]
                expected[day][3] += 1
        for day, (realised, loss, trades, unwound) in expected.items():
            assert journal.daily_pnl(day) == DailyPnl(day, realised, loss, trades, unwound)  # type: ignore[arg-type]
    finally:
        engine.dispose()
        journal.close()


@pytest.mark.slow
def test_a_writer_killed_at_random_points_leaves_a_consistent_journal(journal_url: str) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    Journal.open(journal_url).close()  # migrated before the first writer starts
    acknowledged: list[int] = []
    for round_ in range(ROUNDS):
        acknowledged += run_and_kill(journal_url, rng)
        try:
            check_consistent(journal_url, acknowledged)
        except AssertionError as exc:
            raise AssertionError(f"after kill {round_ + 1} (seed {seed}): {exc}") from exc
