"""Record each on-chain loan's settlement: transaction hash, block and gas on `trades`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

With USE_WEB3_LOAN the loan is drawn, both legs settled and the loan repaid in one transaction;
the journal keeps that transaction's hash, block number and gas used beside the trade, so every
trade can be found on chain. The fee paid is the trade's `loan_fee_gbp`, read from the lender's
event. Rows written before (and every trade of the simulated lender) have no transaction: NULL.
Downgrading to 0003 drops the three columns, and with them the link from trades to the chain.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("loan_tx", "loan_block", "loan_gas_used")


def upgrade() -> None:
    # nullable columns: no table rebuild on SQLite, no rewrite on PostgreSQL
    op.add_column("trades", sa.Column("loan_tx", sa.String(66), nullable=True))
    op.add_column("trades", sa.Column("loan_block", sa.BigInteger(), nullable=True))
    op.add_column("trades", sa.Column("loan_gas_used", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades", table_kwargs={"sqlite_with_rowid": False}) as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
