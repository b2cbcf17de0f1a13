"""The journal's tables and the two value encodings every engine must agree on.

Money is exact: a fixed-point value with 8 decimal places (at most 10 digits before the point).
PostgreSQL stores it as NUMERIC(18, 8); SQLite, which has no exact decimal type, stores the same
value as an integer count of 10^-8 GBP (so `SUM()` in SQL stays exact). Both engines hand back a
`Decimal` with 8 decimal places. Binary floats are refused.

Timestamps are timezone-aware UTC: PostgreSQL stores TIMESTAMP WITH TIME ZONE; SQLite stores
fixed-width ISO 8601 text with the `+00:00` offset (it sorts chronologically). Naive datetimes
are refused.

The migrations under `migrations/versions` create exactly these tables; a test checks that the
migrated database and this module agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 8
MONEY_PRECISION = 18
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)  # exclusive bound on the magnitude
_ZERO = Decimal(0).quantize(MONEY_QUANTUM)
# Explicit context: the caller's thread context (precision, traps) must not change what is stored.
_MONEY_CONTEXT = Context(prec=40, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def exact_money(value: Decimal | int) -> Decimal:
    """The value as stored: 8 decimal places, rounded half away from zero as PostgreSQL rounds.

    Raises TypeError for floats (never exact) and ValueError for NaN, infinities and values whose
    magnitude reaches 10^10.
    """
    if type(value) is not Decimal:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be a Decimal, got {type(value).__name__}")
        value = Decimal(value)
    try:
        exact = value.quantize(MONEY_QUANTUM, context=_MONEY_CONTEXT)
        if -MONEY_LIMIT < exact < MONEY_LIMIT:
            return exact if exact else _ZERO  # no negative zero
    except InvalidOperation:
        pass
    raise ValueError(f"money must be a finite number with |value| < 10^10 GBP, got {value}")


def money_to_minor(value: Decimal | int) -> int:
    """Money as an integer count of 10^-8 GBP (the SQLite storage form)."""
    return int(exact_money(value).scaleb(MONEY_SCALE))


def money_from_minor(value: int) -> Decimal:
    """Inverse of `money_to_minor`: a Decimal with 8 decimal places."""
    return Decimal(value).scaleb(-MONEY_SCALE)


def aware_utc(value: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise TypeError(f"timestamp must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def utc_to_text(value: datetime) -> str:
    """Fixed-width ISO 8601 with microseconds and `+00:00` (the SQLite storage form)."""
    return aware_utc(value).isoformat(timespec="microseconds")


def utc_from_text(value: str) -> datetime:
    """Inverse of `utc_to_text`: an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC(18, 8) on PostgreSQL, integer 10^-8 units on SQLite; always Decimal."""

    impl = sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return money_to_minor(value)
        return exact_money(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return money_from_minor(int(value))
        return exact_money(Decimal(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC timestamps: TIMESTAMPTZ on PostgreSQL, ISO 8601 text on SQLite; naive refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return utc_to_text(value)
        return aware_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return utc_from_text(value)
        return aware_utc(value)


# Constraint names are fixed so later migrations can alter them on both engines.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

cycles = sa.Table(
    "cycles",
    metadata,
    sa.Column("cycle_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("power_ask_gbp", Money, nullable=True),
    sa.Column("futures_bid_gbp", Money, nullable=True),
    sa.Column("spread_gbp", Money, nullable=True),
    sa.Column("planned_mwh", Money, nullable=True),
    sa.Column("expected_profit_gbp", Money, nullable=True),
    sa.Column("realised_gbp", Money, nullable=False),
    sqlite_with_rowid=False,
)
# Partial indexes: only the few rows recovery and the open-orders view look for.
sa.Index(
    "ix_cycles_started",
    cycles.c.seq,
    sqlite_where=cycles.c.status == "started",
    postgresql_where=cycles.c.status == "started",
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("client_order_id", sa.String(128), primary_key=True),
    sa.Column("cycle_id", sa.String(64), sa.ForeignKey("cycles.cycle_id"), nullable=False, index=True),
    sa.Column("leg", sa.String(16), nullable=False),
    sa.Column("venue", sa.String(64), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("quantity_mwh", Money, nullable=False),
    sa.Column("limit_price_gbp", Money, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("filled_mwh", Money, nullable=False),
    sa.Column("avg_price_gbp", Money, nullable=True),
    sa.Column("venue_order_id", sa.String(128), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sqlite_with_rowid=False,
)
OPEN_ORDER_STATUSES = ("NEW", "OPEN", "PARTIALLY_FILLED")
sa.Index(
    "ix_orders_open",
    orders.c.created_at,
    sqlite_where=orders.c.status.in_(OPEN_ORDER_STATUSES),
    postgresql_where=orders.c.status.in_(OPEN_ORDER_STATUSES),
)

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("cycle_id", sa.String(64), sa.ForeignKey("cycles.cycle_id"), primary_key=True),
    sa.Column("executed_at", UtcDateTime, nullable=False, index=True),
    sa.Column("quantity_mwh", Money, nullable=False),
    sa.Column("power_price_gbp", Money, nullable=False),
    sa.Column("futures_price_gbp", Money, nullable=False),
    sa.Column("loan_amount_gbp", Money, nullable=False),
    sa.Column("gross_gbp", Money, nullable=False),
    sa.Column("power_fee_gbp", Money, nullable=False),
    sa.Column("futures_fee_gbp", Money, nullable=False),
    sa.Column("loan_fee_gbp", Money, nullable=False),
    sa.Column("gas_gbp", Money, nullable=False),
    sa.Column("slippage_gbp", Money, nullable=False),
    sa.Column("net_gbp", Money, nullable=False),
    sqlite_with_rowid=False,
)

daily_pnl = sa.Table(
    "daily_pnl",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("realised_gbp", Money, nullable=False),
    sa.Column("loss_gbp", Money, nullable=False),
    sa.Column("trades", sa.Integer, nullable=False),
    sa.Column("unwound", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

cycle_counts = sa.Table(
    "cycle_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("client", sa.String(255), nullable=False),
    sa.Column("principal", sa.String(255), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),  # JSON array
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),  # JSON object, secrets already redacted
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
)

TABLES: tuple[sa.Table, ...] = (cycles, orders, trades, daily_pnl, cycle_counts, audit_log)


def utc_day(value: datetime) -> date:
    """The UTC calendar day of an instant (the unit of daily PnL and the loss limit)."""
    return aware_utc(value).date()
