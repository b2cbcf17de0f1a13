"""The journal coming back: PostgreSQL stopped under a running bot, then started again.

A real orchestrator process trades on a PostgreSQL server of the test's own; `pg_ctl stop` takes
the database away mid-flight. While it is away the API's /readyz says not ready and the bot's
`journal_errors_total` grows; once `pg_ctl start` brings it back, trading resumes by itself (no
restart) and the journal has every cycle once: contiguous ids, no order twice, no cycle left open.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.journal import Journal
from tests.fixtures.api_server import make_settings, start_api
from tests.fixtures.bot_process import start_bot, trade_count, wait_for
from tests.fixtures.postgres import PostgresCluster

BOT = "desk-resilient"

pytestmark = pytest.mark.postgres


def _ready(base_url: str) -> int:
    return httpx.get(f"{base_url}/readyz", timeout=10).status_code


def test_trading_resumes_by_itself_when_the_database_comes_back(
    own_postgres: PostgresCluster, tmp_path: Path
) -> None:
    url = own_postgres.server.create_database("journal")
    bot = start_bot(tmp_path, BOT, url)
    api = None
    try:
        wait_for(lambda: trade_count(url, BOT) >= 2, timeout=120, what="trades before the outage")
        api = start_api(make_settings(tmp_path / "api", BOT_NAME=BOT, DATABASE_URL=url))
        wait_for(lambda: _ready(api.base_url) == 200, what="ready before the outage")

        # when the database goes away under the running bot
        own_postgres.stop()
        before = bot.samples()["journal_errors_total"]
        wait_for(lambda: _ready(api.base_url) == 503, what="/readyz not ready while the database is down")
        wait_for(lambda: bot.samples()["journal_errors_total"] > before, what="journal errors counted")
        checks = httpx.get(f"{api.base_url}/readyz", timeout=10).json()["checks"]
        assert {"name": "journal", "status": "fail", "detail": "unreachable"} in checks

        # and comes back
        own_postgres.start()
        wait_for(lambda: _ready(api.base_url) == 200, what="/readyz ready again")
        resumed = trade_count(url, BOT)
        wait_for(lambda: trade_count(url, BOT) >= resumed + 3, timeout=120, what="trading resuming")
        assert bot.proc.poll() is None, bot.output()  # the same process, never restarted
    finally:
        if api is not None:
            api.stop()
        code = bot.stop()
    assert code == 0

    journal = Journal.open(url, bot=BOT, migrate=False)
    try:
        last = journal.next_cycle_seq() - 1
        found = [journal.cycle(f"{BOT}-{seq:09d}") for seq in range(1, last + 1)]
        cycles = [cycle for cycle in found if cycle is not None]
        assert len(cycles) == last  # nothing lost: contiguous cycle ids
        assert journal.incomplete_cycles() == []  # nothing left half written
        orders = Counter(order.client_order_id for cycle in cycles for order in cycle.orders)
        assert orders and max(orders.values()) == 1  # no order twice
        assert all(
            o.startswith(f"{c.cycle_id}-") for c in cycles for o in (x.client_order_id for x in c.orders)
        )
        traded = [cycle for cycle in cycles if cycle.trade is not None]
        assert journal.count_trades() == len(traded)
        today = datetime.now(UTC).date()
        finished_today = [c for c in cycles if c.finished_at is not None and c.finished_at.date() == today]
        assert journal.daily_pnl(today).realised_gbp == sum(
            (c.realised_gbp for c in finished_today), Decimal(0)
        )
    finally:
        journal.close()
