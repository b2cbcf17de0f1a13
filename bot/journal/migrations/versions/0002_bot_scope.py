"""Scope the journal by bot: a `bot` column on every table, so many bots can share one database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-15

Existing rows are given their bot as follows (docs/journal.md, "Upgrading to 0002"):

- `cycles`, `orders` and `trades`: the prefix of the cycle id (`{bot}-{seq:09d}`), exact for
  every row the orchestrator wrote; a cycle id of another shape gets the configured bot name.
- `daily_pnl`, `cycle_counts` and `audit_log` carry no cycle id: they get the bot of the journal's
  latest cycle (before 0002 a journal held one bot's cycles: the orchestrator refused a journal
  whose latest cycle was another bot's), or, on a journal with no cycle yet, the configured bot
  name: `BOT_NAME` of the process that migrates (`flash-green migrate`, the orchestrator, the
  API), `-x bot=NAME` on the Alembic command line, else `flash-green`.

A bot's cycle sequence becomes unique per bot (`uq_cycles_bot_seq`), and the day rows are keyed
by (bot, day). Downgrading to 0001 works on a database holding one bot's journal only (0001 has
one sequence and one row per day for the whole database).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_BOT = "flash-green"
TABLES = ("cycles", "orders", "trades", "daily_pnl", "cycle_counts", "audit_log")
WITHOUT_ROWID = {"cycles", "orders", "trades", "daily_pnl", "cycle_counts"}
STARTED = sa.text("status = 'started'")
OPEN_ORDERS = sa.text("status IN ('NEW', 'OPEN', 'PARTIALLY_FILLED')")


def _configured_bot() -> str:
    config = context.config
    name = config.attributes.get("bot") or context.get_x_argument(as_dictionary=True).get("bot")
    return str(name or DEFAULT_BOT)


def _table(name: str, *extra: str) -> sa.TableClause:
    # Just the columns the backfill reads and writes (offline `--sql` renders the values inline).
    columns = ["bot", *extra] + (["cycle_id"] if name in ("cycles", "orders", "trades") else [])
    return sa.table(name, *(sa.column(column) for column in columns))


def _batch(table: str) -> Any:
    kwargs = {"sqlite_with_rowid": False} if table in WITHOUT_ROWID else {}
    return op.batch_alter_table(table, table_kwargs=kwargs)


def upgrade() -> None:
    configured = _configured_bot()
    op.drop_index("ix_cycles_started", table_name="cycles")
    op.drop_index("ix_orders_open", table_name="orders")
    op.drop_index("ix_trades_executed_at", table_name="trades")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    for table in TABLES:
        op.add_column(table, sa.Column("bot", sa.String(64), nullable=True))

    cycles = _table("cycles", "seq")
    cid = cycles.c.cycle_id
    length = sa.func.length(cid)
    shaped = sa.and_(length > 10, sa.func.substr(cid, length - 9, 1) == "-")  # `{bot}-{seq:09d}`
    prefix = sa.case((shaped, sa.func.substr(cid, 1, length - 10)), else_=sa.literal(configured))
    op.execute(cycles.update().values(bot=prefix))
    for name in ("orders", "trades"):
        of_cycle = _table(name)
        owner_of_cycle = sa.select(cycles.c.bot).where(cycles.c.cycle_id == of_cycle.c.cycle_id)
        op.execute(of_cycle.update().values(bot=owner_of_cycle.scalar_subquery()))
    latest = sa.select(cycles.c.bot).order_by(cycles.c.seq.desc()).limit(1).scalar_subquery()
    for name in ("daily_pnl", "cycle_counts", "audit_log"):
        op.execute(_table(name).update().values(bot=sa.func.coalesce(latest, sa.literal(configured))))

    with _batch("cycles") as batch:
        batch.alter_column("bot", existing_type=sa.String(64), nullable=False)
        batch.drop_constraint("uq_cycles_seq", type_="unique")
        batch.create_unique_constraint("uq_cycles_bot_seq", ["bot", "seq"])
    for table in ("orders", "trades", "audit_log"):
        with _batch(table) as batch:
            batch.alter_column("bot", existing_type=sa.String(64), nullable=False)
    for table, key in (("daily_pnl", ["bot", "day"]), ("cycle_counts", ["bot", "day", "outcome", "reason"])):
        with _batch(table) as batch:
            batch.alter_column("bot", existing_type=sa.String(64), nullable=False)
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)

    op.create_index(
        "ix_cycles_started", "cycles", ["bot", "seq"], sqlite_where=STARTED, postgresql_where=STARTED
    )
    op.create_index(
        "ix_orders_open",
        "orders",
        ["bot", "created_at"],
        sqlite_where=OPEN_ORDERS,
        postgresql_where=OPEN_ORDERS,
    )
    op.create_index("ix_trades_bot_executed_at", "trades", ["bot", "executed_at"])
    op.create_index("ix_audit_log_bot_at", "audit_log", ["bot", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_bot_at", table_name="audit_log")
    op.drop_index("ix_trades_bot_executed_at", table_name="trades")
    op.drop_index("ix_orders_open", table_name="orders")
    op.drop_index("ix_cycles_started", table_name="cycles")
    for table, key in (("daily_pnl", ["day"]), ("cycle_counts", ["day", "outcome", "reason"])):
        with _batch(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("bot")
    for table in ("orders", "trades", "audit_log"):
        with _batch(table) as batch:
            batch.drop_column("bot")
    with _batch("cycles") as batch:
        batch.drop_constraint("uq_cycles_bot_seq", type_="unique")
        batch.create_unique_constraint("uq_cycles_seq", ["seq"])
        batch.drop_column("bot")
    op.create_index("ix_cycles_started", "cycles", ["seq"], sqlite_where=STARTED, postgresql_where=STARTED)
    op.create_index(
        "ix_orders_open", "orders", ["created_at"], sqlite_where=OPEN_ORDERS, postgresql_where=OPEN_ORDERS
    )
    op.create_index("ix_trades_executed_at", "trades", ["executed_at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
