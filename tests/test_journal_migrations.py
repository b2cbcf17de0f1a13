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
