"""The small interface every flash-loan adapter implements (simulated, on-chain).

A cycle draws the loan before its legs trade and repays it after. An on-chain lender cannot lend
across two transactions: `draw` only checks that the loan can be had (limit, lender liquidity) and
`settle` is the one transaction that draws, pays the power seller, collects the futures proceeds
and repays, or reverts as a whole. The simulated lender lends in `draw` and `settle` only records
the settlement. Either way `repay` returns whatever is still outstanding afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable


class LoanError(Exception):
    """The loan could not be drawn or repaid. The message is safe to log."""


@dataclass(frozen=True, slots=True)
class LoanHandle:
    """A drawn loan: repay exactly `amount + fee` in the same cycle."""

    cycle_id: str
    amount: Decimal  # GBP
    fee: Decimal  # GBP
    reference: str  # lender's id (a transaction hash for the on-chain lender)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a traded cycle settles, in GBP: paid to the power seller (the power leg's cost and its
    venue fee), collected from the futures buyer (the futures proceeds net of its venue fee), and
    the least profit the settlement must leave after the loan fee, or revert."""

    cycle_id: str
    pay_gbp: Decimal
    collect_gbp: Decimal
    min_profit_gbp: Decimal


@dataclass(frozen=True, slots=True)
class LoanReceipt:
    """A settled loan as its lender recorded it (for the on-chain lender, the mined transaction)."""

    reference: str  # the transaction hash on chain; the simulated lender's loan id
    amount_gbp: Decimal
    fee_gbp: Decimal
    block_number: int | None = None
    gas_used: int | None = None


class LoanRefused(LoanError):
    """The lender said no; `reason` is the cycle's blocked reason (`loan_refused:InsufficientLiquidity`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@runtime_checkable
class FlashLoan(Protocol):
    name: str

    async def draw(self, cycle_id: str, amount: Decimal) -> LoanHandle:
        """Borrow `amount` GBP for this cycle; raises `LoanError` when refused."""
        ...

    async def settle(self, handle: LoanHandle, settlement: Settlement) -> LoanReceipt:
        """Settle a traded cycle against its loan; raises `LoanRefused` when the lender reverts it
        (nothing moved: the saga unwinds the legs) and `LoanError` when the outcome is unknown."""
        ...

    async def repay(self, handle: LoanHandle) -> None:
        """Repay amount plus fee; raises `LoanError` when the repayment fails."""
        ...

    async def ping(self) -> None:
        """Raise `LoanError` when the lender cannot be reached."""
        ...

    async def close(self) -> None: ...
