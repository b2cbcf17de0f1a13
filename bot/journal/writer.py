"""One writer per bot: the lock a trading loop holds on its bot's journal for the process's life.

Two orchestrators with the same BOT_NAME on one journal (two namespaces sharing a PostgreSQL
Secret, a manual run against production) would both write the bot's cycles. The second is
refused at start-up with `WriterBusy`, whose message names the holder:

- PostgreSQL: a session advisory lock keyed by the bot's name, held by the connection every
  write of the journal runs on. Losing that connection (a server restart) loses the lock with it,
  so the next write first takes the lock again on a new connection, and is refused if another
  process took it meanwhile. The holder is named by its backend pid, `application_name` and
  client address.
- SQLite: `flock` on a file beside the database file (not in DATA_DIR: two data directories may
  name one database), holding the holder's host and pid. The kernel drops it when the process
  ends, even on SIGKILL.

Readers (the API) never take it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import select
import socket
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bot.journal.errors import JournalError

_KEY_DOMAIN = b"flash-green journal writer:"
_APPLICATION_NAME_MAX = 63  # PostgreSQL truncates longer names


class WriterBusy(JournalError):
    """Another process holds this bot's writer lock: it is already trading this bot."""


def holder_label() -> str:
    """Who this process is, as a lock holder: host and pid."""
    return f"host {socket.gethostname()} pid {os.getpid()}"


def advisory_key(bot: str) -> int:
    """The PostgreSQL advisory lock key of `bot`'s writer (a signed 64-bit integer)."""
    digest = hashlib.sha256(_KEY_DOMAIN + bot.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _refusal(bot: str, holder: str) -> str:
    return (
        f"bot {bot!r} already has a writer on this journal ({holder}): one orchestrator per BOT_NAME. "
        "Stop the other one, or give this bot another BOT_NAME"
    )


class SqliteWriterLock:
    """`flock` on `{database}.{bot}.writer.lock`, beside the SQLite file."""

    bound = False  # writes use the pooled connections: the lock is the file's

    def __init__(self, database: str, bot: str) -> None:
        """The lock of `bot` on the SQLite file `database` (not taken yet)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", bot)
        if slug != bot:
            slug += "-" + hashlib.sha256(bot.encode()).hexdigest()[:8]
        self.path = Path(database).with_name(f"{Path(database).name}.{slug}.writer.lock")
        self._bot = bot
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise WriterBusy naming the process that holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot create the journal writer lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 256, 0).decode("utf-8", errors="replace").strip()
            os.close(fd)
            raise WriterBusy(_refusal(self._bot, f"{text or 'another process'}, lock {self.path}")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder_label()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let another process write for this bot."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PostgresWriterLock:
    """A session advisory lock on the one connection the journal's writes run on."""

    bound = True  # Transactions runs every write on `connection()`

    def __init__(self, engine: Engine, bot: str) -> None:
        """The lock of `bot` on the database of `engine` (taken by `acquire`)."""
        self.mutex = threading.Lock()  # one write at a time on the one connection
        self._engine = engine
        self._bot = bot
        self._key = advisory_key(bot)
        self._application_name = f"flash-green {bot} {holder_label()}"[:_APPLICATION_NAME_MAX]
        self._connection: Any = None

    def acquire(self) -> None:
        """Take the lock now (start-up): raise WriterBusy when another session holds it."""
        with self.mutex:
            self.connection()

    def connection(self) -> Any:
        """The pooled connection holding the lock, reconnected and locked again if it was lost.

        Call with `mutex` held. Raises the driver's error when the database is unreachable, and
        WriterBusy when another session took the lock while this one was away.
        """
        held = self._connection
        if held is not None and _alive(held):
            return held
        self.lost()
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("SELECT pg_try_advisory_lock(%(key)s)", {"key": self._key})
                locked = cursor.fetchone()
                if not (locked and locked[0]):
                    holder = self._holder(cursor)
                    raise WriterBusy(_refusal(self._bot, holder))
                cursor.execute(
                    "SELECT set_config('application_name', %(name)s, false)", {"name": self._application_name}
                )
            finally:
                cursor.close()
            connection.commit()
        except BaseException:
            connection.invalidate()  # never back to the pool half set up
            raise
        self._connection = connection
        return connection

    def lost(self) -> None:
        """The connection failed: drop it (the server released the lock with the session)."""
        held, self._connection = self._connection, None
        if held is not None:
            try:
                held.invalidate()
            except Exception:  # noqa: S110 - it is dead already; dropping it is all that is left
                pass

    def release(self) -> None:
        """Close the connection, which releases the lock."""
        with self.mutex:
            self.lost()

    def _holder(self, cursor: Any) -> str:
        classid, objid = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        cursor.execute(
            "SELECT a.pid, a.application_name, host(a.client_addr) AS client FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::bigint = %(classid)s AND l.objid::bigint = %(objid)s AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            {"classid": classid, "objid": objid},
        )
        found = cursor.fetchone()
        if found is None:
            return "a session that has just released it: try again"
        pid, name, client = found
        return f"PostgreSQL backend pid {pid}, application_name {name!r}, client {client or 'local socket'}"


def _alive(connection: Any) -> bool:
    """Whether a held idle connection still has its session.

    An idle session receives nothing unless the server ends it (shutdown, restart, terminated
    backend), so a readable socket means it is gone: checked without a round trip.
    """
    dbapi = connection.dbapi_connection
    if dbapi is None or dbapi.closed or dbapi.broken:
        return False
    try:
        readable, _, _ = select.select([dbapi.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


WriterLock = SqliteWriterLock | PostgresWriterLock
