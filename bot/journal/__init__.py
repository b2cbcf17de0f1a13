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
from bot.journal.store import DEFAULT_BOT, CycleTaken, Journal, migrate_database
from bot.journal.writer import WriterBusy

__all__ = [
    "DEFAULT_BOT",
    "AuditRecord",
    "CostBreakdown",
    "CycleRecord",
    "CycleStatus",
    "CycleTaken",
    "DailyPnl",
    "Journal",
    "JournalError",
    "OrderRecord",
    "TradeRecord",
    "WriterBusy",
    "head_revision",
    "migrate_database",
]
