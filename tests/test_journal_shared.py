"""Many bots, one PostgreSQL database: each bot's journal, /pnl and /trades are its own.

Three real orchestrator processes trade at the same time on one database; then the real API app,
served for each bot, answers with that bot's trades and PnL only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.journal import Journal
from tests.fixtures.api_server import API_KEY, make_settings, start_api
from tests.fixtures.bot_process import start_bot, trade_count, wait_for

BOTS = ("desk-a", "desk-b", "desk-c")
HEADERS = {"X-API-Key": API_KEY}

pytestmark = pytest.mark.postgres


def test_three_bots_trading_at_once_on_one_database_each_see_only_their_own(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    url = fresh_postgres_url
    bots = [start_bot(tmp_path, name, url) for name in BOTS]
    try:
        for bot in bots:
            wait_for(lambda bot=bot: trade_count(url, bot.bot) >= 3, timeout=120, what=f"{bot.bot} trading")
        for bot in bots:
            assert bot.proc.poll() is None, bot.output()  # none refused, none blocked
    finally:
        codes = [bot.stop() for bot in bots]
    assert codes == [0, 0, 0]

    today = datetime.now(UTC).date()
    for name in BOTS:
        journal = Journal.open(url, bot=name, migrate=False)
        try:
            last = journal.next_cycle_seq() - 1
            found = [journal.cycle(f"{name}-{seq:09d}") for seq in range(1, last + 1)]
            own = [cycle for cycle in found if cycle is not None]
            assert len(own) == last  # its own sequence, from 1, contiguous
            trades = journal.trades(limit=1000)
            expected_pnl = journal.daily_pnl(today)
        finally:
            journal.close()
        api = start_api(
            make_settings(tmp_path / f"api-{name}", BOT_NAME=name, DATABASE_URL=url, API_KEY=API_KEY)
        )
        try:
            page = httpx.get(f"{api.base_url}/trades?limit=500", headers=HEADERS).json()
            pnl = httpx.get(f"{api.base_url}/pnl?days=1", headers=HEADERS).json()
        finally:
            api.stop()
        ids = [item["cycle_id"] for item in page["items"]]
        assert page["total"] == len(trades) == len(ids) >= 3
        assert all(cycle_id.startswith(f"{name}-") for cycle_id in ids), ids
        assert ids == [trade.cycle_id for trade in trades]
        assert Decimal(pnl["today"]["realised_gbp"]) == expected_pnl.realised_gbp
        assert pnl["today"]["trades"] == expected_pnl.trades
        finished_today = [c for c in own if c.finished_at is not None and c.finished_at.date() == today]
        assert expected_pnl.realised_gbp == sum((c.realised_gbp for c in finished_today), Decimal(0))
