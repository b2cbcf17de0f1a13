"""The trade journal: durable record of cycles, orders, trades, daily PnL, skipped cycles and audit.

One `Journal` serves one process (the orchestrator writes, the API reads and appends audit lines);
it is thread-safe (each call checks a connection out of a small pool). Every write is one
transaction and is durable when the method returns.

Hot path. A trading cycle costs two transactions: `begin_cycle` (write-ahead, before any order
leaves) and `finish_cycle`. SQLAlchemy Core builds and compiles every statement once, when the
journal opens; each call then runs the compiled SQL on the pooled driver connection with values
already in their storage form (see `schema`), which skips SQLAlchemy's per-execution work (about
ten times the cost of the statement itself on SQLite). SQLAlchemy still owns the engine, the pool,
the schema and the migrations.

Engines. SQLite (the default file under DATA_DIR) runs in WAL mode with `synchronous=FULL`,
foreign keys on, and a busy timeout so the API process reads while the orchestrator writes; write
transactions start with `BEGIN IMMEDIATE` so two writers queue instead of failing. PostgreSQL is
reached through psycopg 3 (`postgresql+psycopg://`) with `pool_pre_ping`. On both, a cycle's share
of its day is added to the day's row by an atomic upsert (exact: NUMERIC, or integer 10^-8 GBP).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler

from bot.domain.market import OrderStatus, Side
from bot.journal import schema
from bot.journal.records import (
    AuditRecord,
    CostBreakdown,
    CycleRecord,
    CycleStatus,
    DailyPnl,
    OrderRecord,
    TradeRecord,
)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_PAGE_SIZE = 2048
SQLITE_AUTOCHECKPOINT_PAGES = 32768  # 64 MiB of WAL
SQLITE_CHECKPOINT_INTERVAL_S = 1.0
POOL_SIZE = 2
POOL_MAX_OVERFLOW = 6
POOL_TIMEOUT_S = 10
PG_CONNECT_TIMEOUT_S = 5
# Any constant works; it only has to be the same in every process migrating this database.
PG_MIGRATION_LOCK = 0x666C617368  # "flash"
OPEN_ORDER_STATUSES = tuple(OrderStatus(status) for status in schema.OPEN_ORDER_STATUSES)
_ZERO = schema.exact_money(0)
_CODEC_CACHE_SIZE = 4096
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class JournalError(Exception):
    """The journal could not do what was asked. The message is safe to log (no password)."""


# --------------------------------------------------------------------------------------------
# URLs and engines


def _parse_url(url: str) -> URL:
    """Parse and normalise a journal URL; never echo the URL back (it may carry a password)."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise JournalError(
            "DATABASE_URL is not a valid database URL: use sqlite:///path/to/journal.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # the only PostgreSQL driver installed
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise JournalError(
            f"unsupported journal database {parsed.drivername!r}: use sqlite:///path/to/journal.db "
            "or postgresql+psycopg://user@host:5432/dbname"
        )
    return parsed


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        return "<invalid database URL>"


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _create_engine(url: URL) -> Engine:
    """A small pooled engine configured for the journal's durability and concurrency needs."""
    if url.get_backend_name() == "sqlite":
        if _is_memory(url):
            # One shared connection: an in-memory database exists only inside it (tests only).
            engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            engine = sa.create_engine(
                url,
                pool_size=POOL_SIZE,
                max_overflow=POOL_MAX_OVERFLOW,
                pool_timeout=POOL_TIMEOUT_S,
                connect_args={
                    "check_same_thread": False
                },  # the pool hands a connection to one thread at a time
            )
        _configure_sqlite(engine, wal=not _is_memory(url))
        return engine
    return sa.create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,  # a server restart or a proxy timeout must not fail the next cycle
        pool_recycle=1800,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "options": "-c TimeZone=UTC"},
    )


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
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
            if wal:
                _switch_to_wal(cursor)
                # Checkpoints run on a background thread (`_Checkpointer`), not inside a cycle's
                # commit; this threshold is only the safety net should that thread fall behind.
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")
            cursor.execute("PRAGMA synchronous = FULL")
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
    import sqlite3
    import time

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
    if _is_memory(url) or database.startswith("file:"):
        return
    parent = Path(database).expanduser().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(
            f"cannot create the journal directory {parent}: {exc.strerror}; "
            "set DATA_DIR to a writable directory"
        ) from None


# --------------------------------------------------------------------------------------------
# Errors


def _describe(exc: BaseException, secret: str | None) -> str:
    """One line saying what the database said, with the password (if any) scrubbed."""
    inner: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        inner = exc.orig
    text = " ".join(str(inner).split()) or type(inner).__name__
    if secret:
        from urllib.parse import quote, quote_plus

        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    if len(text) > 400:
        text = text[:400] + "..."
    return f"{type(inner).__name__}: {text}"


# --------------------------------------------------------------------------------------------
# Compiled statements


@dataclass(frozen=True, slots=True)
class _Sql:
    """A statement compiled once for the engine's dialect."""

    text: str
    order: tuple[str, ...] | None  # parameter names in order for positional drivers (sqlite3)

    def params(self, values: Mapping[str, Any]) -> Any:
        if self.order is None:
            return values
        return tuple(map(values.__getitem__, self.order))


def _compile(
    stmt: sa.ClauseElement, dialect: sa.Dialect, keys: Sequence[str] | None = None, *, literal: bool = False
) -> _Sql:
    """Compile once; `literal` inlines constant values (used where the statement has no input)."""
    compiled = stmt.compile(
        dialect=dialect,
        column_keys=list(keys) if keys is not None else None,
        compile_kwargs={"literal_binds": True} if literal else {},
    )
    assert isinstance(compiled, SQLCompiler)
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Sql(compiled.string, order)


def _cols(table: sa.Table, *exclude: str) -> list[str]:
    return [c.name for c in table.columns if c.name not in exclude]


class _Statements:
    """Every statement the journal runs, compiled for one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Callable[[sa.Table], Any] = sqlite.insert if dialect.name == "sqlite" else postgresql.insert
        c, o, t, d, n, a = schema.TABLES
        bp = sa.bindparam
        paging = {"limit": bp("limit", type_=sa.Integer), "offset": bp("offset", type_=sa.Integer)}

        def upsert(table: sa.Table, key: list[str], keep: Iterable[str]) -> _Sql:
            stmt = insert(table)
            kept = set(key) | set(keep)
            update = {name: stmt.excluded[name] for name in _cols(table) if name not in kept}
            return _compile(
                stmt.on_conflict_do_update(index_elements=key, set_=update), dialect, _cols(table)
            )

        def add(table: sa.Table, key: list[str], summed: Iterable[str]) -> _Sql:
            stmt = insert(table)
            update = {name: table.c[name] + stmt.excluded[name] for name in summed}
            return _compile(
                stmt.on_conflict_do_update(index_elements=key, set_=update), dialect, _cols(table)
            )

        def insert_new(table: sa.Table, key: list[str]) -> _Sql:
            return _compile(insert(table).on_conflict_do_nothing(index_elements=key), dialect, _cols(table))

        self.cycle_insert = insert_new(c, ["cycle_id"])
        self.cycle_upsert = upsert(c, ["cycle_id"], ["seq", "started_at"])
        prior = sa.select(c.c.status, c.c.realised_gbp, c.c.finished_at).where(c.c.cycle_id == bp("cycle_id"))
        self.cycle_prior = _compile(prior.with_for_update(), dialect)  # FOR UPDATE on PostgreSQL only
        self.order_insert = insert_new(o, ["client_order_id"])
        self.order_upsert = upsert(o, ["client_order_id"], ["cycle_id", "created_at"])
        self.trade_upsert = upsert(t, ["cycle_id"], [])
        self.trade_delete = _compile(sa.delete(t).where(t.c.cycle_id == bp("cycle_id")), dialect)
        self.daily_add = add(d, ["day"], ["realised_gbp", "loss_gbp", "trades", "unwound"])
        self.count_add = add(n, ["day", "outcome", "reason"], ["count"])
        self.audit_insert = _compile(sa.insert(a), dialect, _cols(a, "id"))

        self.ping = _compile(sa.select(sa.literal(1)), dialect, literal=True)
        self.next_seq = _compile(
            sa.select(sa.func.coalesce(sa.func.max(c.c.seq), 0) + 1), dialect, literal=True
        )
        # The status is a literal so the partial indexes (ix_cycles_started, ix_orders_open) apply.
        started = c.c.status == CycleStatus.STARTED.value
        self.cycles_started = _compile(sa.select(c).where(started).order_by(c.c.seq), dialect, literal=True)
        self.orders_of_started = _compile(
            sa.select(o)
            .join(c, o.c.cycle_id == c.c.cycle_id)
            .where(started)
            .order_by(o.c.created_at, o.c.client_order_id),
            dialect,
            literal=True,
        )
        self.cycle_by_id = _compile(sa.select(c).where(c.c.cycle_id == bp("cycle_id")), dialect)
        self.orders_by_cycle = _compile(
            sa.select(o).where(o.c.cycle_id == bp("cycle_id")).order_by(o.c.created_at, o.c.client_order_id),
            dialect,
        )
        self.trade_by_cycle = _compile(sa.select(t).where(t.c.cycle_id == bp("cycle_id")), dialect)
        self.open_orders = _compile(
            sa.select(o)
            .where(o.c.status.in_(schema.OPEN_ORDER_STATUSES))
            .order_by(o.c.created_at, o.c.client_order_id),
            dialect,
            literal=True,
        )
        self.daily_one = _compile(sa.select(d).where(d.c.day == bp("day")), dialect)
        self.daily_range = _compile(
            sa.select(d).where(d.c.day >= bp("since"), d.c.day <= bp("until")).order_by(d.c.day), dialect
        )
        self.skipped = _compile(
            sa.select(n.c.outcome, n.c.reason, n.c.count).where(n.c.day == bp("day")), dialect
        )
        self.audit_page = _compile(
            sa.select(a)
            .order_by(a.c.at.desc(), a.c.id.desc())
            .limit(paging["limit"])
            .offset(paging["offset"]),
            dialect,
        )
        # trades and count_trades, one variant per combination of the optional time bounds
        self.trades_page: dict[tuple[bool, bool], _Sql] = {}
        self.trades_count: dict[tuple[bool, bool], _Sql] = {}
        for has_since in (False, True):
            for has_until in (False, True):
                where = []
                if has_since:
                    where.append(t.c.executed_at >= bp("since"))
                if has_until:
                    where.append(t.c.executed_at < bp("until"))
                page = sa.select(t).where(*where).order_by(t.c.executed_at.desc(), t.c.cycle_id.desc())
                page = page.limit(paging["limit"]).offset(paging["offset"])
                self.trades_page[(has_since, has_until)] = _compile(page, dialect)
                count = sa.select(sa.func.count()).select_from(t).where(*where)
                self.trades_count[(has_since, has_until)] = _compile(count, dialect)


# --------------------------------------------------------------------------------------------
# Values in their storage form, per engine


class _Codec:
    """Converts record values to what the driver stores and back (see `schema`)."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        if sqlite:
            self._money_in: Callable[[Any], Any] = schema.money_to_minor
            self._money_out: Callable[[Any], Decimal] = schema.money_from_minor
            self._ts_in: Callable[[datetime], Any] = schema.utc_to_text
            self._ts_out: Callable[[Any], datetime] = schema.utc_from_text
        else:
            self._money_in = schema.exact_money
            self._money_out = schema.exact_money
            self._ts_in = schema.aware_utc
            self._ts_out = schema.aware_utc
        self._money_cache: dict[Decimal | int, Any] = {}
        self._ts_cache: dict[datetime, Any] = {}

    def money(self, value: Decimal | int | None, name: str) -> Any:
        if value is None:
            return None
        # The same figures recur cycle after cycle (quantities, fees, zero): convert each once.
        # Only exact Decimals are cached: 1.5 == Decimal("1.5") must not let a float through.
        cacheable = value.__class__ is Decimal
        if cacheable:
            hit = self._money_cache.get(value)
            if hit is not None:
                return hit
        try:
            stored = self._money_in(value)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"{name}: {exc}") from None
        if cacheable:
            if len(self._money_cache) >= _CODEC_CACHE_SIZE:
                self._money_cache.clear()
            self._money_cache[value] = stored
        return stored

    def ts(self, value: datetime | None, name: str) -> Any:
        if value is None:
            return None
        # A cycle stamps several columns with the same instant: format each instant once.
        cacheable = value.__class__ is datetime and value.tzinfo is not None
        if cacheable:
            hit = self._ts_cache.get(value)
            if hit is not None:
                return hit
        try:
            stored = self._ts_in(value)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"{name}: {exc}") from None
        if cacheable:
            if len(self._ts_cache) >= _CODEC_CACHE_SIZE:
                self._ts_cache.clear()
            self._ts_cache[value] = stored
        return stored

    def day(self, value: date) -> Any:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise JournalError(f"day must be a date, got {type(value).__name__}")
        return value.isoformat() if self.sqlite else value

    def money_out(self, value: Any) -> Decimal:
        return self._money_out(value)

    def opt_money_out(self, value: Any) -> Decimal | None:
        return None if value is None else self._money_out(value)

    def ts_out(self, value: Any) -> datetime:
        return self._ts_out(value)

    def opt_ts_out(self, value: Any) -> datetime | None:
        return None if value is None else self._ts_out(value)

    def day_out(self, value: Any) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value

    # -- rows from records -------------------------------------------------------------------

    def cycle_row(self, cycle: CycleRecord, status: CycleStatus) -> dict[str, Any]:
        m = self.money
        return {
            "cycle_id": cycle.cycle_id,
            "seq": cycle.seq,
            "started_at": self.ts(cycle.started_at, "started_at"),
            "finished_at": self.ts(cycle.finished_at, "finished_at"),
            "status": status.value,
            "reason": cycle.reason,
            "power_ask_gbp": m(cycle.power_ask_gbp, "power_ask_gbp"),
            "futures_bid_gbp": m(cycle.futures_bid_gbp, "futures_bid_gbp"),
            "spread_gbp": m(cycle.spread_gbp, "spread_gbp"),
            "planned_mwh": m(cycle.planned_mwh, "planned_mwh"),
            "expected_profit_gbp": m(cycle.expected_profit_gbp, "expected_profit_gbp"),
            "realised_gbp": m(cycle.realised_gbp, "realised_gbp"),
        }

    def order_row(self, order: OrderRecord) -> dict[str, Any]:
        m = self.money
        return {
            "client_order_id": order.client_order_id,
            "cycle_id": order.cycle_id,
            "leg": str(order.leg),
            "venue": order.venue,
            "side": Side(order.side).value,
            "purpose": order.purpose,
            "quantity_mwh": m(order.quantity_mwh, "quantity_mwh"),
            "limit_price_gbp": m(order.limit_price_gbp, "limit_price_gbp"),
            "status": OrderStatus(order.status).value,
            "filled_mwh": m(order.filled_mwh, "filled_mwh"),
            "avg_price_gbp": m(order.avg_price_gbp, "avg_price_gbp"),
            "venue_order_id": order.venue_order_id,
            "created_at": self.ts(order.created_at, "created_at"),
            "updated_at": self.ts(order.updated_at, "updated_at"),
        }

    def trade_row(self, trade: TradeRecord) -> dict[str, Any]:
        m, costs = self.money, trade.costs
        return {
            "cycle_id": trade.cycle_id,
            "executed_at": self.ts(trade.executed_at, "executed_at"),
            "quantity_mwh": m(trade.quantity_mwh, "quantity_mwh"),
            "power_price_gbp": m(trade.power_price_gbp, "power_price_gbp"),
            "futures_price_gbp": m(trade.futures_price_gbp, "futures_price_gbp"),
            "loan_amount_gbp": m(trade.loan_amount_gbp, "loan_amount_gbp"),
            "gross_gbp": m(trade.gross_gbp, "gross_gbp"),
            "power_fee_gbp": m(costs.power_fee_gbp, "power_fee_gbp"),
            "futures_fee_gbp": m(costs.futures_fee_gbp, "futures_fee_gbp"),
            "loan_fee_gbp": m(costs.loan_fee_gbp, "loan_fee_gbp"),
            "gas_gbp": m(costs.gas_gbp, "gas_gbp"),
            "slippage_gbp": m(costs.slippage_gbp, "slippage_gbp"),
            "net_gbp": m(trade.net_gbp, "net_gbp"),
        }

    # -- records from rows (column order as in `schema`) -------------------------------------

    def cycle_record(
        self, row: Sequence[Any], orders: tuple[OrderRecord, ...], trade: TradeRecord | None
    ) -> CycleRecord:
        mo, m = self.opt_money_out, self.money_out
        return CycleRecord(
            cycle_id=row[0],
            seq=int(row[1]),
            started_at=self.ts_out(row[2]),
            finished_at=self.opt_ts_out(row[3]),
            status=CycleStatus(row[4]),
            reason=row[5],
            power_ask_gbp=mo(row[6]),
            futures_bid_gbp=mo(row[7]),
            spread_gbp=mo(row[8]),
            planned_mwh=mo(row[9]),
            expected_profit_gbp=mo(row[10]),
            realised_gbp=m(row[11]),
            orders=orders,
            trade=trade,
        )

    def order_record(self, row: Sequence[Any]) -> OrderRecord:
        m = self.money_out
        return OrderRecord(
            client_order_id=row[0],
            cycle_id=row[1],
            leg=row[2],
            venue=row[3],
            side=Side(row[4]),
            purpose=row[5],
            quantity_mwh=m(row[6]),
            limit_price_gbp=m(row[7]),
            status=OrderStatus(row[8]),
            filled_mwh=m(row[9]),
            avg_price_gbp=self.opt_money_out(row[10]),
            venue_order_id=row[11],
            created_at=self.ts_out(row[12]),
            updated_at=self.ts_out(row[13]),
        )

    def trade_record(self, row: Sequence[Any]) -> TradeRecord:
        m = self.money_out
        return TradeRecord(
            cycle_id=row[0],
            executed_at=self.ts_out(row[1]),
            quantity_mwh=m(row[2]),
            power_price_gbp=m(row[3]),
            futures_price_gbp=m(row[4]),
            loan_amount_gbp=m(row[5]),
            gross_gbp=m(row[6]),
            costs=CostBreakdown(
                power_fee_gbp=m(row[7]),
                futures_fee_gbp=m(row[8]),
                loan_fee_gbp=m(row[9]),
                gas_gbp=m(row[10]),
                slippage_gbp=m(row[11]),
            ),
            net_gbp=m(row[12]),
        )

    def daily_record(self, row: Sequence[Any]) -> DailyPnl:
        return DailyPnl(
            day=self.day_out(row[0]),
            realised_gbp=self.money_out(row[1]),
            loss_gbp=self.money_out(row[2]),
            trades=int(row[3]),
            unwound=int(row[4]),
        )

    def audit_record(self, row: Sequence[Any]) -> AuditRecord:
        return AuditRecord(
            at=self.ts_out(row[1]),
            client=row[2],
            principal=row[3],
            roles=tuple(json.loads(row[4])),
            action=row[5],
            parameters=dict(json.loads(row[6])),
            outcome=row[7],
            status_code=int(row[8]),
        )


# --------------------------------------------------------------------------------------------
# Daily accounting


@dataclass(frozen=True, slots=True)
class _Contribution:
    """What one finished cycle adds to its UTC day's row."""

    day: date
    realised: Decimal
    loss: Decimal
    trades: int
    unwound: int


def _contribution(
    status: CycleStatus, realised: Decimal, finished_at: datetime | None
) -> _Contribution | None:
    """A finished cycle's share of its day; a STARTED cycle has none yet."""
    if status is CycleStatus.STARTED or finished_at is None:
        return None
    realised = schema.exact_money(realised)
    return _Contribution(
        day=schema.utc_day(finished_at),
        realised=realised,
        loss=-realised if realised < 0 else _ZERO,
        trades=1 if status is CycleStatus.TRADED else 0,
        unwound=1 if status is CycleStatus.UNWOUND else 0,
    )


def _daily_deltas(old: _Contribution | None, new: _Contribution | None) -> dict[date, list[Any]]:
    """Per-day changes that replace `old` by `new` (nothing when they are equal: idempotent)."""
    deltas: dict[date, list[Any]] = {}
    if old == new:
        return deltas
    for share, sign in ((old, -1), (new, 1)):
        if share is None:
            continue
        row = deltas.setdefault(share.day, [_ZERO, _ZERO, 0, 0])
        row[0] += sign * share.realised
        row[1] += sign * share.loss
        row[2] += sign * share.trades
        row[3] += sign * share.unwound
    return deltas


# --------------------------------------------------------------------------------------------
# Migrations


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """Alembic configuration built in code: works from an installed package, from any directory."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of the code ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise JournalError("no journal migrations found in the installed package")
    return head


def migrate_database(url: str, revision: str = "head", *, downgrade: bool = False) -> str | None:
    """Upgrade (or with `downgrade=True` downgrade) the journal at `url`; return the new revision.

    This is what `flash-green migrate` runs. Safe to run while another process migrates the same
    database: the migrations of one wait for the other's.
    """
    journal = Journal.open(url, migrate=False)
    try:
        if downgrade:
            journal.downgrade(revision)
        else:
            journal.migrate(revision)
        return journal.current_revision()
    finally:
        journal.close()


# --------------------------------------------------------------------------------------------
# SQLite checkpoints off the hot path


class _Checkpointer:
    """Copies the SQLite WAL back into the database file every second, on its own thread.

    SQLite would otherwise checkpoint inside whichever commit crosses 1000 WAL pages: a cycle in
    every sixty or so would then pay several milliseconds of extra writes and fsyncs. PASSIVE
    checkpoints never wait for readers or writers, so the orchestrator's commits proceed.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import logging
        import sqlite3

        log = logging.getLogger("bot.journal")
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
        self._stop.set()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# The journal


class Journal:
    """The bot's durable record. Build it with `Journal.open(url)`; close it with `close()`."""

    def __init__(self, engine: Engine, url: URL) -> None:
        """Use `Journal.open`: it validates the URL, prepares SQLite and applies migrations."""
        self._engine: Engine | None = engine
        self._password = url.password if isinstance(url.password, str) else None
        self.redacted_url = url.render_as_string(hide_password=True)
        self._sqlite = engine.dialect.name == "sqlite"
        self._codec = _Codec(self._sqlite)
        self._sql = _Statements(engine.dialect)
        self._dbapi_error: type[BaseException] = engine.dialect.loaded_dbapi.Error
        self._lock = threading.Lock() if isinstance(engine.pool, StaticPool) else None
        self._checkpointer: _Checkpointer | None = None
        # SQLite file: each reading thread keeps one connection instead of a pool checkout and
        # return per read (about a third of a /pnl request's journal time).
        self._keep_readers = self._sqlite and self._lock is None
        self._readers = threading.local()
        self._held: list[Any] = []
        self._held_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Journal:
        """Connect to the journal at `url` (creating a SQLite file's directory); migrate to head.

        Raises JournalError (no password in it) when the URL is invalid, the database is
        unreachable or the migrations fail.
        """
        parsed = _parse_url(url)
        if parsed.get_backend_name() == "sqlite":
            _ensure_sqlite_dir(parsed)
        try:
            engine = _create_engine(parsed)
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            raise JournalError(
                f"cannot use the journal at {parsed.render_as_string(hide_password=True)}: "
                f"{_describe(exc, parsed.password if isinstance(parsed.password, str) else None)}"
            ) from None
        journal = cls(engine, parsed)
        try:
            journal._run("connect", lambda cur: journal._fetch(cur, journal._sql.ping), write=False)
            if migrate:
                journal.migrate()
        except BaseException:
            journal.close()
            raise
        if parsed.get_backend_name() == "sqlite" and not _is_memory(parsed) and parsed.database:
            journal._checkpointer = _Checkpointer(parsed.database)
        return journal

    def __repr__(self) -> str:
        return f"Journal({self.redacted_url!r})"

    # -- plumbing ----------------------------------------------------------------------------

    def _fail(self, doing: str, exc: BaseException) -> JournalError:
        return JournalError(
            f"journal at {self.redacted_url}: {doing} failed: {_describe(exc, self._password)}"
        )

    def _run(
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
        engine = self._engine
        if engine is None:
            raise JournalError(f"{doing}: the journal at {self.redacted_url} is closed")
        if self._lock is not None:
            with self._lock:
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
        flush: bool = True,
    ) -> T:
        held = self._keep_readers and not write
        try:
            connection = self._reader(engine) if held else engine.raw_connection()
        except (sa_exc.SQLAlchemyError, self._dbapi_error) as exc:  # the pool raises driver errors as is
            raise self._fail(doing, exc) from None
        cursor = None
        relaxed = write and not flush
        try:
            cursor = connection.cursor()
            if self._sqlite and relaxed:
                cursor.execute("PRAGMA synchronous = NORMAL")  # WAL: written, not fsynced
            if self._sqlite and (write or snapshot):
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            elif relaxed:
                cursor.execute("SET LOCAL synchronous_commit = off")
            result = work(cursor)
            if write:
                connection.commit()
            else:
                connection.rollback()
            if self._sqlite and relaxed:
                cursor.execute("PRAGMA synchronous = FULL")
            return result
        except BaseException as exc:
            self._abandon(connection, exc)
            if self._sqlite and relaxed:
                connection.invalidate()  # never hand a relaxed connection to a durable write
            if held:
                self._drop_reader(connection)
            if isinstance(exc, self._dbapi_error):
                raise self._fail(doing, exc) from None
            raise
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except self._dbapi_error:  # a dead connection: it is invalidated already
                    pass
            if not held:
                connection.close()

    def _reader(self, engine: Engine) -> Any:
        """This thread's kept read connection (checked out of the pool once)."""
        connection = getattr(self._readers, "connection", None)
        if connection is None or connection.dbapi_connection is None:
            connection = engine.raw_connection()
            self._readers.connection = connection
            with self._held_lock:
                self._held.append(connection)
        return connection

    def _drop_reader(self, connection: Any) -> None:
        self._readers.connection = None
        with self._held_lock:
            if connection in self._held:
                self._held.remove(connection)
        try:
            connection.invalidate()
        except self._dbapi_error:
            pass

    def _abandon(self, connection: Any, exc: BaseException) -> None:
        """Roll back; drop the connection from the pool when the database went away."""
        try:
            connection.rollback()
        except self._dbapi_error:
            connection.invalidate()
            return
        engine = self._engine
        if engine is not None and isinstance(exc, self._dbapi_error):
            if engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):  # type: ignore[arg-type]
                connection.invalidate()

    def _exec(self, cursor: Any, sql: _Sql, values: Mapping[str, Any]) -> None:
        cursor.execute(sql.text, sql.params(values))

    def _exec_many(self, cursor: Any, sql: _Sql, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            cursor.executemany(sql.text, [sql.params(row) for row in rows])

    def _fetch(self, cursor: Any, sql: _Sql, values: Mapping[str, Any] | None = None) -> list[Any]:
        cursor.execute(sql.text, sql.params(values or {}))
        return list(cursor.fetchall())

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Round-trip `SELECT 1`; raises JournalError when the database is unreachable."""
        self._run("ping", lambda cur: self._fetch(cur, self._sql.ping), write=False)

    def close(self) -> None:
        """Release every pooled connection. Further calls raise JournalError."""
        engine, self._engine = self._engine, None
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            try:
                connection.close()  # back to the pool, which dispose() then closes
            except self._dbapi_error:
                pass
        if engine is not None:
            engine.dispose()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (default: the newest this code ships)."""
        self._alembic("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to `revision` (`base` drops every journal table and its data)."""
        self._alembic("downgrade", revision)

    def current_revision(self) -> str | None:
        """The schema revision the database is at, or None when it was never migrated."""
        from alembic.runtime.migration import MigrationContext

        engine = self._require_engine("read the schema revision")
        try:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except sa_exc.SQLAlchemyError as exc:
            raise self._fail("reading the schema revision", exc) from None

    def _require_engine(self, doing: str) -> Engine:
        if self._engine is None:
            raise JournalError(f"{doing}: the journal at {self.redacted_url} is closed")
        return self._engine

    def _alembic(self, direction: str, revision: str) -> None:
        from alembic import command
        from alembic.util import CommandError

        engine = self._require_engine(f"{direction} to {revision}")
        try:
            with engine.connect() as connection, connection.begin():
                if engine.dialect.name == "postgresql":
                    # Serialise concurrent migrations (orchestrator and API starting together).
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                    )
                config = alembic_config(connection)
                if direction == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
        except CommandError as exc:
            raise JournalError(
                f"cannot {direction} the journal at {self.redacted_url} to {revision!r}: {exc}. "
                f"This version ships revisions up to {head_revision()}; if the database was migrated by a "
                "newer flash-green, run that version (or restore a backup)."
            ) from None
        except (sa_exc.SQLAlchemyError, self._dbapi_error) as exc:
            raise self._fail(f"{direction} to {revision}", exc) from None

    # -- writes ------------------------------------------------------------------------------

    def begin_cycle(self, cycle: CycleRecord) -> None:
        """Write-ahead entry: the cycle (status STARTED) and its planned orders, before any is sent.

        Committed to the WAL without waiting for the disk: it survives the bot's process being
        killed (what restart recovery reads), and the cycle's finishing commit, which is flushed,
        makes it durable. Only a machine crash in between can lose it; the orders it names then
        carry ids the next cycle reuses, which venues treat as the same order, never a second one.
        Idempotent: repeating it for a cycle already journalled changes nothing.
        """
        _check_orders(cycle.cycle_id, cycle.orders)
        codec, sql = self._codec, self._sql
        row = codec.cycle_row(cycle, CycleStatus.STARTED)
        row["finished_at"] = None
        orders = [codec.order_row(order) for order in cycle.orders]

        def work(cur: Any) -> None:
            self._exec(cur, sql.cycle_insert, row)
            self._exec_many(cur, sql.order_insert, orders)

        self._run(f"begin_cycle {cycle.cycle_id}", work, write=True, flush=False)

    def update_orders(self, orders: Sequence[OrderRecord]) -> None:
        """Insert or update orders by client_order_id (their cycle must be journalled)."""
        rows = [self._codec.order_row(order) for order in orders]
        if not rows:
            return
        self._run("update_orders", lambda cur: self._exec_many(cur, self._sql.order_upsert, rows), write=True)

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
        codec, sql = self._codec, self._sql
        row = codec.cycle_row(cycle, cycle.status)
        orders = [codec.order_row(order) for order in cycle.orders]
        trade = codec.trade_row(cycle.trade) if cycle.trade is not None else None
        new = _contribution(cycle.status, cycle.realised_gbp, cycle.finished_at)

        def work(cur: Any) -> None:
            prior_rows = self._fetch(cur, sql.cycle_prior, {"cycle_id": cycle.cycle_id})
            old = None
            if prior_rows:
                status, realised, finished = prior_rows[0]
                old = _contribution(
                    CycleStatus(status), codec.money_out(realised), codec.opt_ts_out(finished)
                )
            self._exec(cur, sql.cycle_upsert, row)
            self._exec_many(cur, sql.order_upsert, orders)
            if trade is not None:
                self._exec(cur, sql.trade_upsert, trade)
            elif old is not None:
                self._exec(cur, sql.trade_delete, {"cycle_id": cycle.cycle_id})  # a corrected cycle
            for day, (realised, loss, n_trades, n_unwound) in _daily_deltas(old, new).items():
                values = {
                    "day": codec.day(day),
                    "realised_gbp": codec.money(realised, "realised_gbp"),
                    "loss_gbp": codec.money(loss, "loss_gbp"),
                    "trades": n_trades,
                    "unwound": n_unwound,
                }
                self._exec(cur, sql.daily_add, values)

        self._run(f"finish_cycle {cycle.cycle_id}", work, write=True)

    def count_skipped(self, day: date, outcome: str, reason: str, n: int = 1) -> None:
        """Add `n` to the counter of cycles that never traded on `day` for (outcome, reason)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise JournalError(f"count_skipped: n must be a positive integer, got {n!r}")
        values = {"day": self._codec.day(day), "outcome": outcome, "reason": reason, "count": n}
        self._run("count_skipped", lambda cur: self._exec(cur, self._sql.count_add, values), write=True)

    def record_audit(self, entry: AuditRecord) -> None:
        """Append one audit line (its parameters must already be redacted)."""
        values = {
            "at": self._codec.ts(entry.at, "at"),
            "client": entry.client,
            "principal": entry.principal,
            "roles": json.dumps(list(entry.roles)),
            "action": entry.action,
            "parameters": json.dumps(dict(entry.parameters), sort_keys=True),
            "outcome": entry.outcome,
            "status_code": int(entry.status_code),
        }
        self._run("record_audit", lambda cur: self._exec(cur, self._sql.audit_insert, values), write=True)

    # -- reads -------------------------------------------------------------------------------

    def next_cycle_seq(self) -> int:
        """One more than the highest cycle sequence ever journalled (1 on an empty journal)."""
        rows = self._run("next_cycle_seq", lambda cur: self._fetch(cur, self._sql.next_seq), write=False)
        return int(rows[0][0])

    def incomplete_cycles(self) -> list[CycleRecord]:
        """Cycles left STARTED (by a crash), oldest first, each with its orders: restart recovery."""
        codec, sql = self._codec, self._sql

        def work(cur: Any) -> list[CycleRecord]:
            cycle_rows = self._fetch(cur, sql.cycles_started)
            order_rows = self._fetch(cur, sql.orders_of_started)
            by_cycle: dict[str, list[OrderRecord]] = {}
            for order_row in order_rows:
                by_cycle.setdefault(order_row[1], []).append(codec.order_record(order_row))
            return [codec.cycle_record(r, tuple(by_cycle.get(r[0], ())), None) for r in cycle_rows]

        return self._run("incomplete_cycles", work, write=False, snapshot=True)

    def daily_pnl(self, day: date) -> DailyPnl:
        """The UTC day's realised PnL, losses, trades and unwinds (zeros when nothing happened)."""
        values = {"day": self._codec.day(day)}
        rows = self._run("daily_pnl", lambda cur: self._fetch(cur, self._sql.daily_one, values), write=False)
        if not rows:
            return DailyPnl(day=day, realised_gbp=_ZERO, loss_gbp=_ZERO, trades=0, unwound=0)
        return self._codec.daily_record(rows[0])

    def pnl_history(self, since: date, until: date) -> list[DailyPnl]:
        """One entry per UTC day from `since` to `until` inclusive, oldest first (zeros filled in)."""
        values = {"since": self._codec.day(since), "until": self._codec.day(until)}
        rows = self._run(
            "pnl_history", lambda cur: self._fetch(cur, self._sql.daily_range, values), write=False
        )
        found = {entry.day: entry for entry in map(self._codec.daily_record, rows)}
        out = []
        day = since
        while day <= until:
            out.append(
                found.get(day) or DailyPnl(day=day, realised_gbp=_ZERO, loss_gbp=_ZERO, trades=0, unwound=0)
            )
            day += timedelta(days=1)
        return out

    def trades(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TradeRecord]:
        """Trades executed in [since, until), newest first, paged by limit/offset."""
        values = self._bounds(since, until)
        values.update(_paging(limit, offset))
        sql = self._sql.trades_page[(since is not None, until is not None)]
        rows = self._run("trades", lambda cur: self._fetch(cur, sql, values), write=False)
        return [self._codec.trade_record(row) for row in rows]

    def count_trades(self, *, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many trades were executed in [since, until)."""
        values = self._bounds(since, until)
        sql = self._sql.trades_count[(since is not None, until is not None)]
        rows = self._run("count_trades", lambda cur: self._fetch(cur, sql, values), write=False)
        return int(rows[0][0])

    def open_orders(self) -> list[OrderRecord]:
        """Orders not final yet (NEW, OPEN, PARTIALLY_FILLED), oldest first."""
        rows = self._run("open_orders", lambda cur: self._fetch(cur, self._sql.open_orders), write=False)
        return [self._codec.order_record(row) for row in rows]

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        """One cycle with its orders and trade, or None."""
        codec, sql = self._codec, self._sql
        key = {"cycle_id": cycle_id}

        def work(cur: Any) -> CycleRecord | None:
            rows = self._fetch(cur, sql.cycle_by_id, key)
            if not rows:
                return None
            orders = tuple(codec.order_record(r) for r in self._fetch(cur, sql.orders_by_cycle, key))
            trade_rows = self._fetch(cur, sql.trade_by_cycle, key)
            trade = codec.trade_record(trade_rows[0]) if trade_rows else None
            return codec.cycle_record(rows[0], orders, trade)

        return self._run(f"cycle {cycle_id}", work, write=False, snapshot=True)

    def skipped_counts(self, day: date) -> dict[tuple[str, str], int]:
        """Cycles that never traded on `day`, by (outcome, reason)."""
        values = {"day": self._codec.day(day)}
        rows = self._run(
            "skipped_counts", lambda cur: self._fetch(cur, self._sql.skipped, values), write=False
        )
        return {(outcome, reason): int(count) for outcome, reason, count in rows}

    def audit_log(self, *, limit: int = 100, offset: int = 0) -> list[AuditRecord]:
        """Audit lines, newest first, paged by limit/offset."""
        values = _paging(limit, offset)
        rows = self._run("audit_log", lambda cur: self._fetch(cur, self._sql.audit_page, values), write=False)
        return [self._codec.audit_record(row) for row in rows]

    def _bounds(self, since: datetime | None, until: datetime | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if since is not None:
            values["since"] = self._codec.ts(since, "since")
        if until is not None:
            values["until"] = self._codec.ts(until, "until")
        return values


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


__all__ = ["Journal", "JournalError", "alembic_config", "head_revision", "migrate_database", "redact_url"]
