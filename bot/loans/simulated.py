"""The simulated flash loan (the default lender): a limit, a fee, and failures on request.

One loan may be outstanding per cycle id. The fee is `LOAN_FEE_BP` of the amount, rounded to the
penny (half up), and the repayment must be exactly amount plus fee. The `loan_refuse`,
`settle_refuse` and `repay_fail` faults (from SIM_FAULTS, or forced with
`loan.faults.force("refuse")`, `"settle_refuse"` or `"repay_fail"`) make a draw, a settlement or a
repayment fail; a failed repayment leaves the loan outstanding so the caller can retry it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.market import BASIS_POINTS_PER_UNIT
from bot.domain.pnl import money
from bot.loans.base import LoanError, LoanHandle, LoanReceipt, LoanRefused, Settlement
from bot.markets.faults import LOAN_FAULTS, FaultPlan, ScopedFaults

if TYPE_CHECKING:
    from bot.config import Settings


def loan_fee(amount: Decimal, fee_bp: Decimal) -> Decimal:
    """The fee on `amount` GBP at `fee_bp` basis points, rounded to the penny (half up)."""
    return money(amount * fee_bp / BASIS_POINTS_PER_UNIT)


class SimulatedFlashLoan:
    """A lender that draws and takes back GBP loans in memory."""

    name = "sim-loan"

    def __init__(self, *, limit_gbp: Decimal, fee_bp: Decimal, faults: FaultPlan | None = None) -> None:
        """A lender of at most `limit_gbp` per loan, charging `fee_bp` basis points."""
        if limit_gbp <= 0 or fee_bp < 0:
            raise ValueError("limit_gbp must be positive and fee_bp must not be negative")
        self.limit_gbp = limit_gbp
        self.fee_bp = fee_bp
        plan = faults or FaultPlan(names=LOAN_FAULTS)
        self.faults: ScopedFaults = plan.scoped("loan")
        self._plan = plan
        self._outstanding: dict[str, LoanHandle] = {}
        self._seq = 0
        self.fees_earned = Decimal(0)  # total fees repaid (for tests and reconciliation)
        self._closed = False

    async def draw(self, cycle_id: str, amount: Decimal) -> LoanHandle:
        """Lend `amount` GBP to cycle `cycle_id`; `LoanError` starting "refused:" when it cannot."""
        self._check_open()
        if type(amount) is not Decimal:
            raise TypeError("the loan amount must be a Decimal (GBP)")
        if not amount > 0:
            raise LoanError(f"refused: amount must be positive, got {amount} GBP")
        if amount > self.limit_gbp:
            raise LoanError(
                f"refused: amount exceeds limit ({amount} GBP > LOAN_LIMIT_GBP {self.limit_gbp} GBP)"
            )
        if cycle_id in self._outstanding:
            raise LoanError(f"refused: cycle {cycle_id} already has an outstanding loan")
        if self._plan.trips("loan_refuse"):
            raise LoanError("refused: the lender declined (simulated fault loan_refuse)")
        self._seq += 1
        handle = LoanHandle(
            cycle_id=cycle_id,
            amount=amount,
            fee=loan_fee(amount, self.fee_bp),
            reference=f"{self.name}-{self._seq}",
        )
        self._outstanding[cycle_id] = handle
        return handle

    async def settle(self, handle: LoanHandle, settlement: Settlement) -> LoanReceipt:
        """Nothing settles here: the legs settle at their venues and the loan is repaid by `repay`."""
        self._check_open()
        if handle.cycle_id not in self._outstanding:
            raise LoanError(
                f"settle failed: no outstanding loan {handle.reference} for cycle {handle.cycle_id}"
            )
        if self._plan.trips("settle_refuse"):
            raise LoanRefused(
                "loan_refused:settle_refused",
                "refused: the lender declined the settlement (simulated fault settle_refuse)",
            )
        return LoanReceipt(reference=handle.reference, amount_gbp=handle.amount, fee_gbp=handle.fee)

    async def repay(self, handle: LoanHandle) -> None:
        """Take back amount plus fee; `LoanError` starting "repay failed:" when it does not happen."""
        self._check_open()
        drawn = self._outstanding.get(handle.cycle_id)
        if drawn is None or drawn.reference != handle.reference:
            raise LoanError(
                f"repay failed: no outstanding loan {handle.reference} for cycle {handle.cycle_id}"
            )
        due = drawn.amount + drawn.fee
        offered = handle.amount + handle.fee
        if offered != due:
            raise LoanError(
                f"repay failed: {offered} GBP offered, {due} GBP due ({drawn.amount} + fee {drawn.fee})"
            )
        if self._plan.trips("repay_fail"):
            raise LoanError("repay failed: the repayment did not settle (simulated fault repay_fail)")
        del self._outstanding[handle.cycle_id]
        self.fees_earned += drawn.fee

    def outstanding(self) -> dict[str, LoanHandle]:
        """Loans drawn and not yet repaid, by cycle id."""
        return dict(self._outstanding)

    async def ping(self) -> None:
        """The simulated lender is always reachable until closed."""
        self._check_open()

    async def close(self) -> None:
        """Stop lending: later calls raise `LoanError`."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise LoanError(f"{self.name} is closed")

    def __repr__(self) -> str:
        return (
            f"SimulatedFlashLoan(limit_gbp={self.limit_gbp}, fee_bp={self.fee_bp}, "
            f"outstanding={len(self._outstanding)})"
        )


def build_simulated_loan(settings: Settings) -> SimulatedFlashLoan:
    """The simulated lender the settings describe (LOAN_LIMIT_GBP, LOAN_FEE_BP, SIM_FAULTS, SIM_SEED)."""
    plan = FaultPlan.from_setting(settings.sim_faults, seed=settings.sim_seed ^ 0x10A4, names=LOAN_FAULTS)
    return SimulatedFlashLoan(limit_gbp=settings.loan_limit_gbp, fee_bp=settings.loan_fee_bp, faults=plan)
