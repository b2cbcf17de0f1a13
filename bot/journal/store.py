"""The trade journal: durable record of cycles, orders, trades, daily PnL, skipped cycles and audit.

One `Journal` serves one process (the orchestrator writes, the API reads and appends audit lines);
it is thread-safe (each thread keeps a connection of a small pool). Every write is one
transaction and is durable when the method returns (a replay's throwaway journal: see `open`).

Hot path. A trading cycle costs four transactions: `begin_cycle` (write-ahead, before any order
leaves), `record_orders` for each venue answer, and `finish_cycle`. Their statements are compiled
once, when the journal opens, and run on the driver connection (see `statements`). Where the
rest lives: URLs and engines in `engine`, money and time in `encoding`, records to rows in `rows`,
a day's totals in `daily`, connections and transactions in `transactions`, Alembic in `migrate`,
the one-writer-per-bot lock in `writer`.

Scoped by bot: a journal is opened for one bot name and reads and writes only that bot's rows, so
many bots can share one database (docs/journal.md shows both layouts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import URL, Engine

from bot.journal import rows
from bot.journal.daily import contribution, daily_deltas, empty_day
from bot.journal.engine import Checkpointer, open_engine, parse_url, sqlite_file, url_password
from bot.journal.errors import JournalError
from bot.journal.migrate import Direction, current_revision, run_migrations
from bot.journal.records import AuditRecord, CycleRecord, CycleStatus, DailyPnl, OrderRecord, TradeRecord
from bot.journal.schema import BOT_NAME_MAX
from bot.journal.statements import Statements
from bot.journal.transactions import Transactions, execute, execute_many, fetch
from bot.journal.writer import PostgresWriterLock, SqliteWriterLock, WriterLock

DEFAULT_BOT = "flash-green"  # BOT_NAME's default
ORDER_PARAMS_KEPT = 256  # orders whose latest converted record is remembered


class CycleTaken(JournalError):
    """begin_cycle: the cycle, its sequence number or one of its orders is journalled already."""


class Journal:
    """The bot's durable record. Build it with `Journal.open(url)`; close it with `close()`."""

    def __init__(self, engine: Engine, url: URL, bot: str = DEFAULT_BOT, *, durable: bool = True) -> None:
        """Use `Journal.open`: it validates the URL, prepares SQLite and applies migrations."""
        if not bot or len(bot) > BOT_NAME_MAX:
            raise JournalError(f"the bot name must be 1 to {BOT_NAME_MAX} characters, got {bot!r}")
        self.bot = bot
        self.redacted_url = url.render_as_string(hide_password=True)
        self._password = url_password(url)
        self._db = Transactions(engine, where=self.redacted_url, secret=self._password, durable=durable)
        self._sql = Statements(engine.dialect, bot)
        self._checkpointer: Checkpointer | None = None
        self._writer: WriterLock | None = None
        self._taken: type[BaseException] = engine.dialect.loaded_dbapi.IntegrityError
        self._order_params: dict[str, tuple[OrderRecord, Any]] = {}  # see _upsert_params

    @classmethod
    def open(
        cls,
        url: str,
        *,
        bot: str = DEFAULT_BOT,
        migrate: bool = True,
        writer: bool = False,
        durable: bool = True,
    ) -> Journal:
        """Connect to `bot`'s journal at `url` (creating a SQLite file's directory); migrate to head.

        With `writer` (the trading loop) the process holds `bot`'s writer lock until `close()`;
        another process holding it is refused with `WriterBusy` naming that process.
        `durable=False` is for a throwaway SQLite file renamed into place once complete (a
        replay's output): the same statements and transactions, without fsyncs (`open_engine`).
        The trading loop's journal is always durable.
        Raises JournalError (no password in it) when the URL is invalid, the database is
        unreachable or the migrations fail.
        """
        parsed = parse_url(url)
        engine = open_engine(parsed, durable=durable)
        try:
            journal = cls(engine, parsed, bot, durable=durable)
        except BaseException:
            engine.dispose()
            raise
        try:
            journal._db.run("connect", lambda cur: fetch(cur, journal._sql.ping), write=False)
            if writer:
                journal._hold_writer_lock(sqlite_file(parsed), engine)
            if migrate:
                journal.migrate()
        except BaseException:
            journal.close()
            raise
        path = sqlite_file(parsed)
        if path is not None and durable:  # a throwaway file has no WAL to checkpoint
            journal._checkpointer = Checkpointer(path)
        return journal

    def __repr__(self) -> str:
        return f"Journal({self.redacted_url!r}, bot={self.bot!r})"

    def _hold_writer_lock(self, sqlite_path: str | None, engine: Engine) -> None:
        if engine.dialect.name == "postgresql":
            advisory = PostgresWriterLock(engine, self.bot)
            try:
                advisory.acquire()
            except self._db.dbapi_error as exc:
                raise self._db.fail("taking the writer lock", exc) from None
            self._db.writer = self._writer = advisory
        elif sqlite_path is not None:  # an in-memory database has one process by construction
            beside = SqliteWriterLock(sqlite_path, self.bot)
            beside.acquire()
            self._writer = beside

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Round-trip `SELECT 1`; raises JournalError when the database is unreachable."""
        self._db.run("ping", lambda cur: fetch(cur, self._sql.ping), write=False)

    def close(self) -> None:
        """Release every pooled connection. Further calls raise JournalError."""
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
        self._db.close()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (default: the newest this code ships)."""
        self._migrate("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to `revision` (`base` drops every journal table and its data)."""
        self._migrate("downgrade", revision)

    def current_revision(self) -> str | None:
        """The schema revision the database is at, or None when it was never migrated."""
        engine = self._db.engine("read the schema revision")
        return current_revision(engine, where=self.redacted_url, secret=self._password)

    def _migrate(self, direction: Direction, revision: str) -> None:
        engine = self._db.engine(f"{direction} to {revision}")
        run_migrations(
            engine, direction, revision, where=self.redacted_url, secret=self._password, bot=self.bot
        )

    # -- writes ------------------------------------------------------------------------------

    def begin_cycle(self, cycle: CycleRecord) -> None:
        """Write-ahead entry: the cycle (status STARTED) and its planned orders, before any is sent.

        Committed to the WAL without waiting for the disk: it survives the bot's process being
        killed (what restart recovery reads), and the cycle's finishing commit, which is flushed,
        makes it durable. Only a machine crash in between can lose it; the orders it names then
        carry ids the next cycle reuses, which venues treat as the same order, never a second one.

        The sequence is allocated here, inside the write transaction: `cycle.seq` must be above
        every sequence this bot has journalled, and the cycle and its orders must be new.
        Otherwise `CycleTaken` is raised and nothing is written (a second writer for the bot, or
        a write-ahead already made): the caller must not send the cycle's orders.
        """
        _check_orders(cycle.cycle_id, cycle.orders)
        sql = self._sql
        row = rows.cycle_row(cycle, CycleStatus.STARTED)
        row["finished_at"] = None
        cycle_params = sql.cycle_new.params(row)
        order_params = [sql.order_new.params(rows.order_row(order)) for order in cycle.orders]
        taken = self._taken

        def work(cur: Any) -> None:
            next_seq = int(fetch(cur, sql.next_seq)[0]["next_seq"])
            if cycle.seq < next_seq:
                raise self._cycle_taken(cycle, f"its sequence is taken (the next is {next_seq})")
            try:
                execute(cur, sql.cycle_new, cycle_params)
                execute_many(cur, sql.order_new, order_params)
            except taken:
                raise self._cycle_taken(cycle, "it or one of its orders exists") from None

        self._db.run(f"begin_cycle {cycle.cycle_id}", work, write=True, flush=False)

    def _cycle_taken(self, cycle: CycleRecord, why: str) -> CycleTaken:
        return CycleTaken(
            f"begin_cycle {cycle.cycle_id} (sequence {cycle.seq}) refused: {why}. Bot {self.bot!r} "
            "has another writer, or this write-ahead was made already; no order of it may be sent"
        )

    def update_orders(self, orders: Sequence[OrderRecord]) -> None:
        """Insert or update orders by client_order_id (their cycle must be journalled)."""
        upsert = self._sql.order_upsert
        params = [upsert.params(rows.order_row(order)) for order in orders]
        if params:
            self._db.run("update_orders", lambda cur: execute_many(cur, upsert, params), write=True)

    def record_orders(self, orders: Sequence[OrderRecord]) -> None:
        """Per-order write-ahead: an order about to be sent, or what its venue just answered.

        Upserts by client_order_id, committed before returning like `begin_cycle` (to the WAL,
        without waiting for the disk: it survives the bot's process being killed, and the cycle's
        finishing commit makes it durable). The cycle calls it before every `place()` it has not
        journalled yet and after every answer, so restart recovery knows every order sent.
        """
        upsert = self._sql.order_upsert
        params = self._upsert_params(orders)
        if params:
            work = lambda cur: execute_many(cur, upsert, params)  # noqa: E731
            self._db.run("record_orders", work, write=True, flush=False)

    def _upsert_params(self, orders: Sequence[OrderRecord]) -> list[Any]:
        """Each order's `order_upsert` parameters, in driver form.

        Records are frozen, so a record written before (the very object) reuses what it was
        converted to: the orders `finish_cycle` writes are the records the cycle's `record_orders`
        calls wrote a moment before. Only the latest record of each order is remembered.
        """
        upsert, memo = self._sql.order_upsert, self._order_params
        params = []
        for order in orders:
            seen = memo.get(order.client_order_id)
            if seen is not None and seen[0] is order:
                params.append(seen[1])
                continue
            converted = upsert.params(rows.order_row(order))
            if len(memo) >= ORDER_PARAMS_KEPT:
                memo.clear()
            memo[order.client_order_id] = (order, converted)
            params.append(converted)
        return params

    def finish_cycle(self, cycle: CycleRecord) -> None:
        """Close a cycle in one transaction: final status, orders, trade, and its day's PnL row.

        Idempotent: finishing the same cycle twice leaves the same state; finishing it again with
        different figures (a correction) moves its day's totals by the difference only.
        """
        if cycle.status is CycleStatus.STARTED:
            raise JournalError(f"finish_cycle {cycle.cycle_id}: status must be final, not started")
        if cycle.finished_at is None:
            raise JournalError(f"finish_cycle {cycle.cycle_id}: finished_at is required")
        if cycle.trade is not None and cycle.trade.cycle_id != cycle.cycle_id:
            raise JournalError(f"finish_cycle {cycle.cycle_id}: its trade belongs to {cycle.trade.cycle_id}")
        _check_orders(cycle.cycle_id, cycle.orders)
        sql = self._sql
        key = {"cycle_id": cycle.cycle_id}
        prior_params, delete_params = sql.cycle_prior.params(key), sql.trade_delete.params(key)
        cycle_params = sql.cycle_upsert.params(rows.cycle_row(cycle, cycle.status))
        order_params = self._upsert_params(cycle.orders)
        trade = cycle.trade
        trade_params = sql.trade_upsert.params(rows.trade_row(trade)) if trade is not None else None
        new = contribution(cycle.status, cycle.realised_gbp, cycle.finished_at)

        def work(cur: Any) -> None:
            prior = fetch(cur, sql.cycle_prior, prior_params)
            old = None
            if prior:
                was = prior[0]
                old = contribution(CycleStatus(was["status"]), was["realised_gbp"], was["finished_at"])
            execute(cur, sql.cycle_upsert, cycle_params)
            execute_many(cur, sql.order_upsert, order_params)
            if trade_params is not None:
                execute(cur, sql.trade_upsert, trade_params)
            elif old is not None:
                execute(cur, sql.trade_delete, delete_params)  # a corrected cycle
            for delta in daily_deltas(old, new):
                execute(cur, sql.daily_add, sql.daily_add.params(delta.row()))

        self._db.run(f"finish_cycle {cycle.cycle_id}", work, write=True)

    def count_skipped(self, day: date, outcome: str, reason: str, n: int = 1) -> None:
        """Add `n` to the counter of cycles that never traded on `day` for (outcome, reason)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise JournalError(f"count_skipped: n must be a positive integer, got {n!r}")
        add = self._sql.count_add
        params = add.params({"day": _day(day), "outcome": outcome, "reason": reason, "count": n})
        self._db.run("count_skipped", lambda cur: execute(cur, add, params), write=True)

    def record_audit(self, entry: AuditRecord) -> None:
        """Append one audit line (its parameters must already be redacted)."""
        insert = self._sql.audit_insert
        params = insert.params(rows.audit_row(entry))
        self._db.run("record_audit", lambda cur: execute(cur, insert, params), write=True)

    # -- reads -------------------------------------------------------------------------------

    def next_cycle_seq(self) -> int:
        """One more than the highest cycle sequence ever journalled (1 on an empty journal)."""
        found = self._db.run("next_cycle_seq", lambda cur: fetch(cur, self._sql.next_seq), write=False)
        return int(found[0]["next_seq"])

    def incomplete_cycles(self) -> list[CycleRecord]:
        """Cycles left STARTED (by a crash), oldest first, each with its orders: restart recovery."""
        sql = self._sql

        def work(cur: Any) -> list[CycleRecord]:
            cycle_rows = fetch(cur, sql.cycles_started)
            by_cycle: dict[str, list[OrderRecord]] = {}
            for order_row in fetch(cur, sql.orders_of_started):
                by_cycle.setdefault(order_row["cycle_id"], []).append(rows.order_record(order_row))
            return [
                rows.cycle_record(row, tuple(by_cycle.get(row["cycle_id"], ())), None) for row in cycle_rows
            ]

        return self._db.run("incomplete_cycles", work, write=False, snapshot=True)

    def daily_pnl(self, day: date) -> DailyPnl:
        """The UTC day's realised PnL, losses, trades and unwinds (zeros when nothing happened)."""
        sql = self._sql.daily_one
        params = sql.params({"day": _day(day)})
        found = self._db.run("daily_pnl", lambda cur: fetch(cur, sql, params), write=False)
        return rows.daily_record(found[0]) if found else empty_day(day)

    def pnl_history(self, since: date, until: date) -> list[DailyPnl]:
        """One entry per UTC day from `since` to `until` inclusive, oldest first (zeros filled in)."""
        sql = self._sql.daily_range
        params = sql.params({"since": _day(since), "until": _day(until)})
        found = self._db.run("pnl_history", lambda cur: fetch(cur, sql, params), write=False)
        by_day = {entry.day: entry for entry in map(rows.daily_record, found)}
        days = (since + timedelta(days=n) for n in range((until - since).days + 1))
        return [by_day.get(day) or empty_day(day) for day in days]

    def trades(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TradeRecord]:
        """Trades executed in [since, until), newest first, paged by limit/offset."""
        sql = self._sql.trades_page[(since is not None, until is not None)]
        params = sql.params({"since": since, "until": until, **_paging(limit, offset)})
        found = self._db.run("trades", lambda cur: fetch(cur, sql, params), write=False)
        return [rows.trade_record(row) for row in found]

    def count_trades(self, *, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many trades were executed in [since, until)."""
        sql = self._sql.trades_count[(since is not None, until is not None)]
        params = sql.params({"since": since, "until": until})
        found = self._db.run("count_trades", lambda cur: fetch(cur, sql, params), write=False)
        return int(found[0]["trades"])

    def open_orders(self) -> list[OrderRecord]:
        """Orders not final yet (NEW, OPEN, PARTIALLY_FILLED), oldest first."""
        found = self._db.run("open_orders", lambda cur: fetch(cur, self._sql.open_orders), write=False)
        return [rows.order_record(row) for row in found]

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        """One cycle with its orders and trade, or None."""
        sql = self._sql
        key = {"cycle_id": cycle_id}
        cycle_params, orders_params = sql.cycle_by_id.params(key), sql.orders_by_cycle.params(key)
        trade_params = sql.trade_by_cycle.params(key)

        def work(cur: Any) -> CycleRecord | None:
            found = fetch(cur, sql.cycle_by_id, cycle_params)
            if not found:
                return None
            orders = tuple(rows.order_record(row) for row in fetch(cur, sql.orders_by_cycle, orders_params))
            trade_rows = fetch(cur, sql.trade_by_cycle, trade_params)
            trade = rows.trade_record(trade_rows[0]) if trade_rows else None
            return rows.cycle_record(found[0], orders, trade)

        return self._db.run(f"cycle {cycle_id}", work, write=False, snapshot=True)

    def skipped_counts(self, day: date) -> dict[tuple[str, str], int]:
        """Cycles that never traded on `day`, by (outcome, reason)."""
        sql = self._sql.skipped
        params = sql.params({"day": _day(day)})
        found = self._db.run("skipped_counts", lambda cur: fetch(cur, sql, params), write=False)
        return {(row["outcome"], row["reason"]): int(row["count"]) for row in found}

    def audit_log(self, *, limit: int = 100, offset: int = 0) -> list[AuditRecord]:
        """Audit lines, newest first, paged by limit/offset."""
        sql = self._sql.audit_page
        params = sql.params(_paging(limit, offset))
        found = self._db.run("audit_log", lambda cur: fetch(cur, sql, params), write=False)
        return [rows.audit_record(row) for row in found]


def migrate_database(
    url: str, revision: str = "head", *, downgrade: bool = False, bot: str = DEFAULT_BOT
) -> str | None:
    """Upgrade (or with `downgrade=True` downgrade) the journal at `url`; return the new revision.

    This is what `flash-green migrate` runs. Safe to run while another process migrates the same
    database: the migrations of one wait for the other's. `bot` (BOT_NAME) is the name revision
    0002 gives existing rows that name no bot when the journal holds no cycle yet.
    """
    journal = Journal.open(url, bot=bot, migrate=False)
    try:
        if downgrade:
            journal.downgrade(revision)
        else:
            journal.migrate(revision)
        return journal.current_revision()
    finally:
        journal.close()


def _day(value: date) -> date:
    # A datetime is a date too; refused, as its day would depend on its zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise JournalError(f"day must be a date, got {type(value).__name__}")
    return value


def _paging(limit: int, offset: int) -> dict[str, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise JournalError(f"limit must be a non-negative integer, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise JournalError(f"offset must be a non-negative integer, got {offset!r}")
    return {"limit": limit, "offset": offset}


def _check_orders(cycle_id: str, orders: Iterable[OrderRecord]) -> None:
    for order in orders:
        if order.cycle_id != cycle_id:
            raise JournalError(
                f"order {order.client_order_id} belongs to cycle {order.cycle_id}, not {cycle_id}"
            )
