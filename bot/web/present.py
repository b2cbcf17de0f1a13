"""Journal records and supervisor states as response models (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.journal.records import AuditRecord, DailyPnl, OrderRecord, TradeRecord
from bot.web.schemas import (
    AuditEntry,
    BlockedReason,
    CostsOut,
    OrchestratorStatus,
    OrchestratorSummary,
    OrderOut,
    SpreadPoint,
    SuiteRunResult,
    TradeOut,
)
from bot.web.supervisor import LoopStatus, SuiteRun


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
    costs = record.costs
    return TradeOut(
        cycle_id=record.cycle_id,
        executed_at=record.executed_at,
        quantity_mwh=record.quantity_mwh,
        power_price_gbp=record.power_price_gbp,
        futures_price_gbp=record.futures_price_gbp,
        spread_gbp=record.futures_price_gbp - record.power_price_gbp,
        loan_amount_gbp=record.loan_amount_gbp,
        gross_gbp=record.gross_gbp,
        costs=CostsOut(
            power_fee_gbp=costs.power_fee_gbp,
            futures_fee_gbp=costs.futures_fee_gbp,
            loan_fee_gbp=costs.loan_fee_gbp,
            gas_gbp=costs.gas_gbp,
            slippage_gbp=costs.slippage_gbp,
            total_gbp=costs.total_gbp,
        ),
        net_gbp=record.net_gbp,
    )


def order(record: OrderRecord) -> OrderOut:
    return OrderOut(
        client_order_id=record.client_order_id,
        cycle_id=record.cycle_id,
        leg=record.leg,
        venue=record.venue,
        side=record.side.value,
        purpose=record.purpose,
        quantity_mwh=record.quantity_mwh,
        limit_price_gbp=record.limit_price_gbp,
        status=record.status.value,
        filled_mwh=record.filled_mwh,
        avg_price_gbp=record.avg_price_gbp,
        venue_order_id=record.venue_order_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


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


def audit(record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        at=record.at,
        client=record.client,
        principal=record.principal,
        roles=list(record.roles),
        action=record.action,
        parameters=dict(record.parameters),
        outcome=record.outcome,
        status_code=record.status_code,
    )


def loop_summary(status: LoopStatus) -> OrchestratorSummary:
    return OrchestratorSummary(
        state=status.state,  # type: ignore[arg-type]
        pid=status.pid,
        exit_code=status.exit_code,
        started_at=status.started_at,
        finished_at=status.finished_at,
        supervised=status.supervised,
        stop_requested=status.stop_requested,
        overrides=dict(status.overrides),
    )


def loop_status(status: LoopStatus) -> OrchestratorStatus:
    return OrchestratorStatus(**loop_summary(status).model_dump(), log_tail=list(status.log_tail))


def suite_run(run: SuiteRun) -> SuiteRunResult:
    return SuiteRunResult(
        state=run.state,  # type: ignore[arg-type]
        args=list(run.args),
        exit_code=run.exit_code,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=run.duration_s,
        output=run.output,
        cut_bytes=run.cut_bytes,
    )
