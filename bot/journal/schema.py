"""The journal's tables, as SQLAlchemy Core metadata.

Money columns are `Money` and timestamps `UtcDateTime` (see `encoding`: exact Decimal, aware UTC,
on both engines).

Every table carries `bot`: one database may hold the journals of many bots, and every statement
is filtered by the bot it was opened for (revision 0002 added the column).

The migrations under `migrations/versions` create exactly these tables; a test checks that the
migrated database and this module agree.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import SchemaItem

from bot.journal.encoding import Money, UtcDateTime

BOT_NAME_MAX = 54  # a cycle id is `{bot}-{seq:09d}` and the cycle_id column holds 64 characters

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


def _without_rowid(name: str, *columns: SchemaItem) -> sa.Table:
    # Keyed by text or date: on SQLite one B-tree instead of two, fewer pages written per commit.
    return sa.Table(name, metadata, *columns, sqlite_with_rowid=False)


def _money(*names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    return [sa.Column(name, Money, nullable=nullable) for name in names]


def _partial_index(name: str, columns: tuple[sa.Column[Any], ...], where: sa.ColumnElement[bool]) -> None:
    # Only the few rows recovery and the open-orders view look for, so it stays a page or two.
    sa.Index(name, *columns, sqlite_where=where, postgresql_where=where)


def _cycle_id(*constraints: SchemaItem, **options: Any) -> sa.Column[Any]:
    # The key of `cycles`, and of the rows that belong to a cycle: one type everywhere.
    return sa.Column("cycle_id", sa.String(64), *constraints, **options)


def _bot(**options: Any) -> sa.Column[Any]:
    # Whose row this is: bots sharing one database each see and write only their own rows.
    return sa.Column("bot", sa.String(64), nullable=False, **options)


cycles = _without_rowid(
    "cycles",
    _cycle_id(primary_key=True),
    _bot(),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    *_money(
        "power_ask_gbp", "futures_bid_gbp", "spread_gbp", "planned_mwh", "expected_profit_gbp", nullable=True
    ),
    *_money("realised_gbp"),
    sa.Column("paper", sa.Boolean, nullable=False, server_default=sa.false()),  # revision 0003
    sa.UniqueConstraint("bot", "seq"),  # a bot's sequence: what begin_cycle allocates
)
_partial_index("ix_cycles_started", (cycles.c.bot, cycles.c.seq), cycles.c.status == "started")

orders = _without_rowid(
    "orders",
    sa.Column("client_order_id", sa.String(128), primary_key=True),
    _cycle_id(sa.ForeignKey("cycles.cycle_id"), nullable=False, index=True),
    _bot(),
    sa.Column("leg", sa.String(16), nullable=False),
    sa.Column("venue", sa.String(64), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    *_money("quantity_mwh", "limit_price_gbp"),
    sa.Column("status", sa.String(20), nullable=False),
    *_money("filled_mwh"),
    *_money("avg_price_gbp", nullable=True),
    sa.Column("venue_order_id", sa.String(128), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
OPEN_ORDER_STATUSES = ("NEW", "OPEN", "PARTIALLY_FILLED")
_partial_index(
    "ix_orders_open", (orders.c.bot, orders.c.created_at), orders.c.status.in_(OPEN_ORDER_STATUSES)
)

trades = _without_rowid(
    "trades",
    _cycle_id(sa.ForeignKey("cycles.cycle_id"), primary_key=True),
    _bot(),
    sa.Column("executed_at", UtcDateTime, nullable=False),
    *_money("quantity_mwh", "power_price_gbp", "futures_price_gbp", "loan_amount_gbp", "gross_gbp"),
    *_money("power_fee_gbp", "futures_fee_gbp", "loan_fee_gbp", "gas_gbp", "slippage_gbp"),  # the costs
    *_money("net_gbp"),
    # the on-chain lender's settlement transaction (revision 0004); NULL for the simulated lender
    sa.Column("loan_tx", sa.String(66), nullable=True),
    sa.Column("loan_block", sa.BigInteger, nullable=True),
    sa.Column("loan_gas_used", sa.BigInteger, nullable=True),
)
sa.Index("ix_trades_bot_executed_at", trades.c.bot, trades.c.executed_at)

daily_pnl = _without_rowid(
    "daily_pnl",
    _bot(primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *_money("realised_gbp", "loss_gbp"),
    sa.Column("trades", sa.Integer, nullable=False),
    sa.Column("unwound", sa.Integer, nullable=False),
)

cycle_counts = _without_rowid(
    "cycle_counts",
    _bot(primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    _bot(),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("client", sa.String(255), nullable=False),
    sa.Column("principal", sa.String(255), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),  # JSON array
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),  # JSON object, secrets already redacted
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
)
sa.Index("ix_audit_log_bot_at", audit_log.c.bot, audit_log.c.at)

TABLES: tuple[sa.Table, ...] = (cycles, orders, trades, daily_pnl, cycle_counts, audit_log)
