"""The on-chain flash loan on a real anvil node: each test is one behaviour a desk would notice.

Amounts are in GBP Decimals at the adapter and integer pennies on the chain (the token has two
decimals); the lender charges 5 bp rounded half up to the penny.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.loans.base import LoanError, LoanRefused, Settlement
from bot.loans.web3 import Web3FlashLoan
from bot.loans.web3.deploy import DevChain
from bot.loans.web3.devnode import free_port
from tests.chain.conftest import CHAIN_ID, STRANGER_KEY, Anvil, address_of

Factory = Callable[..., Web3FlashLoan]


def balances(chain: Anvil, dev: DevChain) -> dict[str, int]:
    """Every settlement-token balance a loan can touch, in pennies."""
    holders = {
        "seller": dev.seller,
        "escrow": dev.escrow,
        "receiver": dev.settlement_receiver,
        "lender": dev.lender,
        "test_receiver": dev.test_receiver,
    }
    return {name: chain.balance(dev.token, address) for name, address in holders.items()}


def settlement(cycle_id: str, pay: str, collect: str, min_profit: str = "0") -> Settlement:
    return Settlement(
        cycle_id=cycle_id,
        pay_gbp=Decimal(pay),
        collect_gbp=Decimal(collect),
        min_profit_gbp=Decimal(min_profit),
    )


async def test_a_settlement_pays_the_seller_collects_the_proceeds_and_repays_in_one_transaction(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given the adapter on the settlement receiver and the balances before
    loan = make_loan()
    before = balances(chain, dev_chain)
    # when a cycle draws 1000.00 GBP and settles paying 1000.00, collecting 1010.00, at least 5.00 profit
    handle = await loan.draw("cycle-1", Decimal("1000.00"))
    receipt = await loan.settle(handle, settlement("cycle-1", "1000.00", "1010.00", "5.00"))
    await loan.repay(handle)
    # then the fee was known at draw and paid on chain: 5 bp of 1000.00 is 0.50
    assert handle.fee == Decimal("0.50")
    assert receipt.fee_gbp == Decimal("0.50")
    assert receipt.amount_gbp == Decimal("1000.00")
    # and the one transaction moved every balance: seller +pay, escrow -collect,
    # receiver +collect-pay-fee (the desk's profit), lender +fee
    after = balances(chain, dev_chain)
    assert after["seller"] - before["seller"] == 100_000
    assert after["escrow"] - before["escrow"] == -101_000
    assert after["receiver"] - before["receiver"] == 101_000 - 100_000 - 50
    assert after["lender"] - before["lender"] == 50
    # and the receipt is the chain's: its hash names a mined, successful transaction in its block
    mined = chain.receipt(receipt.reference)
    assert mined is not None and int(mined["status"], 16) == 1
    assert int(mined["blockNumber"], 16) == receipt.block_number
    assert int(mined["gasUsed"], 16) == receipt.gas_used


async def test_a_loan_through_the_test_receiver_is_repaid_with_its_fee(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given the adapter lending to the TestReceiver (it repays from its own float)
    loan = make_loan(receiver=dev_chain.test_receiver)
    before = balances(chain, dev_chain)
    # when 2000.00 GBP is drawn and settled
    handle = await loan.draw("cycle-test", Decimal("2000.00"))
    receipt = await loan.settle(handle, settlement("cycle-test", "2000.00", "0"))
    # then the lender earned exactly the fee (1.00) and the receiver paid it
    after = balances(chain, dev_chain)
    assert receipt.fee_gbp == handle.fee == Decimal("1.00")
    assert after["lender"] - before["lender"] == 100
    assert after["test_receiver"] - before["test_receiver"] == -100


async def test_a_receiver_that_does_not_repay_is_refused_with_the_lenders_reason(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given the adapter lending to a receiver that never approves the repayment
    loan = make_loan(receiver=dev_chain.non_repaying_receiver)
    handle = await loan.draw("cycle-nr", Decimal("500.00"))
    nonce = chain.nonce(loan.address)
    # when the cycle settles
    with pytest.raises(LoanRefused) as refused:
        await loan.settle(handle, settlement("cycle-nr", "500.00", "0"))
    # then the lender's custom error is the blocked reason, and nothing was sent
    assert refused.value.reason == "loan_refused:RepayFailed"
    assert "RepayFailed()" in str(refused.value)
    assert chain.nonce(loan.address) == nonce


async def test_more_than_the_lender_holds_is_refused_with_insufficient_liquidity(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given a lender holding 10 million GBP and an adapter whose own limit is higher
    loan = make_loan(limit_gbp=Decimal("50000000"))
    # when a cycle asks for 20 million GBP
    with pytest.raises(LoanRefused) as at_draw:
        await loan.draw("cycle-big", Decimal("20000000"))
    handle = await loan.draw("cycle-big", Decimal("1000"))
    with pytest.raises(LoanRefused) as at_settle:
        await loan.settle(handle, settlement("cycle-big", "20000000", "20100000"))
    # then the draw refuses it before any transaction, and the lender's own check decodes the same way
    assert at_draw.value.reason == "loan_refused:InsufficientLiquidity"
    assert at_settle.value.reason == "loan_refused:InsufficientLiquidity"
    assert "requested=2000000000, available=1000000000" in str(at_settle.value)


async def test_proceeds_short_of_loan_fee_and_minimum_profit_revert_the_whole_settlement(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given a cycle paying 1000.00 whose proceeds (1005.00) miss loan + fee (0.50) + minimum profit (5.00)
    loan = make_loan()
    handle = await loan.draw("cycle-short", Decimal("1000.00"))
    before = balances(chain, dev_chain)
    # when it settles
    with pytest.raises(LoanRefused) as refused:
        await loan.settle(handle, settlement("cycle-short", "1000.00", "1005.00", "5.00"))
    # then the receiver's check refuses it, naming what was due, and no balance moved at all
    assert refused.value.reason == "loan_refused:ProceedsShort"
    assert "collect=100500, due=100550" in str(refused.value)
    assert balances(chain, dev_chain) == before


async def test_a_loan_over_the_limit_is_refused_before_anything_is_sent(
    chain: Anvil, make_loan: Factory
) -> None:
    # given LOAN_LIMIT_GBP of 100
    loan = make_loan(limit_gbp=Decimal("100"))
    nonce, block = chain.nonce(loan.address), chain.block()
    # when a cycle asks for 100.01 GBP, at draw or at settlement
    with pytest.raises(LoanRefused) as at_draw:
        await loan.draw("cycle-limit", Decimal("100.01"))
    handle = await loan.draw("cycle-limit", Decimal("100"))
    with pytest.raises(LoanRefused) as at_settle:
        await loan.settle(handle, settlement("cycle-limit", "100.01", "200"))
    # then both are refused as over the limit, and the signer sent nothing
    assert at_draw.value.reason == at_settle.value.reason == "loan_refused:over_limit"
    assert "LOAN_LIMIT_GBP 100" in str(at_draw.value)
    assert (chain.nonce(loan.address), chain.block()) == (nonce, block)


async def test_an_amount_that_is_not_whole_pennies_is_refused_not_rounded(make_loan: Factory) -> None:
    # given the adapter
    loan = make_loan()
    # when a cycle asks for a fraction of a penny
    with pytest.raises(LoanRefused) as refused:
        await loan.draw("cycle-frac", Decimal("10.005"))
    # then it is refused (the chain would settle a different amount than the journal records)
    assert refused.value.reason == "loan_refused:invalid_amount"
    assert "not a whole number of pennies" in str(refused.value)


async def test_a_signer_that_does_not_own_the_receiver_is_refused_by_the_receiver(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given an adapter signing with a key that is not the settlement receiver's owner
    loan = make_loan(private_key=STRANGER_KEY)
    handle = await loan.draw("cycle-stranger", Decimal("1000.00"))
    before = balances(chain, dev_chain)
    # when it settles a profitable cycle
    with pytest.raises(LoanRefused) as refused:
        await loan.settle(handle, settlement("cycle-stranger", "1000.00", "1100.00"))
    # then the receiver refuses a loan it did not initiate, naming the initiator; nothing moved
    assert refused.value.reason == "loan_refused:UntrustedInitiator"
    assert address_of(STRANGER_KEY).lower() in str(refused.value).lower()
    assert balances(chain, dev_chain) == before


async def test_the_wrong_chain_is_refused_naming_both_ids(make_loan: Factory) -> None:
    # given an adapter configured for chain 1 pointed at the test node (chain 31337)
    loan = make_loan(chain_id=1)
    # when it is started or used
    with pytest.raises(LoanError) as at_start:
        await loan.check_chain()
    with pytest.raises(LoanError) as at_draw:
        await loan.draw("cycle-chain", Decimal("10"))
    # then it refuses, saying both ids
    for error in (at_start.value, at_draw.value):
        assert f"chain id {CHAIN_ID}" in str(error) and "CHAIN_ID is 1" in str(error)
        assert not isinstance(error, LoanRefused)


async def test_a_node_that_cannot_be_reached_is_named_without_its_credentials() -> None:
    # given an RPC URL carrying a password and a provider key, on a port nobody listens on
    port = free_port()
    url = f"http://desk:hunter2hunter2@127.0.0.1:{port}/v3/9f2c4e1a7b3d4c5e8f9a0b1c2d3e4f5a"
    loan = Web3FlashLoan(
        rpc_url=url,
        chain_id=CHAIN_ID,
        lender=address_of(STRANGER_KEY),
        receiver=address_of(STRANGER_KEY),
        private_key=STRANGER_KEY,
        limit_gbp=Decimal("100"),
    )
    try:
        # when it is pinged or asked for a loan
        for call in (loan.ping(), loan.draw("cycle-down", Decimal("10"))):
            with pytest.raises(LoanError) as unreachable:
                await call
            # then the error names the node (host and port) and hides the password and the key
            message = str(unreachable.value)
            assert f"127.0.0.1:{port}" in message and "unreachable" in message
            assert "hunter2" not in message and "9f2c4e1a7b3d" not in message
            assert not isinstance(unreachable.value, LoanRefused)
    finally:
        await loan.close()


async def test_a_base_fee_above_the_cap_is_refused_before_signing(chain: Anvil, make_loan: Factory) -> None:
    # given CHAIN_MAX_FEE_GWEI far below the node's base fee (set here: anvil's base fee falls
    # block after block, and a snapshot's revert does not restore it)
    chain.rpc("anvil_setNextBlockBaseFeePerGas", hex(10**9))
    chain.rpc("evm_mine")
    loan = make_loan(max_fee_gwei=Decimal("0.000001"))
    handle = await loan.draw("cycle-fee", Decimal("100"))
    nonce = chain.nonce(loan.address)
    # when the cycle settles
    with pytest.raises(LoanRefused) as refused:
        await loan.settle(handle, settlement("cycle-fee", "100", "110"))
    # then it is refused on the fee cap and nothing was sent
    assert refused.value.reason == "loan_refused:fee_cap"
    assert chain.nonce(loan.address) == nonce


async def test_an_estimate_above_the_gas_cap_is_refused_before_signing(
    chain: Anvil, make_loan: Factory
) -> None:
    # given CHAIN_GAS_LIMIT of a plain transfer
    loan = make_loan(gas_limit=21_000)
    handle = await loan.draw("cycle-gas", Decimal("100"))
    nonce = chain.nonce(loan.address)
    # when the cycle settles
    with pytest.raises(LoanRefused) as refused:
        await loan.settle(handle, settlement("cycle-gas", "100", "110"))
    # then it is refused on the gas cap, and nothing was sent
    assert refused.value.reason == "loan_refused:gas_limit"
    assert chain.nonce(loan.address) == nonce


async def test_concurrent_cycles_never_share_a_nonce(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given one adapter (one signer) and three cycles settling at once
    loan = make_loan()
    cycles = [f"cycle-par-{i}" for i in range(3)]
    handles = [await loan.draw(cycle, Decimal("100")) for cycle in cycles]
    before = balances(chain, dev_chain)
    # when they settle concurrently
    receipts = await asyncio.gather(
        *(loan.settle(h, settlement(c, "100", "101")) for h, c in zip(handles, cycles, strict=True))
    )
    # then each is its own mined transaction and the seller was paid three times, once each
    assert len({r.reference for r in receipts}) == 3
    nonces = {int(chain.rpc("eth_getTransactionByHash", r.reference)["nonce"], 16) for r in receipts}
    assert len(nonces) == 3
    assert balances(chain, dev_chain)["seller"] - before["seller"] == 3 * 10_000


async def test_each_call_is_reported_to_the_observer_with_its_outcome(make_loan: Factory) -> None:
    # given an adapter with an observer (the metrics' venue observer in production)
    seen: list[tuple[str, str, str]] = []
    loan = make_loan(
        observer=lambda venue, endpoint, seconds, outcome: seen.append((venue, endpoint, outcome))
    )
    # when a draw succeeds, a settlement is refused and the node is pinged
    handle = await loan.draw("cycle-obs", Decimal("100"))
    with pytest.raises(LoanRefused):
        await loan.settle(handle, settlement("cycle-obs", "100", "100"))
    await loan.ping()
    # then each call was reported once, the refusal as "rejected"
    assert seen == [
        ("web3-loan", "draw", "ok"),
        ("web3-loan", "settle", "rejected"),
        ("web3-loan", "ping", "ok"),
    ]
