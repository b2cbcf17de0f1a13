"""Journal records and supervisor states as response models (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.journal.records import AuditRecord, DailyPnl, OrderRecord, TradeRecord
from bot.web.schemas import (
    AuditEntry,
    BlockedReason,
    OrchestratorStatus,
    OrchestratorSummary,
    OrderOut,
    SpreadPoint,
    SuiteRunResult,
    TradeOut,
)
from bot.web.suite_runner import SuiteRun
from bot.web.supervisor import LoopStatus


def daily_fields(entry: DailyPnl) -> dict[str, object]:
    """A day's PnL as the plain fields of `DailyPnlOut` (validated with the response it is part of)."""
    return {
        "day": entry.day,
        "realised_gbp": entry.realised_gbp,
        "loss_gbp": entry.loss_gbp,
        "trades": entry.trades,
        "unwound": entry.unwound,
    }


def trade(record: TradeRecord) -> TradeOut:
    """A trade as served: the record's fields by name (costs with their total), and the fills' spread."""
    fields = {name: getattr(record, name) for name in TradeOut.model_fields if name != "spread_gbp"}
    fields["spread_gbp"] = record.futures_price_gbp - record.power_price_gbp
    return TradeOut.model_validate(fields, from_attributes=True)


def order(record: OrderRecord) -> OrderOut:
    return OrderOut.model_validate(record, from_attributes=True)  # side and status are string enums


def spread_points(trades: Iterable[TradeRecord]) -> list[SpreadPoint]:
    """Trades' fill prices as spread points, oldest first."""
    points = [
        SpreadPoint(
            at=record.executed_at,
            cycle_id=record.cycle_id,
            spread_gbp=record.futures_price_gbp - record.power_price_gbp,
            power_price_gbp=record.power_price_gbp,
            futures_price_gbp=record.futures_price_gbp,
            traded=True,
        )
        for record in trades
    ]
    points.sort(key=lambda point: point.at)
    return points


def blocked(counts: Mapping[tuple[str, str], int]) -> list[BlockedReason]:
    """Skipped-cycle counters, largest first."""
    rows = [BlockedReason(outcome=outcome, reason=reason, count=n) for (outcome, reason), n in counts.items()]
    rows.sort(key=lambda row: (-row.count, row.outcome, row.reason))
    return rows


# The models below name their fields as the records do: read by attribute, validated as they are built.


def audit(record: AuditRecord) -> AuditEntry:
    return AuditEntry.model_validate(record, from_attributes=True)


def loop_summary(status: LoopStatus) -> OrchestratorSummary:
    return OrchestratorSummary.model_validate(status, from_attributes=True)


def loop_status(status: LoopStatus) -> OrchestratorStatus:
    return OrchestratorStatus.model_validate(status, from_attributes=True)


def suite_run(run: SuiteRun) -> SuiteRunResult:
    return SuiteRunResult.model_validate(run, from_attributes=True)
