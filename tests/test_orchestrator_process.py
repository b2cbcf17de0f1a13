"""`python -m bot.orchestrator` as a user runs it: its exporter, signals, a kill and a restart."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain.market import OrderStatus
from bot.journal import Journal
from bot.journal.records import CycleStatus
from bot.venues.sim_ledger import LEDGER_FILE, read_ledger
from tests.fixtures.bot_env import simulated_bot_env

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return (
        simulated_bot_env(data_dir, METRICS_PORT=str(port), CYCLE_INTERVAL_SECS="0.02", LOG_FORMAT="json")
        | extra
    )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], int]]]:
    procs: list[subprocess.Popen[str]] = []

    def _start(data_dir: Path | None = None, **extra: str) -> tuple[subprocess.Popen[str], int]:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.orchestrator"],
            env=bot_env(data_dir or tmp_path, port, **extra),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc, port

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + (
                "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else ""
            )
            samples[key] = s.value
    return samples


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_exporter_serves_every_documented_series_in_valid_exposition_format(start) -> None:
    proc, port = start()
    wait_for(lambda: scrape(port).get("cycles_total{outcome=no_trade}", 0) > 0, what="cycles")
    samples = scrape(port)  # parsed by prometheus_client's exposition parser
    for name in (
        "trades_blocked_total{reason=daily_loss_limit}",
        "trades_executed_total",
        "profit_positive_total",
        "profit_negative_total",
        "daily_loss",
        "daily_pnl",
        "daily_loss_limit",
        "last_spread",
        "last_power_ask",
        "last_futures_bid",
        "market_data_age_seconds{leg=power}",
        "trading_window_open",
        "trading_enabled",
        "last_trade_timestamp_seconds",
        "trade_partial_failures_total",
        "journal_errors_total",
        "cycle_duration_seconds_count",
        "orchestrator_info{bot=flash-green,mode=simulated,version=0.1.0}",
    ):
        assert name in samples, name
    assert samples["daily_loss_limit"] == 500 and samples["trading_window_open"] == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_sigterm_in_the_middle_of_a_cycle_unwinds_it_at_the_deadline_and_exits_zero(
    start, tmp_path: Path
) -> None:
    # every order rests unfilled until cancelled, so the cycle is in flight when SIGTERM lands;
    # the order keeps its deadline, is cancelled then, and the cycle unwound
    proc, port = start(
        SIM_FAULTS="order_timeout=1.0",
        ORDER_TIMEOUT_SECS="2",
        ORDER_POLL_INTERVAL="0.05",
        MIN_PROFIT_GBP="0",
        SIM_SEED="11",
    )
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    wait_for(lambda: bool(scrape(port)), what="the orchestrator, journal migrated")
    journal = Journal.open(url, migrate=False)
    try:
        wait_for(lambda: bool(journal.incomplete_cycles()), timeout=60, what="a cycle in flight")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert journal.incomplete_cycles() == []
        (cycle,) = [journal.cycle(f"flash-green-{seq:09d}") for seq in range(1, journal.next_cycle_seq())]
        assert cycle.status is CycleStatus.UNWOUND and cycle.reason == "order_timeout"
    finally:
        journal.close()


def test_sigterm_while_the_hedge_rests_lets_it_work_finishes_the_cycle_and_exits_zero(
    start, tmp_path: Path
) -> None:
    # given venues where every order rests 1.5 s before it is matched, well inside its deadline
    proc, port = start(
        SIM_REST_MS="1500",
        SIM_LEDGER="1",
        ORDER_TIMEOUT_SECS="30",
        ORDER_POLL_INTERVAL="0.05",
        MIN_PROFIT_GBP="0",
        SIM_SEED="11",
    )
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    wait_for(lambda: bool(scrape(port)), what="the orchestrator, journal migrated")
    journal = Journal.open(url, migrate=False)
    try:

        def resting_hedge() -> str | None:
            # what the venue holds: a hedge accepted and resting on its book
            for cid, entry in read_ledger(tmp_path / LEDGER_FILE).items():
                if cid.endswith("-futures-exit") and entry.state.status is OrderStatus.OPEN:
                    return cid.removesuffix("-futures-exit")
            return None

        wait_for(lambda: resting_hedge() is not None, timeout=90, what="a hedge resting at the venue")
        cycle_id = resting_hedge()
        assert cycle_id is not None
        # when SIGTERM lands while the hedge rests
        proc.send_signal(signal.SIGTERM)
        # then the process finishes the cycle and exits 0
        assert proc.wait(timeout=60) == 0
        cycle = journal.cycle(cycle_id)
        assert cycle is not None and cycle.status in (CycleStatus.TRADED, CycleStatus.UNWOUND)
        assert journal.incomplete_cycles() == []
        # the hedge was matched by the venue, never cancelled by the bot before its deadline
        hedge = read_ledger(tmp_path / LEDGER_FILE)[f"{cycle_id}-futures-exit"].state
        assert hedge.status.is_final and hedge.reason != "cancelled by client", hedge
        # and no cycle started after the stop
        assert journal.next_cycle_seq() == cycle.seq + 1
    finally:
        journal.close()


def test_a_second_orchestrator_on_the_same_data_refuses_to_start(start, tmp_path: Path) -> None:
    first, port = start()
    wait_for(lambda: scrape(port) is not None, what="first orchestrator")
    second, _ = start()
    assert second.wait(timeout=30) == 3
    output = second.stdout.read() if second.stdout else ""
    assert f"pid {first.pid}" in output and "already running" in output
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0


def test_a_bad_configuration_exits_two_naming_every_problem(start) -> None:
    proc, _ = start(USE_ICE_LIVE="1", LOAN_LIMIT_GBP="-5")
    assert proc.wait(timeout=30) == 2
    output = proc.stdout.read() if proc.stdout else ""
    for name in ("ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET", "LOAN_LIMIT_GBP"):
        assert name in output


def test_a_killed_process_leaves_a_journal_the_restart_recovers(start, tmp_path: Path) -> None:
    proc, port = start(
        SIM_FAULTS="order_timeout=1.0", ORDER_TIMEOUT_SECS="60", MIN_PROFIT_GBP="0", SIM_SEED="11"
    )
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    wait_for(lambda: bool(scrape(port)), what="the orchestrator, journal migrated")
    journal = Journal.open(url, migrate=False)
    try:
        wait_for(lambda: bool(journal.incomplete_cycles()), timeout=60, what="a cycle in flight")
        proc.kill()  # SIGKILL: no chance to unwind
        proc.wait(timeout=10)
        (stuck,) = journal.incomplete_cycles()
        assert stuck.status is CycleStatus.STARTED

        restarted, port = start()
        wait_for(lambda: journal.incomplete_cycles() == [], what="recovery")
        recovered = journal.cycle(stuck.cycle_id)
        assert recovered.status is CycleStatus.RECOVERED
        wait_for(
            lambda: (
                journal.next_cycle_seq() > stuck.seq + 1 or scrape(port)["cycles_total{outcome=no_trade}"] > 0
            ),
            what="trading after recovery",
        )
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=20) == 0
        # the day's PnL is the sum of its finished cycles: nothing half written
        day = recovered.started_at.date()
        finished = [journal.cycle(f"flash-green-{s:09d}") for s in range(1, journal.next_cycle_seq())]
        assert all(c.status is not CycleStatus.STARTED for c in finished)
        assert journal.daily_pnl(day).realised_gbp == sum(c.realised_gbp for c in finished)
    finally:
        journal.close()


@pytest.mark.slow
def test_the_default_simulated_bot_trades_within_minutes(start) -> None:
    # the README's promise: defaults (100 ms execution latency, one-second cycles), window open
    proc, port = start(EXEC_LATENCY_MS="100", CYCLE_INTERVAL_SECS="1.0")
    # a paying spread comes within a minute from about 88% of starting seconds (docs/simulation.md)
    wait_for(lambda: scrape(port).get("trades_executed_total", 0) >= 1, timeout=150, what="a trade")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
