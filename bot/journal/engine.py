"""Journal URLs and engines: which databases are accepted, and how each is configured.

SQLite (the default file under DATA_DIR) runs in WAL mode with `synchronous=FULL`, foreign keys
on, and a busy timeout so the API process reads while the orchestrator writes; write transactions
start with `BEGIN IMMEDIATE` so two writers queue instead of failing, and WAL checkpoints run on a
background thread (`Checkpointer`), off the cycle's commits. PostgreSQL is reached through
psycopg 3 (`postgresql+psycopg://`) with `pool_pre_ping`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from bot.journal.errors import JournalError, describe_failure

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_PAGE_SIZE = 2048
SQLITE_AUTOCHECKPOINT_PAGES = 32768  # 64 MiB of WAL
SQLITE_CHECKPOINT_INTERVAL_S = 1.0
THROWAWAY_JOURNAL_MODE = "MEMORY"  # the rollback journal of a file opened with durable=False
POOL_SIZE = 2
POOL_MAX_OVERFLOW = 6
POOL_TIMEOUT_S = 10
PG_CONNECT_TIMEOUT_S = 5
PG_POOL_RECYCLE_S = 1800
_URL_FORMS = "use sqlite:///path/to/journal.db or postgresql+psycopg://user@host:5432/dbname"

log = logging.getLogger("bot.journal")


def parse_url(url: str) -> URL:
    """Parse and normalise a journal URL; never echo the URL back (it may carry a password)."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise JournalError(f"DATABASE_URL is not a valid database URL: {_URL_FORMS}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # the only PostgreSQL driver installed
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise JournalError(f"unsupported journal database {parsed.drivername!r}: {_URL_FORMS}")
    return parsed


def url_password(url: URL) -> str | None:
    """The password in `url`, if any: the text to scrub from error messages."""
    return url.password if isinstance(url.password, str) else None


def is_sqlite(url: URL) -> bool:
    """Whether `url` names a SQLite database (a file or in memory)."""
    return url.get_backend_name() == "sqlite"


def is_memory(url: URL) -> bool:
    """Whether `url` is an in-memory SQLite database (tests only: it lives in one connection)."""
    return is_sqlite(url) and url.database in (None, "", ":memory:")


def sqlite_file(url: URL) -> str | None:
    """The SQLite file `url` names, or None for PostgreSQL and in-memory databases."""
    if not is_sqlite(url) or is_memory(url):
        return None
    return url.database or None


def open_engine(url: URL, *, durable: bool = True) -> Engine:
    """A small pooled engine for `url`, configured for the journal's durability and concurrency.

    `durable=False` (SQLite only) is for a throwaway file that is renamed into place once
    complete, such as a replay's output: commits are not fsynced (`synchronous=OFF`). Statements
    and transactions are the same; only a machine crash mid-run can lose or corrupt such a file,
    and a half-written one is discarded anyway. Creates a SQLite file's directory first. Raises
    JournalError (no password in it) when the directory cannot be created or the driver is missing.
    """
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
    elif not durable:
        raise JournalError("a journal that is not durable must be a SQLite file")
    try:
        return _sqlite_engine(url, durable=durable) if is_sqlite(url) else _postgresql_engine(url)
    except (sa_exc.SQLAlchemyError, ImportError) as exc:
        raise JournalError(
            f"cannot use the journal at {url.render_as_string(hide_password=True)}: "
            f"{describe_failure(exc, url_password(url))}"
        ) from None


def _sqlite_engine(url: URL, *, durable: bool) -> Engine:
    # The pool hands a connection to one thread at a time, so sqlite3's same-thread check is moot.
    connect_args = {"check_same_thread": False}
    if is_memory(url) or not durable:
        # One shared connection: an in-memory database exists only inside it (tests only); a
        # throwaway file is held by its one connection alone (see `_configure_sqlite`).
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args=connect_args)
    else:
        engine = sa.create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_MAX_OVERFLOW,
            pool_timeout=POOL_TIMEOUT_S,
            connect_args=connect_args,
        )
    _configure_sqlite(engine, wal=durable and not is_memory(url), durable=durable)
    return engine


def _postgresql_engine(url: URL) -> Engine:
    return sa.create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,  # a server restart or a proxy timeout must not fail the next cycle
        pool_recycle=PG_POOL_RECYCLE_S,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "options": "-c TimeZone=UTC"},
    )


def _configure_sqlite(engine: Engine, *, wal: bool, durable: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions behind our back: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            # Only takes effect on a new file. Every commit appends each page it touched to the
            # WAL and fsyncs it; half-size pages halve the bytes a cycle's two commits write.
            cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
            if not durable:
                # A throwaway file (a replay's output) is written by this one connection only: it
                # keeps its lock from the first write to its close instead of taking and releasing
                # file locks at every transaction, and keeps the rollback journal in memory.
                cursor.execute("PRAGMA locking_mode = EXCLUSIVE")
                cursor.execute(f"PRAGMA journal_mode = {THROWAWAY_JOURNAL_MODE}")
            if wal:
                _switch_to_wal(cursor)
                # Checkpoints run on a background thread (`Checkpointer`), not inside a cycle's
                # commit; this threshold is only the safety net should that thread fall behind.
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # SQLAlchemy-level transactions here are migrations: take the write lock up front so two
        # processes starting together migrate one after the other.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _switch_to_wal(cursor: Any) -> None:
    """Set WAL mode, retrying while another process creates the same file.

    Switching a brand-new file to WAL can answer "database is locked" at once, without the busy
    handler, when two processes (API and orchestrator starting together) open it at the same time.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _ensure_sqlite_dir(url: URL) -> None:
    database = url.database or ""
    if is_memory(url) or database.startswith("file:"):
        return
    parent = Path(database).expanduser().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(
            f"cannot create the journal directory {parent}: {exc.strerror}; "
            "set DATA_DIR to a writable directory"
        ) from None


class Checkpointer:
    """Copies the SQLite WAL back into the database file every second, on its own thread.

    SQLite would otherwise checkpoint inside whichever commit crosses 1000 WAL pages: a cycle in
    every sixty or so would then pay several milliseconds of extra writes and fsyncs. PASSIVE
    checkpoints never wait for readers or writers, so the orchestrator's commits proceed.
    """

    def __init__(self, path: str) -> None:
        """Start checkpointing the SQLite file at `path` until `stop()`."""
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = None
        while not self._stop.wait(SQLITE_CHECKPOINT_INTERVAL_S):
            try:
                if connection is None:
                    connection = sqlite3.connect(self._path, isolation_level=None)
                    connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                    connection.execute("PRAGMA synchronous = FULL")  # fsync the file before the WAL is reused
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                # Not fatal: the next round retries and wal_autocheckpoint bounds the WAL meanwhile.
                log.warning("journal checkpoint failed, retrying: %s", exc)
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        """Stop the thread (waiting for a checkpoint in progress to end)."""
        self._stop.set()
        self._thread.join(timeout=10)
