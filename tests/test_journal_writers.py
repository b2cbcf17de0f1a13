"""One writer per bot: a second orchestrator with the same BOT_NAME on one journal is refused.

Real `python -m bot.orchestrator` processes, each with its own DATA_DIR (so the per-directory
pid lock does not see the other), on one SQLite file or one PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.journal import Journal, WriterBusy
from bot.orchestrator.lock import EXIT_ALREADY_RUNNING
from tests.fixtures.bot_process import start_bot, trade_count, wait_for
from tests.fixtures.postgres import PostgresServer

BOT = "desk-one"


def _second_is_refused_and_the_first_keeps_its_books(url: str, tmp_path: Path) -> tuple[int, str]:
    first = start_bot(tmp_path, BOT, url)
    try:
        wait_for(lambda: trade_count(url, BOT) >= 2, what="the first orchestrator trading")
        # when a second orchestrator for the same bot starts on the same journal
        second = start_bot(tmp_path, BOT, url)
        code = second.proc.wait(timeout=60)
        refusal = second.output()
        # then the first trades on, alone
        traded = trade_count(url, BOT)
        wait_for(lambda: trade_count(url, BOT) > traded, what="the first orchestrator trading on")
        assert first.stop() == 0
    finally:
        first.stop()
    journal = Journal.open(url, bot=BOT, migrate=False)
    try:
        last = journal.next_cycle_seq() - 1
        found = [journal.cycle(f"{BOT}-{seq:09d}") for seq in range(1, last + 1)]
        cycles = [cycle for cycle in found if cycle is not None]
        assert len(cycles) == last  # one writer: contiguous sequence, no cycle overwritten
        assert journal.incomplete_cycles() == []
        day = cycles[-1].started_at.date()
        assert journal.daily_pnl(day).realised_gbp == sum(c.realised_gbp for c in cycles)
    finally:
        journal.close()
    assert "already has a writer" in refusal
    return code, refusal


def test_a_second_orchestrator_for_the_bot_on_one_sqlite_file_exits_naming_the_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'journal.db'}"
    code, refusal = _second_is_refused_and_the_first_keeps_its_books(url, tmp_path)
    assert code == EXIT_ALREADY_RUNNING
    assert "pid " in refusal and "host " in refusal
    assert str(tmp_path / "shared") in refusal  # the lock is beside the database, not in DATA_DIR


@pytest.mark.postgres
def test_a_second_orchestrator_for_the_bot_on_one_postgres_database_exits_naming_the_holder(
    postgres_server: PostgresServer, fresh_postgres_url: str, tmp_path: Path
) -> None:
    code, refusal = _second_is_refused_and_the_first_keeps_its_books(fresh_postgres_url, tmp_path)
    assert code == EXIT_ALREADY_RUNNING
    assert "PostgreSQL backend pid" in refusal and "application_name" in refusal


def test_the_writer_lock_names_its_holder_and_is_free_again_once_closed(journal_url: str) -> None:
    first = Journal.open(journal_url, bot=BOT, writer=True)
    try:
        with pytest.raises(WriterBusy, match="already has a writer"):
            Journal.open(journal_url, bot=BOT, writer=True)
        other_bot = Journal.open(journal_url, bot="desk-two", writer=True)  # another bot: not blocked
        other_bot.close()
        Journal.open(journal_url, bot=BOT).close()  # a reader (the API) never takes it
    finally:
        first.close()
    Journal.open(journal_url, bot=BOT, writer=True).close()
