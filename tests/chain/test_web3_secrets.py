"""The signer's key (LENDER_KEY) never appears in what the adapter shows: repr, errors, logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.loans.base import LoanError, Settlement
from bot.loans.web3 import Web3FlashLoan
from bot.loans.web3.deploy import DevChain
from bot.loans.web3.signer import Signer
from tests.chain.conftest import OWNER_KEY, Anvil, address_of

KEY_HEX = OWNER_KEY.removeprefix("0x")


async def test_the_key_is_never_in_repr_errors_or_logs(
    chain: Anvil,
    dev_chain: DevChain,
    make_loan: Callable[..., Web3FlashLoan],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # given adapters signing with the owner's key: one working, one on the wrong chain, one refused
    loan, wrong_chain = make_loan(), make_loan(chain_id=1)
    refused = make_loan(receiver=dev_chain.non_repaying_receiver)
    # when they are shown, used successfully, and fail in each way
    shown = [repr(loan), str(loan), repr(loan._signer), repr(loan._sender)]
    await loan.settle(
        await loan.draw("cycle-ok", Decimal("10")),
        Settlement("cycle-ok", Decimal("10"), Decimal("11"), Decimal("0")),
    )
    errors: list[str] = []
    for attempt in (
        wrong_chain.draw("cycle-x", Decimal("10")),
        loan.draw("cycle-x", Decimal("1000000")),
        refused.settle(
            await refused.draw("cycle-y", Decimal("10")),
            Settlement("cycle-y", Decimal("10"), Decimal(0), Decimal(0)),
        ),
    ):
        with pytest.raises(LoanError) as failed:
            await attempt
        errors.append(str(failed.value))
    # then the address is shown, the key nowhere
    assert address_of(OWNER_KEY) in shown[0]
    for text in [*shown, *errors, caplog.text]:
        assert KEY_HEX not in text.lower()


def test_an_invalid_key_is_refused_without_echoing_it() -> None:
    # given a key one digit short
    bad = KEY_HEX[:-1]
    # when a signer is made from it
    with pytest.raises(ValueError) as refused:
        Signer(bad)
    # then the error explains the format and does not repeat the value
    assert "LENDER_KEY is not a valid private key" in str(refused.value)
    assert bad not in str(refused.value)
