"""EIP-1559 fees for the loan transaction: what to offer, the cap, and how to bump a stuck one.

The offer is read from the node's fee history in one call: the next block's base fee and the
median tip of the latest block. The max fee covers the base fee doubling (six full blocks in a
row) plus the tip, and never exceeds CHAIN_MAX_FEE_GWEI. When even the next block's base fee is
above the cap the transaction would only wait in the pool, so it is refused before it is signed.

A transaction that is not mined in time is replaced at the same nonce with both fees raised by
an eighth (nodes require at least a tenth more to accept a replacement), still within the cap;
at the cap there is nothing left to offer and the replacement is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_TIP_WEI = 10**9  # 1 gwei: what public EIP-1559 chains' validators expect at the least
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8  # +12.5% per replacement


@dataclass(frozen=True, slots=True)
class Fees:
    """The fee fields of a type-2 transaction, in wei."""

    max_fee: int
    tip: int

    def fields(self) -> dict[str, int]:
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}


class FeeCapExceeded(Exception):
    """The next block's base fee is above CHAIN_MAX_FEE_GWEI."""


def offer(next_base_fee: int, median_tip: int | None, cap: int) -> Fees:
    """The fees to offer given the next block's base fee and the latest block's median tip."""
    if next_base_fee > cap:
        raise FeeCapExceeded(f"next block's base fee {next_base_fee} wei is above the cap {cap} wei")
    tip = min(max(median_tip or 0, MIN_TIP_WEI), cap - next_base_fee) if cap > next_base_fee else 0
    max_fee = min(2 * next_base_fee + tip, cap)
    return Fees(max_fee=max_fee, tip=min(tip, max_fee))


def bump(fees: Fees, cap: int) -> Fees | None:
    """Fees for a replacement of a transaction sent with `fees`, or None when the cap allows none."""
    max_fee = min(-(-fees.max_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR), cap)
    tip = min(-(-fees.tip * BUMP_NUMERATOR // BUMP_DENOMINATOR), max_fee)
    # A node accepts a replacement only when both fields rise by at least a tenth.
    if max_fee * 10 < fees.max_fee * 11 or tip * 10 < fees.tip * 11:
        return None
    return Fees(max_fee=max_fee, tip=tip)
