"""What one executing cycle has done so far, and the journal records that say so.

The saga's steps change a `CycleState` (orders sent and what their venues answered, the loan);
the journal receives the records it builds: the write-ahead entry before any order is sent, each
order before it is sent and each answer as it comes, the closed cycle at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.domain.decision import Limits, Opportunity, spread
from bot.domain.market import Book, OrderRequest, OrderState, OrderStatus, Side
from bot.domain.pnl import Fill, average_price, money, venue_fees
from bot.journal.records import CostBreakdown, CycleRecord, CycleStatus, OrderRecord, TradeRecord
from bot.loans.base import LoanHandle, LoanReceipt, Settlement
from bot.orchestrator.ids import order_id

ZERO = Decimal(0)


@dataclass
class CycleState:
    """Mutable state of one executing cycle."""

    cycle_id: str
    seq: int
    started_at: datetime
    opportunity: Opportunity
    power_book: Book
    futures_book: Book
    entry: OrderRequest  # the power leg as planned
    exit: OrderRequest  # the futures leg as planned; sent for the quantity the entry filled
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # each order's latest state
    loan: LoanHandle | None = None
    loan_repaid: bool = False
    loan_receipt: LoanReceipt | None = None  # how the lender settled the loan (a transaction on chain)
    paper: bool = False  # orders filled locally against live books (PAPER_TRADING)

    @classmethod
    def open(
        cls,
        cycle_id: str,
        seq: int,
        now: datetime,
        opportunity: Opportunity,
        books: tuple[Book, Book],
        venues: tuple[str, str],
    ) -> CycleState:
        """A cycle about to start: both legs planned (status NEW) from the opportunity."""
        opp = opportunity
        entry = OrderRequest(
            order_id(cycle_id, "power", "entry"), "power", Side.BUY, opp.quantity, opp.power_limit
        )
        exit_ = OrderRequest(
            order_id(cycle_id, "futures", "exit"), "futures", Side.SELL, opp.quantity, opp.futures_limit
        )
        state = cls(cycle_id, seq, now, opp, books[0], books[1], entry, exit_)
        for order, purpose, venue in ((entry, "entry", venues[0]), (exit_, "exit", venues[1])):
            state.note(order, venue, purpose, OrderState(order.client_order_id, OrderStatus.NEW), now)
        return state

    def note(
        self, order: OrderRequest, venue: str, purpose: str, state: OrderState, at: datetime
    ) -> OrderRecord:
        """Record an order's latest state (NEW before it is sent, then each answer); returns its record."""
        filled, price = state.filled_quantity, state.average_price
        record = self.orders[order.client_order_id] = OrderRecord(
            client_order_id=order.client_order_id,
            cycle_id=self.cycle_id,
            leg=order.leg,
            venue=venue,
            side=order.side,
            purpose=purpose,
            quantity_mwh=order.quantity,
            limit_price_gbp=order.limit_price,
            status=state.status,
            filled_mwh=filled,
            avg_price_gbp=price,
            venue_order_id=state.venue_order_id,
            created_at=self.started_at,
            updated_at=at,
        )
        return record

    def journalled_as(self, order: OrderRequest, venue: str) -> bool:
        """Whether the journal already holds this very order, not yet sent (the write-ahead entry's)."""
        known = self.orders.get(order.client_order_id)
        return (
            known is not None
            and known.status is OrderStatus.NEW
            and known.venue == venue
            and (known.side, known.quantity_mwh, known.limit_price_gbp)
            == (order.side, order.quantity, order.limit_price)
        )

    @property
    def fills(self) -> list[Fill]:
        """What the cycle's orders filled so far, one fill per order."""
        return fills_of(self.orders.values())

    @property
    def partial(self) -> bool:
        """True when an unwind order filled: part of the power leg could not be hedged."""
        return any(o.purpose == "unwind" and o.filled_mwh > ZERO for o in self.orders.values())

    def record(
        self,
        status: CycleStatus,
        reason: str | None,
        *,
        finished: datetime | None = None,
        realised: Decimal = ZERO,
        trade: TradeRecord | None = None,
    ) -> CycleRecord:
        """The cycle as the journal stores it (STARTED for the write-ahead entry)."""
        power_ask, futures_bid = self.power_book.asks[0].price, self.futures_book.bids[0].price
        return CycleRecord(
            cycle_id=self.cycle_id,
            seq=self.seq,
            started_at=self.started_at,
            finished_at=finished,
            status=status,
            reason=reason,
            power_ask_gbp=power_ask,
            futures_bid_gbp=futures_bid,
            spread_gbp=spread(self.power_book, self.futures_book),
            planned_mwh=self.opportunity.quantity,
            expected_profit_gbp=money(self.opportunity.expected_profit),
            realised_gbp=realised,
            orders=tuple(self.orders.values()),
            trade=trade,
            paper=self.paper,
        )

    def costs(self, limits: Limits) -> CostBreakdown:
        """The cycle's costs so far, each rounded to the penny as the journal stores them; the loan
        fee is the one the lender charged when it settled, else the one quoted when it was drawn."""
        fills = self.fills
        power_fee, futures_fee = venue_fees(fills, limits.power_fee_bp, limits.futures_fee_bp)
        loan, receipt = self.loan, self.loan_receipt
        loan_fee = receipt.fee_gbp if receipt is not None else (loan.fee if loan is not None else ZERO)
        return CostBreakdown(
            power_fee_gbp=money(power_fee),
            futures_fee_gbp=money(futures_fee),
            loan_fee_gbp=money(loan_fee),
            gas_gbp=money(limits.gas if loan is not None else ZERO),
            slippage_gbp=money(self._slippage(fills)),
        )

    def settlement(self, limits: Limits) -> Settlement:
        """What the hedged cycle settles: the power seller is paid the power leg's net cost and its
        venue fee; the futures buyer pays the proceeds net of its venue fee.

        Built from the journal's own rounded figures, so what the settlement leaves the desk
        (collect - pay - loan fee) is the cycle's realised PnL plus the gas estimate, to the penny.
        The floor the lender enforces is zero: a settlement never loses the desk tokens. The
        profit threshold (MIN_PROFIT_GBP) is applied before any order is sent, where it can still
        change what happens.
        """
        fills = self.fills
        costs = self.costs(limits)
        gross = money(sum((f.cash for f in fills), ZERO))
        power_out = money(-sum((f.cash for f in fills if f.leg == "power"), ZERO))
        return Settlement(
            cycle_id=self.cycle_id,
            pay_gbp=power_out + costs.power_fee_gbp,
            collect_gbp=gross + power_out - costs.futures_fee_gbp,
            min_profit_gbp=ZERO,
        )

    def close(
        self, status: CycleStatus, reason: str | None, finished: datetime, limits: Limits
    ) -> CycleRecord:
        """The finished cycle: realised PnL from what filled, net of fees, loan fee and gas.

        Only a TRADED cycle carries a trade; a half-done cycle is never recorded as profit.
        """
        fills = self.fills
        loan, receipt = self.loan, self.loan_receipt
        cash = sum((f.cash for f in fills), ZERO)
        costs = self.costs(limits)
        net = money(cash) - costs.total_gbp
        trade = None
        if status is CycleStatus.TRADED:
            _, power_px = average_price(fills, "power", Side.BUY)
            hedged, futures_px = average_price(fills, "futures", Side.SELL)
            drawn = loan.amount if loan is not None else ZERO
            tx, block, gas = _on_chain(receipt)
            trade = TradeRecord(
                cycle_id=self.cycle_id,
                executed_at=finished,
                quantity_mwh=hedged,
                power_price_gbp=power_px if power_px is not None else ZERO,
                futures_price_gbp=futures_px if futures_px is not None else ZERO,
                loan_amount_gbp=receipt.amount_gbp if receipt is not None else drawn,
                gross_gbp=money(cash),
                costs=costs,
                net_gbp=net,
                loan_tx=tx,
                loan_block=block,
                loan_gas_used=gas,
            )
        return self.record(status, reason, finished=finished, realised=net, trade=trade)

    def _slippage(self, fills: list[Fill]) -> Decimal:
        """Cost of filling away from the quoted top of book (informational; already in the prices)."""
        total = ZERO
        top_ask = self.power_book.asks[0].price
        top_bid = self.futures_book.bids[0].price
        for fill in fills:
            if fill.leg == "power" and fill.side is Side.BUY:
                total += (fill.price - top_ask) * fill.quantity
            elif fill.leg == "futures" and fill.side is Side.SELL:
                total += (top_bid - fill.price) * fill.quantity
        return total


def _on_chain(receipt: LoanReceipt | None) -> tuple[str | None, int | None, int | None]:
    """The settlement transaction's hash, block and gas: set only when a chain mined it."""
    if receipt is None or receipt.block_number is None:
        return None, None, None
    return receipt.reference, receipt.block_number, receipt.gas_used


def fills_of(orders: Iterable[OrderRecord]) -> list[Fill]:
    """The fill of each order that filled something (its quantity at its average price)."""
    return [
        Fill(o.leg, o.side, o.filled_mwh, o.avg_price_gbp)
        for o in orders
        if o.filled_mwh > ZERO and o.avg_price_gbp is not None
    ]
