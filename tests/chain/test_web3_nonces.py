"""Nonces and stuck transactions on a real anvil node: a settlement is never duplicated.

anvil's `evm_setAutomine false` holds transactions in its pool, as a congested chain would;
`anvil_dropAllTransactions` drops them, as a node restart or an evicting pool would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest
from eth_utils import keccak

from bot.loans.base import LoanError, Settlement
from bot.loans.web3 import Web3FlashLoan, cycle_ref
from bot.loans.web3.deploy import DevChain
from tests.chain.conftest import Anvil

Factory = Callable[..., Web3FlashLoan]
SETTLED_TOPIC = "0x" + keccak(text="Settled(bytes32,uint256,uint256,uint256)").hex()


def settlement(cycle_id: str) -> Settlement:
    return Settlement(
        cycle_id=cycle_id, pay_gbp=Decimal("100.00"), collect_gbp=Decimal("101.00"), min_profit_gbp=Decimal(0)
    )


def settled_count(chain: Anvil, dev: DevChain, cycle_id: str) -> int:
    """How many times the receiver's `Settled` event for this cycle is on chain."""
    logs = chain.rpc(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": dev.settlement_receiver,
            "topics": [SETTLED_TOPIC, "0x" + cycle_ref(cycle_id).hex()],
        },
    )
    return len(logs)


def pooled(chain: Anvil, address: str) -> dict[str, dict[str, str]]:
    """The signer's transactions waiting in the node's pool, by nonce."""
    content = chain.rpc("txpool_content")["pending"]
    return next((txs for sender, txs in content.items() if sender.lower() == address.lower()), {})


async def test_a_settlement_stuck_in_the_pool_is_replaced_at_the_same_nonce_and_mined_once(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given a chain that stops mining, and an adapter that waits 1 s before replacing
    loan = make_loan(receipt_timeout_secs=Decimal("1"), replacements=1)
    handle = await loan.draw("cycle-stuck", Decimal("100.00"))
    nonce = chain.nonce(loan.address)
    chain.rpc("evm_setAutomine", False)
    # when the cycle settles and its transaction waits in the pool past the timeout
    settling = asyncio.create_task(loan.settle(handle, settlement("cycle-stuck")))
    first: dict[str, str] | None = None
    while True:
        waiting = pooled(chain, loan.address)
        if waiting:
            tx = next(iter(waiting.values()))
            first = first or tx
            if tx["hash"] != first["hash"]:
                break
        await asyncio.sleep(0.02)
    # then the replacement took the same nonce at a higher fee ...
    assert list(waiting) == [str(nonce)]
    assert int(tx["maxFeePerGas"], 16) > int(first["maxFeePerGas"], 16)
    assert int(tx["maxPriorityFeePerGas"], 16) > int(first["maxPriorityFeePerGas"], 16)
    chain.rpc("evm_mine")
    receipt = await settling
    # ... it is the one mined, the first never is, and the cycle settled exactly once
    assert receipt.reference == tx["hash"] != first["hash"]
    assert chain.receipt(first["hash"]) is None
    assert settled_count(chain, dev_chain, "cycle-stuck") == 1
    assert chain.nonce(loan.address) == nonce + 1


async def test_after_a_dropped_transaction_the_next_settlement_fills_the_nonce_gap(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given a cycle whose settlement sat in the pool until the adapter gave up (outcome unknown) ...
    loan = make_loan(receipt_timeout_secs=Decimal("0.2"), replacements=0)
    nonce = chain.nonce(loan.address)
    chain.rpc("evm_setAutomine", False)
    with pytest.raises(LoanError) as unknown:
        await loan.settle(await loan.draw("cycle-dropped", Decimal("100.00")), settlement("cycle-dropped"))
    assert "outcome unknown" in str(unknown.value)
    # ... and was then dropped by the node
    chain.rpc("anvil_dropAllTransactions")
    chain.rpc("evm_setAutomine", True)
    # when the next cycle settles
    receipt = await loan.settle(await loan.draw("cycle-next", Decimal("100.00")), settlement("cycle-next"))
    # then it took the dropped transaction's nonce (no gap left behind it) and was mined,
    # and the dropped cycle never settled
    mined = chain.rpc("eth_getTransactionByHash", receipt.reference)
    assert int(mined["nonce"], 16) == nonce
    assert settled_count(chain, dev_chain, "cycle-next") == 1
    assert settled_count(chain, dev_chain, "cycle-dropped") == 0


async def test_a_nonce_used_elsewhere_is_reread_from_the_chain(
    chain: Anvil, dev_chain: DevChain, make_loan: Factory
) -> None:
    # given an adapter that has settled once (it counts nonces locally) ...
    loan = make_loan()
    await loan.settle(await loan.draw("cycle-a", Decimal("100.00")), settlement("cycle-a"))
    # ... and the same key then used by someone else, moving the chain's nonce ahead
    ahead = chain.nonce(loan.address) + 5
    chain.rpc("anvil_setNonce", loan.address, hex(ahead))
    # when the next cycle settles
    receipt = await loan.settle(await loan.draw("cycle-b", Decimal("100.00")), settlement("cycle-b"))
    # then the node's refusal of the stale nonce made the adapter re-read it, and the settlement went through
    mined = chain.rpc("eth_getTransactionByHash", receipt.reference)
    assert int(mined["nonce"], 16) == ahead
    assert settled_count(chain, dev_chain, "cycle-b") == 1
