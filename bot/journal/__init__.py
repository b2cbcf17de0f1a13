"""The trade journal: cycles, orders, trades, daily PnL, skipped-cycle counters and the audit log.

`Journal.open(url)` connects (SQLite file or PostgreSQL) and applies the migrations;
`migrate_database(url)` is what `flash-green migrate` runs. See docs/journal.md.
"""

from bot.journal.errors import JournalError
from bot.journal.migrate import head_revision
from bot.journal.records import (
    AuditRecord,
    CostBreakdown,
    CycleRecord,
    CycleStatus,
    DailyPnl,
    OrderRecord,
    TradeRecord,
)
from bot.journal.store import Journal, migrate_database

__all__ = [
    "AuditRecord",
    "CostBreakdown",
    "CycleRecord",
    "CycleStatus",
    "DailyPnl",
    "Journal",
    "JournalError",
    "OrderRecord",
    "TradeRecord",
    "head_revision",
    "migrate_database",
]
