"""The small interface every flash-loan adapter implements (simulated, on-chain)."""

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


@runtime_checkable
class FlashLoan(Protocol):
    name: str

    async def draw(self, cycle_id: str, amount: Decimal) -> LoanHandle:
        """Borrow `amount` GBP for this cycle; raises `LoanError` when refused."""
        ...

    async def repay(self, handle: LoanHandle) -> None:
        """Repay amount plus fee; raises `LoanError` when the repayment fails."""
        ...

    async def ping(self) -> None:
        """Raise `LoanError` when the lender cannot be reached."""
        ...

    async def close(self) -> None: ...
