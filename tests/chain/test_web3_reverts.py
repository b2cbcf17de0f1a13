"""Revert data becomes a blocked reason; fees and money convert exactly. No node needed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_abi import encode
from eth_utils import keccak

from bot.loans.web3.errors import decode_revert
from bot.loans.web3.fees import FeeCapExceeded, Fees, bump, offer
from bot.loans.web3.units import to_gbp, to_pennies

GWEI = 10**9


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_an_openzeppelin_error_is_decoded_with_its_arguments() -> None:
    # given the revert data of OpenZeppelin's ERC20InsufficientAllowance
    spender = "0x" + "11" * 20
    data = selector("ERC20InsufficientAllowance(address,uint256,uint256)") + encode(
        ["address", "uint256", "uint256"], [spender, 5, 100]
    )
    # when it is decoded
    refusal = decode_revert("0x" + data.hex(), context="settlement of cycle c")
    # then the reason names the error and the message its arguments
    assert refusal.reason == "loan_refused:ERC20InsufficientAllowance"
    assert "allowance=5" in str(refusal) and "needed=100" in str(refusal)


def test_a_revert_string_and_a_panic_are_decoded() -> None:
    # given Solidity's Error(string) and Panic(uint256) revert data
    text = selector("Error(string)") + encode(["string"], ["not today"])
    panic = selector("Panic(uint256)") + encode(["uint256"], [0x11])
    # when they are decoded
    said, panicked = decode_revert(text, context="x"), decode_revert(panic, context="x")
    # then the string is in the message, and the panic says what went wrong
    assert (said.reason, str(said)) == ("loan_refused:revert", "x reverted: not today")
    assert panicked.reason == "loan_refused:panic" and "overflow" in str(panicked)


def test_an_unknown_or_empty_revert_is_still_a_refusal() -> None:
    # given revert data of no known error, and none at all
    unknown, empty = decode_revert("0xdeadbeef", context="x"), decode_revert(None, context="x")
    # then both are plain reverts saying what is known
    assert unknown.reason == empty.reason == "loan_refused:revert"
    assert "0xdeadbeef" in str(unknown) and "without a reason" in str(empty)


def test_fees_are_capped_and_a_replacement_outbids_by_more_than_a_tenth() -> None:
    # given a next base fee of 10 gwei and a cap of 100 gwei
    fees = offer(10 * GWEI, 2 * GWEI, 100 * GWEI)
    # then the offer covers the base fee doubling plus the tip
    assert fees == Fees(max_fee=22 * GWEI, tip=2 * GWEI)
    # and a replacement raises both by an eighth, until the cap leaves no room
    replaced = bump(fees, 100 * GWEI)
    assert (
        replaced is not None and replaced.max_fee * 8 == fees.max_fee * 9 and replaced.tip * 8 == fees.tip * 9
    )
    assert bump(Fees(max_fee=100 * GWEI, tip=2 * GWEI), 100 * GWEI) is None
    assert offer(10 * GWEI, 2 * GWEI, 15 * GWEI).max_fee == 15 * GWEI
    with pytest.raises(FeeCapExceeded):
        offer(101 * GWEI, 0, 100 * GWEI)


def test_money_converts_to_pennies_exactly_or_not_at_all() -> None:
    assert to_pennies(Decimal("1234.56")) == 123456
    assert to_gbp(123456) == Decimal("1234.56")
    for bad in (Decimal("0.001"), Decimal("-1"), Decimal("NaN")):
        with pytest.raises(ValueError):
            to_pennies(bad)
