"""Restart drills: the bot SIGKILLed at each order boundary of each unwind path, then restarted.

A real `python -m bot.orchestrator` runs against simulated venues that keep a ledger of what they
filled (`SIM_LEDGER=1`) and kill their own process at one order's boundary (`SIM_KILL_AT`):
`before` (the bot has journalled the order and calls `place()`) or `after` (the venue has filled
it and written its ledger; the bot has not heard the answer). A second process, not trading,
recovers the cycle; what it journals must be what the venues really hold.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.market import Side
from bot.domain.pnl import money
from bot.journal import Journal
from bot.journal.records import CycleRecord, CycleStatus
from bot.venues.sim_ledger import LEDGER_FILE, LedgerEntry, read_ledger
from tests.fixtures.bot_env import simulated_bot_env

ZERO = Decimal(0)

# (SIM_FAULTS, SIM_KILL_AT): every order boundary of the unwind paths the faults drive
DRILLS = [
    # the hedge is rejected: the power bought is sold back
    ("futures_reject=1.0", "futures-exit:after"),
    ("futures_reject=1.0", "power-unwind:before"),
    ("futures_reject=1.0", "power-unwind:after"),
    # every order fills half: the unhedged power is sold back in three attempts, the last leaves some
    ("partial_fill=1.0", "futures-exit:after"),
    ("partial_fill=1.0", "power-unwind:before"),
    ("partial_fill=1.0", "power-unwind:after"),
    ("partial_fill=1.0", "power-unwind-2:before"),
    ("partial_fill=1.0", "power-unwind-2:after"),
    ("partial_fill=1.0", "power-unwind-3:after"),
]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def _start(**settings: str) -> subprocess.Popen[str]:
        env = simulated_bot_env(
            tmp_path, METRICS_PORT="0", CYCLE_INTERVAL_SECS="0.02", SIM_LEDGER="1", SIM_SEED="11", **settings
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.orchestrator"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def held(orders: list[tuple[str, Side, Decimal, Decimal | None]]) -> tuple[Decimal, Decimal, Decimal]:
    """Net power MWh, net futures MWh and cash (GBP, to the penny) of (leg, side, filled, price)."""
    net = {"power": ZERO, "futures": ZERO}
    cash = ZERO
    for leg, side, filled, price in orders:
        if filled <= ZERO or price is None:
            continue
        net[leg] += filled if side is Side.BUY else -filled
        cash += filled * price if side is Side.SELL else -filled * price
    return net["power"], net["futures"], money(cash)


def at_the_venues(ledger: dict[str, LedgerEntry], cycle_id: str) -> tuple[Decimal, Decimal, Decimal]:
    mine = [e for cid, e in ledger.items() if cid.startswith(f"{cycle_id}-")]
    return held([(e.order.leg, e.order.side, e.state.filled_quantity, e.state.average_price) for e in mine])


def in_the_journal(cycle: CycleRecord) -> tuple[Decimal, Decimal, Decimal]:
    return held([(o.leg, o.side, o.filled_mwh, o.avg_price_gbp) for o in cycle.orders])


@pytest.mark.parametrize(("faults", "kill_at"), DRILLS)
def test_a_bot_killed_at_an_order_boundary_recovers_what_the_venues_hold(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path, faults: str, kill_at: str
) -> None:
    # given a bot killed (SIGKILL) at one order boundary of an unwind path
    killed = start(SIM_FAULTS=faults, SIM_KILL_AT=kill_at, MIN_PROFIT_GBP="0")
    assert killed.wait(timeout=120) == -signal.SIGKILL, killed.stdout.read() if killed.stdout else ""
    journal = Journal.open(f"sqlite:///{tmp_path / 'journal.db'}", migrate=False)
    try:
        (stuck,) = journal.incomplete_cycles()

        # when it restarts (not trading: recovery alone)
        restarted = start(TRADING_ENABLED="0")
        for _ in range(600):
            if journal.incomplete_cycles() == [] or restarted.poll() is not None:
                break
            time.sleep(0.05)
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
        log = restarted.stdout.read() if restarted.stdout else ""

        # then the recovered cycle holds what the venues filled: position and cash
        recovered = journal.cycle(stuck.cycle_id)
        assert recovered is not None and recovered.status is CycleStatus.RECOVERED, log
        assert recovered.finished_at is not None
        power, futures, cash = at_the_venues(read_ledger(tmp_path / LEDGER_FILE), stuck.cycle_id)
        assert in_the_journal(recovered) == (power, futures, cash), log
        assert recovered.realised_gbp == cash
        assert journal.daily_pnl(recovered.finished_at.date()).realised_gbp == cash
        # and only a position the venues really hold is reported open, for the desk to close
        flat = power == -futures
        assert recovered.reason == ("restart" if flat else "restart_open_leg")
        assert ("open position" in log) is not flat, log
    finally:
        journal.close()
