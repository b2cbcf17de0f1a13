"""Mark paper cycles: a `paper` column on `cycles`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-01

PAPER_TRADING fills every order locally against the live venues' books and sends nothing; its
cycles are journalled beside live ones and this column tells them apart. Every existing row was
written before paper trading existed: it is not paper (the server default, false). Downgrading
to 0002 drops the column, and with it the only mark of which cycles were paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A NOT NULL column with a constant default: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("cycles", sa.Column("paper", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("cycles", table_kwargs={"sqlite_with_rowid": False}) as batch:
        batch.drop_column("paper")
