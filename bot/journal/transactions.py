"""Transactions on pooled driver connections: how every journal call reaches the database.

Each call checks a connection out of the engine's small pool (so one journal is thread-safe), runs
its statements in one transaction and returns the connection; SQLite connections are kept instead
(one per thread on a file, the one shared connection otherwise). Writes are durable when `run`
returns; reads of several statements can share one snapshot. A bot's writer on PostgreSQL runs
every write on the one connection that holds its writer lock (`writer`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from bot.journal.errors import JournalError, failed
from bot.journal.statements import Row, Statement
from bot.journal.writer import PostgresWriterLock

T = TypeVar("T")


def execute(cursor: Any, stmt: Statement, params: Any) -> None:
    """Run `stmt` with `params` already in driver form (`Statement.params`)."""
    cursor.execute(stmt.text, params)


def execute_many(cursor: Any, stmt: Statement, params: Sequence[Any]) -> None:
    """Run `stmt` once per entry of `params` (each already in driver form); nothing when empty."""
    if params:
        cursor.executemany(stmt.text, params)


def fetch(cursor: Any, stmt: Statement, params: Any = None) -> list[Row]:
    """Run the query `stmt` with `params` in driver form (none: it takes none); rows by column name."""
    cursor.execute(stmt.text, stmt.params({}) if params is None else params)
    return stmt.rows(cursor)


class Transactions:
    """Runs work in transactions on the engine's pooled driver connections."""

    def __init__(self, engine: Engine, *, where: str, secret: str | None, durable: bool = True) -> None:
        """Own `engine`; `where` (its URL without password) and `secret` word the errors.

        `durable=False`: the engine's SQLite connections never fsync (`open_engine`), so the
        per-transaction switch between synchronous FULL and NORMAL is left out.
        """
        self._engine: Engine | None = engine
        self._where = where
        self._secret = secret
        self._sqlite = engine.dialect.name == "sqlite"
        self._durable = durable
        self.dbapi_error: type[BaseException] = engine.dialect.loaded_dbapi.Error
        # In-memory SQLite, or a throwaway file: one shared connection, so one transaction at a time.
        self._lock = threading.Lock() if isinstance(engine.pool, StaticPool) else None
        # SQLite: connections are kept, for reads and writes, instead of a pool checkout and return
        # (and the pool's rollback) per call: about a third of a /pnl request's journal time, and
        # of a trading cycle's four transactions. On a file each thread keeps one; the one shared
        # connection is kept once.
        self._keep = self._sqlite
        self._local: Any = threading.local() if self._lock is None else _Slot()
        self._held: list[Any] = []
        self._held_lock = threading.Lock()
        self.writer: PostgresWriterLock | None = None  # set when this process writes for its bot

    def engine(self, doing: str) -> Engine:
        """The engine, for work SQLAlchemy runs itself (migrations); JournalError once closed."""
        if self._engine is None:
            raise JournalError(f"{doing}: the journal at {self._where} is closed")
        return self._engine

    def fail(self, doing: str, exc: BaseException) -> JournalError:
        """The error for `doing` having failed with `exc` (no password in it)."""
        return failed(self._where, doing, exc, self._secret)

    def close(self) -> None:
        """Release every pooled and kept connection. Further calls raise JournalError."""
        engine, self._engine = self._engine, None
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            try:
                connection.close()  # back to the pool, which dispose() then closes
            except self.dbapi_error:
                pass
        if engine is not None:
            engine.dispose()

    def run(
        self,
        doing: str,
        work: Callable[[Any], T],
        *,
        write: bool,
        snapshot: bool = False,
        flush: bool = True,
    ) -> T:
        """Run `work(cursor)` in one transaction on a pooled driver connection.

        Writes commit before returning (durable: WAL + synchronous=FULL, or PostgreSQL's commit).
        With `flush=False` the commit reaches the WAL without waiting for the disk: it survives the
        bot's process dying, and the next flushed commit makes it durable too.
        Reads of several statements (`snapshot`) see one consistent state.
        """
        engine = self.engine(doing)
        lock = self.writer.mutex if write and self.writer is not None else self._lock
        if lock is not None:
            with lock:
                return self._transaction(engine, doing, work, write=write, snapshot=snapshot, flush=flush)
        return self._transaction(engine, doing, work, write=write, snapshot=snapshot, flush=flush)

    def _transaction(
        self,
        engine: Engine,
        doing: str,
        work: Callable[[Any], T],
        *,
        write: bool,
        snapshot: bool,
        flush: bool,
    ) -> T:
        held = self._keep
        writer = self.writer if write else None
        try:
            if writer is not None:
                connection = writer.connection()
            else:
                connection = self._kept(engine) if held else engine.raw_connection()
        except (sa_exc.SQLAlchemyError, self.dbapi_error) as exc:  # the pool raises driver errors as is
            raise self.fail(doing, exc) from None
        cursor = None
        relaxed = write and not flush and self._durable
        try:
            cursor = connection.cursor()
            if self._sqlite:
                if write and self._durable:
                    _synchronous(connection, cursor, "NORMAL" if relaxed else "FULL")
                if write or snapshot:
                    cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            elif relaxed:
                cursor.execute("SET LOCAL synchronous_commit = off")
            result = work(cursor)
            if write:
                connection.commit()
            else:
                connection.rollback()
            return result
        except BaseException as exc:
            self._abandon(connection, exc)
            if writer is not None and connection.dbapi_connection is None:
                writer.lost()  # invalidated: the session, and the lock with it, is gone
            if held and (self._lock is None or connection.dbapi_connection is None):
                # a thread's own connection is replaced after any failure; the shared one only
                # when it was lost (an in-memory database lives in it)
                self._drop_kept(connection)
            if isinstance(exc, self.dbapi_error):
                raise self.fail(doing, exc) from None
            raise
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except self.dbapi_error:  # a dead connection: it is invalidated already
                    pass
            if not held and writer is None:
                connection.close()

    def _kept(self, engine: Engine) -> Any:
        """This thread's kept connection (checked out of the pool once)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.dbapi_connection is None:
            connection = engine.raw_connection()
            self._local.connection = connection
            with self._held_lock:
                self._held.append(connection)
        return connection

    def _drop_kept(self, connection: Any) -> None:
        self._local.connection = None
        with self._held_lock:
            if connection in self._held:
                self._held.remove(connection)
        if connection.dbapi_connection is None:
            return  # invalidated already
        try:
            connection.invalidate()
        except self.dbapi_error:
            pass

    def _abandon(self, connection: Any, exc: BaseException) -> None:
        """Roll back; drop the connection from the pool when the database went away."""
        try:
            connection.rollback()
        except self.dbapi_error:
            connection.invalidate()
            return
        engine = self._engine
        if engine is not None and isinstance(exc, self.dbapi_error):
            if engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):  # type: ignore[arg-type]
                connection.invalidate()


class _Slot:
    """Where the one shared connection is kept (guarded by the transactions' lock)."""

    connection: Any = None


def _synchronous(connection: Any, cursor: Any, level: str) -> None:
    """Set a SQLite connection's `synchronous` level for the write about to start.

    FULL fsyncs the WAL at commit (durable); NORMAL only writes it (it survives the process, not
    the machine). The level a connection is at is kept with it (`info`, which SQLAlchemy clears
    when the connection is replaced; a new one starts at FULL), so the pragma runs only when a
    write needs the other level, and a durable write never runs at NORMAL.
    """
    info = connection.info
    if info.get("synchronous", "FULL") != level:
        info["synchronous"] = None  # unknown until the pragma has run: set again next time
        cursor.execute(f"PRAGMA synchronous = {level}")
        info["synchronous"] = level
