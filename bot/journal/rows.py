"""Records to table rows and back, by column name (the columns are named as the record fields).

Values stay Python values here (Decimal, aware datetime, date): `statements` converts them to and
from their storage form through the schema's column types.
"""

from __future__ import annotations

import json
from typing import Any

from bot.domain.market import OrderStatus, Side
from bot.journal import records
from bot.journal.statements import Row

# -- rows from records -----------------------------------------------------------------------


def cycle_row(cycle: records.CycleRecord, status: records.CycleStatus) -> dict[str, Any]:
    """The `cycles` row of `cycle`, with `status` (begin_cycle writes STARTED whatever it says)."""
    return {
        "cycle_id": cycle.cycle_id,
        "seq": cycle.seq,
        "started_at": cycle.started_at,
        "finished_at": cycle.finished_at,
        "status": status.value,
        "reason": cycle.reason,
        "power_ask_gbp": cycle.power_ask_gbp,
        "futures_bid_gbp": cycle.futures_bid_gbp,
        "spread_gbp": cycle.spread_gbp,
        "planned_mwh": cycle.planned_mwh,
        "expected_profit_gbp": cycle.expected_profit_gbp,
        "realised_gbp": cycle.realised_gbp,
        "paper": cycle.paper,
    }


def order_row(order: records.OrderRecord) -> dict[str, Any]:
    """The `orders` row of `order`; an unknown side or status raises ValueError."""
    return {
        "client_order_id": order.client_order_id,
        "cycle_id": order.cycle_id,
        "leg": str(order.leg),
        "venue": order.venue,
        "side": Side(order.side).value,
        "purpose": order.purpose,
        "quantity_mwh": order.quantity_mwh,
        "limit_price_gbp": order.limit_price_gbp,
        "status": OrderStatus(order.status).value,
        "filled_mwh": order.filled_mwh,
        "avg_price_gbp": order.avg_price_gbp,
        "venue_order_id": order.venue_order_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def trade_row(trade: records.TradeRecord) -> dict[str, Any]:
    """The `trades` row of `trade`: its costs are columns of the same row."""
    costs = trade.costs
    return {
        "cycle_id": trade.cycle_id,
        "executed_at": trade.executed_at,
        "quantity_mwh": trade.quantity_mwh,
        "power_price_gbp": trade.power_price_gbp,
        "futures_price_gbp": trade.futures_price_gbp,
        "loan_amount_gbp": trade.loan_amount_gbp,
        "gross_gbp": trade.gross_gbp,
        "power_fee_gbp": costs.power_fee_gbp,
        "futures_fee_gbp": costs.futures_fee_gbp,
        "loan_fee_gbp": costs.loan_fee_gbp,
        "gas_gbp": costs.gas_gbp,
        "slippage_gbp": costs.slippage_gbp,
        "net_gbp": trade.net_gbp,
        "loan_tx": trade.loan_tx,
        "loan_block": trade.loan_block,
        "loan_gas_used": trade.loan_gas_used,
    }


def audit_row(entry: records.AuditRecord) -> dict[str, Any]:
    """The `audit_log` row of `entry`: roles and parameters as JSON text (sorted keys)."""
    return {
        "at": entry.at,
        "client": entry.client,
        "principal": entry.principal,
        "roles": json.dumps(list(entry.roles)),
        "action": entry.action,
        "parameters": json.dumps(dict(entry.parameters), sort_keys=True),
        "outcome": entry.outcome,
        "status_code": int(entry.status_code),
    }


# -- records from rows -----------------------------------------------------------------------


def cycle_record(
    row: Row, orders: tuple[records.OrderRecord, ...], trade: records.TradeRecord | None
) -> records.CycleRecord:
    """The cycle of a `cycles` row, with the orders and trade read alongside it."""
    return records.CycleRecord(
        cycle_id=row["cycle_id"],
        seq=int(row["seq"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=records.CycleStatus(row["status"]),
        reason=row["reason"],
        power_ask_gbp=row["power_ask_gbp"],
        futures_bid_gbp=row["futures_bid_gbp"],
        spread_gbp=row["spread_gbp"],
        planned_mwh=row["planned_mwh"],
        expected_profit_gbp=row["expected_profit_gbp"],
        realised_gbp=row["realised_gbp"],
        orders=orders,
        trade=trade,
        paper=bool(row["paper"]),
    )


def order_record(row: Row) -> records.OrderRecord:
    """The order of an `orders` row."""
    return records.OrderRecord(
        client_order_id=row["client_order_id"],
        cycle_id=row["cycle_id"],
        leg=row["leg"],
        venue=row["venue"],
        side=Side(row["side"]),
        purpose=row["purpose"],
        quantity_mwh=row["quantity_mwh"],
        limit_price_gbp=row["limit_price_gbp"],
        status=OrderStatus(row["status"]),
        filled_mwh=row["filled_mwh"],
        avg_price_gbp=row["avg_price_gbp"],
        venue_order_id=row["venue_order_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def trade_record(row: Row) -> records.TradeRecord:
    """The trade of a `trades` row."""
    return records.TradeRecord(
        cycle_id=row["cycle_id"],
        executed_at=row["executed_at"],
        quantity_mwh=row["quantity_mwh"],
        power_price_gbp=row["power_price_gbp"],
        futures_price_gbp=row["futures_price_gbp"],
        loan_amount_gbp=row["loan_amount_gbp"],
        gross_gbp=row["gross_gbp"],
        costs=records.CostBreakdown(
            power_fee_gbp=row["power_fee_gbp"],
            futures_fee_gbp=row["futures_fee_gbp"],
            loan_fee_gbp=row["loan_fee_gbp"],
            gas_gbp=row["gas_gbp"],
            slippage_gbp=row["slippage_gbp"],
        ),
        net_gbp=row["net_gbp"],
        loan_tx=row["loan_tx"],
        loan_block=row["loan_block"],
        loan_gas_used=row["loan_gas_used"],
    )


def daily_record(row: Row) -> records.DailyPnl:
    """The day's totals of a `daily_pnl` row."""
    return records.DailyPnl(
        day=row["day"],
        realised_gbp=row["realised_gbp"],
        loss_gbp=row["loss_gbp"],
        trades=int(row["trades"]),
        unwound=int(row["unwound"]),
    )


def audit_record(row: Row) -> records.AuditRecord:
    """The audit line of an `audit_log` row (its id is only the table's key)."""
    return records.AuditRecord(
        at=row["at"],
        client=row["client"],
        principal=row["principal"],
        roles=tuple(json.loads(row["roles"])),
        action=row["action"],
        parameters=dict(json.loads(row["parameters"])),
        outcome=row["outcome"],
        status_code=int(row["status_code"]),
    )
