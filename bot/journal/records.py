"""What the journal stores, as plain values. The orchestrator builds these; the journal persists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from bot.domain.market import Leg, OrderStatus, Side


class CycleStatus(StrEnum):
    STARTED = "started"  # write-ahead: orders may be in flight
    TRADED = "traded"  # both legs filled, loan repaid, PnL realised
    UNWOUND = "unwound"  # something failed; every leg was reversed and the loan repaid
    FAILED = "failed"  # the unwind itself could not complete: needs a human (see runbooks)
    RECOVERED = "recovered"  # found STARTED after a restart and closed by recovery


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str  # deterministic: f"{cycle_id}-{leg}-{purpose}"
    cycle_id: str
    leg: Leg
    venue: str
    side: Side
    purpose: str  # "entry" | "exit" | "unwind"
    quantity_mwh: Decimal
    limit_price_gbp: Decimal
    status: OrderStatus
    filled_mwh: Decimal
    avg_price_gbp: Decimal | None
    venue_order_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    power_fee_gbp: Decimal
    futures_fee_gbp: Decimal
    loan_fee_gbp: Decimal
    gas_gbp: Decimal
    slippage_gbp: Decimal  # against the quoted top of book, informational (already in fill prices)

    @property
    def total_gbp(self) -> Decimal:
        return self.power_fee_gbp + self.futures_fee_gbp + self.loan_fee_gbp + self.gas_gbp


@dataclass(frozen=True, slots=True)
class TradeRecord:
    cycle_id: str
    executed_at: datetime
    quantity_mwh: Decimal
    power_price_gbp: Decimal  # average fill, GBP/MWh (may be zero or negative)
    futures_price_gbp: Decimal  # average fill, GBP/MWh
    loan_amount_gbp: Decimal
    gross_gbp: Decimal  # (futures - power) * quantity
    costs: CostBreakdown
    net_gbp: Decimal  # gross - costs.total
    # the on-chain lender's settlement transaction (USE_WEB3_LOAN); None for the simulated lender
    loan_tx: str | None = None
    loan_block: int | None = None
    loan_gas_used: int | None = None


@dataclass(frozen=True, slots=True)
class CycleRecord:
    cycle_id: str
    seq: int
    started_at: datetime
    finished_at: datetime | None
    status: CycleStatus
    reason: str | None  # why it unwound or failed (short code, e.g. "futures_rejected")
    power_ask_gbp: Decimal | None
    futures_bid_gbp: Decimal | None
    spread_gbp: Decimal | None
    planned_mwh: Decimal | None
    expected_profit_gbp: Decimal | None
    realised_gbp: Decimal  # net PnL of the cycle, unwind losses included; 0 when nothing happened
    orders: tuple[OrderRecord, ...] = field(default=())
    trade: TradeRecord | None = None
    paper: bool = False  # PAPER_TRADING: filled against live books locally, nothing sent to a venue


@dataclass(frozen=True, slots=True)
class DailyPnl:
    day: date  # UTC day
    realised_gbp: Decimal  # sum of net PnL of every cycle that day
    loss_gbp: Decimal  # sum of the losses (each losing cycle's -net): what MAX_DAILY_LOSS_GBP limits
    trades: int
    unwound: int


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    client: str  # address
    principal: str  # key fingerprint or token subject; never the key or token
    roles: tuple[str, ...]
    action: str
    parameters: dict[str, str]  # secrets already redacted
    outcome: str  # "accepted" | "refused:<status>" | ...
    status_code: int
