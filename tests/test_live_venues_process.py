"""The orchestrator as a user runs it, trading the live adapters against loopback venues.

`python -m bot.orchestrator` runs in a subprocess with USE_POWERLEDGER_LIVE, USE_ICE_LIVE
(ice_rest) and USE_LIVE_FEED on, reaching loopback Powerledger and ICE servers and a binance
stand-in (the CCXT live feed) over real sockets (tests/fixtures/live_venues.py). Each run lasts
RUN_SECONDS (10 s: at 20 ms between cycles that is dozens of cycles; the issue's 60 s adds
nothing but suite time) and must journal at least MIN_TRADES trades.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.market import OrderStatus
from bot.journal import Journal
from bot.journal.records import CycleRecord, CycleStatus
from bot.web.context import ApiOptions
from tests.fixtures.api_server import RunningApi
from tests.fixtures.bot_process import BotProcess, start_bot, trade_count, wait_for
from tests.fixtures.live_venues import LiveVenues, live_venues
from tests.venues.rest_loopback import PL_TOKEN

RUN_SECONDS = 10.0
MIN_TRADES = 5


@pytest.fixture
def venues() -> Iterator[LiveVenues]:
    with live_venues() as started:
        yield started


def _journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


def _cycles(url: str, bot: str) -> list[CycleRecord]:
    journal = Journal.open(url, bot=bot, migrate=False)
    try:
        return [c for t in journal.trades(limit=1000) if (c := journal.cycle(t.cycle_id)) is not None]
    finally:
        journal.close()


def _run(bot: BotProcess, url: str) -> tuple[int, str]:
    """Let the bot trade RUN_SECONDS, then stop it; its trade count and its `orchestrator_info` mode."""
    wait_for(lambda: trade_count(url, bot.bot) >= 1, timeout=30, what=f"a first trade\n{bot.output()}")
    (info,) = [name for name in bot.samples() if name.startswith("orchestrator_info{")]
    time.sleep(RUN_SECONDS)
    assert bot.stop() == 0, bot.output()
    print(f"{bot.bot}: {trade_count(url, bot.bot)} trades journalled in about {RUN_SECONDS:.0f} s")
    return trade_count(url, bot.bot), info.split("mode=", 1)[1].split(",", 1)[0]


def test_live_bot_trades_powerledger_ice_and_the_live_feed(tmp_path: Path, venues: LiveVenues) -> None:
    # given a bot with every venue toggle on against the loopback venues
    url = _journal_url(tmp_path)
    bot = start_bot(tmp_path, "live-desk", url, **venues.live_env())
    # when it runs
    trades, mode = _run(bot, url)
    # then it traded live: trades journalled, none marked paper, each leg's order sent to its venue
    assert trades >= MIN_TRADES, bot.output()
    cycles = _cycles(url, bot.bot)
    assert cycles and not any(c.paper for c in cycles)
    assert all(c.status is CycleStatus.TRADED for c in cycles)
    sent = {o["client_order_id"] for o in venues.powerledger.posts + venues.ice.posts}
    for cycle in cycles:
        assert {o.client_order_id for o in cycle.orders} <= sent
        assert {o.venue for o in cycle.orders} == {"powerledger", "ice"}
    # and the futures book was read from the CCXT feed, which never received an order
    assert any(r[1] == "/api/v3/depth" for r in venues.binance.requests)
    assert venues.binance_orders() == []
    assert mode == "live"


def test_paper_bot_journals_paper_trades_and_sends_no_order(tmp_path: Path, venues: LiveVenues) -> None:
    # given the same bot with PAPER_TRADING=1
    url = _journal_url(tmp_path)
    bot = start_bot(tmp_path, "paper-desk", url, **venues.live_env(PAPER_TRADING="1"))
    # when it runs
    trades, mode = _run(bot, url)
    # then it journalled trades, every cycle marked paper, filled at the live books' prices
    assert trades >= MIN_TRADES, bot.output()
    cycles = _cycles(url, bot.bot)
    assert cycles and all(c.paper for c in cycles)
    for cycle in cycles:
        assert cycle.trade is not None
        assert cycle.trade.power_price_gbp == Decimal("40.00")  # the Powerledger ask
        assert cycle.trade.futures_price_gbp == Decimal("49.50")  # the feed's bid
    # and no venue received an order: only books were read
    assert venues.powerledger.writes() == [] and venues.powerledger.posts == []
    assert venues.ice.writes() == [] and venues.ice.posts == []
    assert venues.binance_orders() == []
    assert any(path.endswith("/orderbook") for _, path in venues.powerledger.seen)
    assert mode == "paper"


def test_kill_9_while_an_order_rests_then_restart_recovers_what_the_venue_filled(
    tmp_path: Path, venues: LiveVenues
) -> None:
    # given a live bot whose Powerledger order rests at the venue (never answered final)
    url = _journal_url(tmp_path)
    venues.powerledger.mode = "rest"
    env = venues.live_env(ORDER_TIMEOUT_SECS="120", ORDER_POLL_INTERVAL="0.05")
    bot = start_bot(tmp_path, "crash-desk", url, **env)
    resting = _wait_for_resting_order(url, bot)
    # and the venue fills part of it while the bot polls
    with venues.powerledger._lock:
        (order,) = [o for o in venues.powerledger.orders.values() if o["client_order_id"] == resting]
        order.update(status=OrderStatus.PARTIALLY_FILLED, filled=Decimal("3.5"), average="40.00")
    wait_for(
        lambda: _journalled_fill(url, bot.bot, resting) == Decimal("3.5"), what="the part fill journalled"
    )
    # when the orchestrator is killed with SIGKILL and started again (with trading off)
    os.kill(bot.proc.pid, signal.SIGKILL)
    bot.proc.wait(timeout=30)
    venues.powerledger.mode = "fill"
    restarted = start_bot(tmp_path, "crash-desk", url, **{**env, "TRADING_ENABLED": "0"})
    try:
        wait_for(lambda: _recovered(url, "crash-desk"), timeout=60, what=f"recovery\n{restarted.output()}")
    finally:
        assert restarted.stop() == 0, restarted.output()
    # then the recovered cycle holds what the venue says was filled: the rest was cancelled there
    (cycle,) = _recovered(url, "crash-desk")
    (power,) = [o for o in cycle.orders if o.client_order_id == resting]
    venue_side = venues.powerledger.orders[power.venue_order_id or ""]
    assert venue_side["status"] is OrderStatus.CANCELLED
    assert ("DELETE", f"/orders/{power.venue_order_id}") in venues.powerledger.seen
    assert power.status is OrderStatus.CANCELLED
    assert power.filled_mwh == venue_side["filled"] == Decimal("3.5")
    assert power.avg_price_gbp == Decimal("40.00")
    # the futures leg was never sent: nothing filled, and the open power leg is reported
    assert venues.ice.posts == []
    assert cycle.reason == "restart_open_leg"
    assert not cycle.paper


def test_restart_while_the_venue_is_down_waits_for_it_then_recovers_and_trades(
    tmp_path: Path, venues: LiveVenues, api_server: Callable[..., RunningApi]
) -> None:
    # given a live bot killed while its Powerledger order rests, part filled at the venue
    url = _journal_url(tmp_path)
    venues.powerledger.mode = "rest"
    env = venues.live_env(ORDER_TIMEOUT_SECS="120", ORDER_POLL_INTERVAL="0.05")
    bot = start_bot(tmp_path, "outage-desk", url, **env)
    resting = _wait_for_resting_order(url, bot)
    with venues.powerledger._lock:
        (order,) = [o for o in venues.powerledger.orders.values() if o["client_order_id"] == resting]
        order.update(status=OrderStatus.PARTIALLY_FILLED, filled=Decimal("3.5"), average="40.00")
    wait_for(lambda: _journalled_fill(url, bot.bot, resting) == Decimal("3.5"), what="the part fill")
    os.kill(bot.proc.pid, signal.SIGKILL)
    bot.proc.wait(timeout=30)
    # when it is started again (trading on) while the Powerledger server is down
    venues.powerledger.server.stop()
    venues.powerledger.mode = "fill"
    restarted = start_bot(tmp_path, "outage-desk", url, **env)
    api = api_server(
        options=ApiOptions(echo_orchestrator_output=False, readiness_ttl_s=0),
        **{
            **env,
            "BOT_NAME": "outage-desk",
            "DATABASE_URL": url,
            "METRICS_PORT": str(restarted.metrics_port),
        },
    )
    try:
        wait_for(
            lambda: _recovery_blocks(restarted) >= 3, timeout=30, what=f"cycles blocked\n{restarted.output()}"
        )
        waiting = restarted.samples()
        held = _readyz(api)
        # then it neither guessed nor traded: the dead cycle is still open and no cycle was journalled
        assert _recovered(url, "outage-desk") == []
        assert _cycle(url, "outage-desk", 2) is None
        assert waiting["recovery_pending{venue=powerledger}"] == 1
        # and it is not ready, naming the venue it waits for (names only)
        assert held.status_code == 503
        checks = {c["name"]: c for c in held.json()["checks"]}
        assert checks["recovery"]["status"] == "fail"
        assert "powerledger" in checks["recovery"]["detail"]
        assert venues.powerledger.url not in held.text and PL_TOKEN not in held.text
        # when the venue comes back
        venues.powerledger.server.start()
        wait_for(
            lambda: _recovered(url, "outage-desk") != [], timeout=60, what=f"recovery\n{restarted.output()}"
        )
        wait_for(lambda: trade_count(url, "outage-desk") >= 1, timeout=60, what="trading to resume")
        wait_for(lambda: _readyz(api).status_code == 200, timeout=30, what="ready")
        resumed = restarted.samples()
    finally:
        assert restarted.stop() == 0, restarted.output()
    # then recovery closed the dead cycle with what the venue says was filled, without a restart
    (cycle,) = _recovered(url, "outage-desk")
    (power,) = [o for o in cycle.orders if o.client_order_id == resting]
    assert power.status is OrderStatus.CANCELLED
    assert power.filled_mwh == Decimal("3.5") and power.avg_price_gbp == Decimal("40.00")
    assert cycle.reason == "restart_open_leg"
    assert resumed["recovery_pending{venue=powerledger}"] == 0
    assert restarted.proc.returncode == 0


def _recovery_blocks(bot: BotProcess) -> float:
    return bot.samples().get("trades_blocked_total{reason=recovery_pending}", 0.0)


def _readyz(api: RunningApi) -> httpx.Response:
    return httpx.get(f"{api.base_url}/readyz", timeout=10)


def _cycle(url: str, bot: str, seq: int) -> Any:
    journal = Journal.open(url, bot=bot, migrate=False)
    try:
        return journal.cycle(f"{bot}-{seq:09d}")
    finally:
        journal.close()


def _wait_for_resting_order(url: str, bot: BotProcess) -> str:
    """The client order id of the power order once the journal holds its venue order id."""
    found: list[str] = []

    def resting() -> bool:
        journal = Journal.open(url, bot=bot.bot, migrate=False)
        try:
            orders = [o for o in journal.open_orders() if o.leg == "power" and o.venue_order_id]
        finally:
            journal.close()
        found[:] = [o.client_order_id for o in orders]
        return bool(found)

    wait_for(resting, timeout=30, what=f"a resting power order\n{bot.output()}")
    return found[0]


def _journalled_fill(url: str, bot: str, client_order_id: str) -> Decimal | None:
    journal = Journal.open(url, bot=bot, migrate=False)
    try:
        return next(
            (o.filled_mwh for o in journal.open_orders() if o.client_order_id == client_order_id), None
        )
    finally:
        journal.close()


def _recovered(url: str, bot: str) -> list[CycleRecord]:
    journal = Journal.open(url, bot=bot, migrate=False)
    try:
        first = journal.cycle(f"{bot}-{1:09d}")
    finally:
        journal.close()
    return [first] if first is not None and first.status is CycleStatus.RECOVERED else []
