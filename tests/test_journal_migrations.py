"""Journal migrations: up, down, up again on both engines, concurrency, CLI and offline SQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import bot.journal
from bot.journal import Journal, JournalError, head_revision, migrate_database, schema

JOURNAL_TABLES = {"cycles", "orders", "trades", "daily_pnl", "cycle_counts", "audit_log"}
ALEMBIC_INI = Path(bot.journal.__file__).with_name("alembic.ini")


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_go_up_to_head_down_to_base_and_up_again(journal_url: str) -> None:
    journal = Journal.open(journal_url, migrate=False)
    try:
        assert journal.current_revision() is None
        journal.migrate()
        assert journal.current_revision() == head_revision()
        assert JOURNAL_TABLES <= tables(journal_url)
        journal.downgrade("base")
        assert journal.current_revision() is None
        assert not JOURNAL_TABLES & tables(journal_url)
        journal.migrate()
        assert journal.current_revision() == head_revision()
        assert journal.next_cycle_seq() == 1
    finally:
        journal.close()


def test_the_migrated_database_matches_the_schema_the_code_uses(journal_url: str) -> None:
    Journal.open(journal_url).close()
    engine = sa.create_engine(journal_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, schema.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_migrate_database_works_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a working directory that holds no alembic.ini or migrations
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{tmp_path / 'data' / 'journal.db'}"
    # when `flash-green migrate` runs its function
    revision = migrate_database(url)
    # then the journal is at head
    assert revision == head_revision()
    assert JOURNAL_TABLES <= tables(url)


def test_migrate_database_downgrades_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    migrate_database(url)
    assert migrate_database(url, "base", downgrade=True) is None
    assert not JOURNAL_TABLES & tables(url)


def test_two_processes_migrating_at_once_both_succeed(journal_url: str) -> None:
    # the orchestrator and the API start together on an empty database
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            migrate_database(journal_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    journal = Journal.open(journal_url, migrate=False)
    try:
        assert journal.current_revision() == head_revision()
    finally:
        journal.close()


def test_a_database_from_a_newer_release_is_refused_with_what_to_do(journal_url: str) -> None:
    Journal.open(journal_url).close()
    engine = sa.create_engine(journal_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(JournalError, match="newer flash-green"):
        Journal.open(journal_url)


def test_the_alembic_cli_migrates_with_the_shipped_config(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "-x", f"url={url}", "upgrade", "head"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert JOURNAL_TABLES <= tables(url)


def test_the_alembic_cli_prints_postgresql_ddl_for_a_database_administrator(tmp_path: Path) -> None:
    url = "postgresql+psycopg://journal@db.example.internal:5432/journal"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ALEMBIC_INI),
            "-x",
            f"url={url}",
            "upgrade",
            "head",
            "--sql",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE trades" in done.stdout
    assert "NUMERIC(18, 8)" in done.stdout
    assert "TIMESTAMP WITH TIME ZONE" in done.stdout


def test_upgrading_to_0002_gives_each_existing_row_its_bot(journal_url: str) -> None:
    # given a 0001 journal of bot "desk-old" (the one bot a journal held before 0002)
    migrate_database(journal_url, "0001")
    engine = sa.create_engine(journal_url)
    stamp = "2025-06-02T09:30:00.000000+00:00" if journal_url.startswith("sqlite") else "2025-06-02 09:30+00"
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO cycles (cycle_id, seq, started_at, status, realised_gbp) "
                    "VALUES ('desk-old-000000001', 1, :at, 'traded', 0)"
                ),
                {"at": stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO orders (client_order_id, cycle_id, leg, venue, side, purpose, quantity_mwh, "
                    "limit_price_gbp, status, filled_mwh, created_at, updated_at) VALUES "
                    "('desk-old-000000001-power-entry', 'desk-old-000000001', 'power', 'sim', 'BUY', "
                    "'entry', 1, 1, 'FILLED', 1, :at, :at)"
                ),
                {"at": stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO daily_pnl (day, realised_gbp, loss_gbp, trades, unwound) "
                    "VALUES ('2025-06-02', 0, 0, 1, 0)"
                )
            )
    finally:
        engine.dispose()
    # when it is upgraded by a process whose BOT_NAME is something else
    assert migrate_database(journal_url, bot="configured-name") == head_revision()
    # then every row is the bot's whose cycle ids it holds, and that bot reads them back
    old = Journal.open(journal_url, bot="desk-old", migrate=False)
    other = Journal.open(journal_url, bot="configured-name", migrate=False)
    try:
        assert old.next_cycle_seq() == 2 and other.next_cycle_seq() == 1
        cycle = old.cycle("desk-old-000000001")
        assert cycle is not None and [o.client_order_id for o in cycle.orders] == [
            "desk-old-000000001-power-entry"
        ]
        day = old.daily_pnl(cycle.started_at.date())
        assert day.trades == 1 and other.daily_pnl(day.day).trades == 0
        assert other.cycle("desk-old-000000001") is None
    finally:
        old.close()
        other.close()
