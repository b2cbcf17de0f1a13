"""Initial journal schema: cycles, orders, trades, daily_pnl, cycle_counts, audit_log.

Revision ID: 0001
Revises:
Create Date: 2025-06-01

The column types are spelled out (not imported from bot.journal.schema) so this revision keeps
creating the same tables whatever later code does: money is NUMERIC(18, 8) on PostgreSQL and an
integer count of 10^-8 GBP on SQLite; timestamps are TIMESTAMPTZ on PostgreSQL and ISO 8601 text
with +00:00 on SQLite. Tables keyed by text are WITHOUT ROWID on SQLite (one B-tree instead of two
per table: fewer pages written per commit); the status indexes are partial (only started cycles and
open orders), so they stay a page or two however long the journal grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money() -> sa.types.TypeEngine[Any]:
    return sa.Numeric(18, 8).with_variant(sa.BigInteger(), "sqlite")


def _timestamp() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cycles",
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("power_ask_gbp", _money(), nullable=True),
        sa.Column("futures_bid_gbp", _money(), nullable=True),
        sa.Column("spread_gbp", _money(), nullable=True),
        sa.Column("planned_mwh", _money(), nullable=True),
        sa.Column("expected_profit_gbp", _money(), nullable=True),
        sa.Column("realised_gbp", _money(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", name="pk_cycles"),
        sa.UniqueConstraint("seq", name="uq_cycles_seq"),
        sqlite_with_rowid=False,
    )
    started = sa.text("status = 'started'")
    op.create_index("ix_cycles_started", "cycles", ["seq"], sqlite_where=started, postgresql_where=started)

    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("leg", sa.String(16), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("quantity_mwh", _money(), nullable=False),
        sa.Column("limit_price_gbp", _money(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_mwh", _money(), nullable=False),
        sa.Column("avg_price_gbp", _money(), nullable=True),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.cycle_id"], name="fk_orders_cycle_id_cycles"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_orders_cycle_id", "orders", ["cycle_id"])
    open_orders = sa.text("status IN ('NEW', 'OPEN', 'PARTIALLY_FILLED')")
    op.create_index(
        "ix_orders_open", "orders", ["created_at"], sqlite_where=open_orders, postgresql_where=open_orders
    )

    op.create_table(
        "trades",
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("executed_at", _timestamp(), nullable=False),
        sa.Column("quantity_mwh", _money(), nullable=False),
        sa.Column("power_price_gbp", _money(), nullable=False),
        sa.Column("futures_price_gbp", _money(), nullable=False),
        sa.Column("loan_amount_gbp", _money(), nullable=False),
        sa.Column("gross_gbp", _money(), nullable=False),
        sa.Column("power_fee_gbp", _money(), nullable=False),
        sa.Column("futures_fee_gbp", _money(), nullable=False),
        sa.Column("loan_fee_gbp", _money(), nullable=False),
        sa.Column("gas_gbp", _money(), nullable=False),
        sa.Column("slippage_gbp", _money(), nullable=False),
        sa.Column("net_gbp", _money(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", name="pk_trades"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.cycle_id"], name="fk_trades_cycle_id_cycles"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_trades_executed_at", "trades", ["executed_at"])

    op.create_table(
        "daily_pnl",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("realised_gbp", _money(), nullable=False),
        sa.Column("loss_gbp", _money(), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("unwound", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_daily_pnl"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "cycle_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "outcome", "reason", name="pk_cycle_counts"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("client", sa.String(255), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("cycle_counts")
    op.drop_table("daily_pnl")
    op.drop_index("ix_trades_executed_at", table_name="trades")
    op.drop_table("trades")
    op.drop_index("ix_orders_open", table_name="orders")
    op.drop_index("ix_orders_cycle_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_cycles_started", table_name="cycles")
    op.drop_table("cycles")
