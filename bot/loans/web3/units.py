"""Exact conversions between the bot's GBP Decimals and the chain's integers.

The settlement token has 2 decimals, so one token unit is one penny. A GBP amount that is not a
whole number of pennies cannot be settled on chain; rather than round it silently (and settle a
different amount than the journal records) the conversion refuses it.
"""

from __future__ import annotations

from decimal import Decimal

PENNIES_PER_GBP = 100
WEI_PER_GWEI = 10**9


def to_pennies(gbp: Decimal) -> int:
    """`gbp` as integer pennies; `ValueError` unless it is a whole, non-negative number of pennies."""
    if type(gbp) is not Decimal or not gbp.is_finite():
        raise ValueError(f"money must be a finite Decimal in GBP, got {gbp!r}")
    pennies = gbp * PENNIES_PER_GBP
    if pennies != pennies.to_integral_value():
        raise ValueError(f"{gbp} GBP is not a whole number of pennies")
    if pennies < 0:
        raise ValueError(f"{gbp} GBP is negative")
    return int(pennies)


def to_gbp(pennies: int) -> Decimal:
    """Integer pennies as GBP with two decimal places."""
    return (Decimal(pennies) / PENNIES_PER_GBP).quantize(Decimal("0.01"))


def gwei_to_wei(gwei: Decimal) -> int:
    """A gwei amount (a setting) in wei, rounded down: a cap is never exceeded by rounding."""
    return int(gwei * WEI_PER_GWEI)
