"""A real anvil node for the on-chain loan tests, with the contracts deployed once per run.

anvil comes from the npm package `@foundry-rs/anvil` pinned in contracts/package-lock.json
(`npm --prefix contracts ci`, which `make test` runs). It listens on a free loopback port for the
whole test run; the contracts are deployed from the committed artifacts once, and every test runs
between `evm_snapshot` and `evm_revert`, so each starts from the same funded deployment.

Without Node or the npm packages the tests that need the node skip and say what to install; the
pure tests in this directory (revert decoding, fees, money) run anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account

from bot.loans.web3 import Web3FlashLoan
from bot.loans.web3.deploy import DevChain, deploy_dev_chain
from bot.loans.web3.devnode import (
    CONTRACTS_DIR,
    DEV_CHAIN_ID,
    DEV_KEYS,
    INSTALL_HINT,
    find_anvil,
    start_anvil,
)

CONTRACTS = CONTRACTS_DIR
CHAIN_ID = DEV_CHAIN_ID
# anvil's well-known development accounts, by role.
OWNER_KEY, SELLER_KEY, ESCROW_KEY, STRANGER_KEY = DEV_KEYS  # signer, power seller, buyer's escrow, nobody


def address_of(key: str) -> str:
    return str(Account.from_key(key).address)


@dataclass
class Anvil:
    """The running node and a plain JSON-RPC client for the test's own questions."""

    url: str

    def rpc(self, method: str, *params: Any) -> Any:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = httpx.post(self.url, json=payload, timeout=10).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def nonce(self, address: str) -> int:
        return int(self.rpc("eth_getTransactionCount", address, "pending"), 16)

    def block(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def balance(self, token: str, holder: str) -> int:
        """`token.balanceOf(holder)` in pennies."""
        data = "0x70a08231" + holder.lower().removeprefix("0x").rjust(64, "0")
        return int(self.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", tx_hash)
        return result


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """anvil on a free loopback port for the whole run (skips, saying what to install, without it)."""
    if find_anvil() is None:
        pytest.skip(f"anvil is not installed: {INSTALL_HINT}")
    node = start_anvil()
    try:
        yield Anvil(node.url)
    finally:
        node.stop()


@pytest.fixture(scope="session")
def dev_chain(anvil: Anvil) -> DevChain:
    """The contracts deployed once from the committed artifacts: lender (5 bp) with 10 million GBP,
    escrow with 10 million GBP approved to the settlement receiver, test receiver with a float."""
    return asyncio.run(
        deploy_dev_chain(
            anvil.url,
            OWNER_KEY,
            fee_bp=5,
            seller=address_of(SELLER_KEY),
            escrow=address_of(ESCROW_KEY),
            escrow_key=ESCROW_KEY,
        )
    )


@pytest.fixture
def chain(anvil: Anvil, dev_chain: DevChain) -> Iterator[Anvil]:
    """The node, rolled back after the test to the state right after deployment."""
    snapshot = anvil.rpc("evm_snapshot")
    yield anvil
    anvil.rpc("evm_setAutomine", True)
    anvil.rpc("anvil_dropAllTransactions")
    anvil.rpc("evm_revert", snapshot)


@pytest.fixture
async def make_loan(chain: Anvil, dev_chain: DevChain) -> AsyncIterator[Callable[..., Web3FlashLoan]]:
    """Factory of adapters on the test chain (settlement receiver, owner's key, 100000 GBP limit
    unless overridden); each is closed after the test."""
    built: list[Web3FlashLoan] = []

    def make(**overrides: Any) -> Web3FlashLoan:
        options: dict[str, Any] = {
            "rpc_url": chain.url,
            "chain_id": CHAIN_ID,
            "lender": dev_chain.lender,
            "receiver": dev_chain.settlement_receiver,
            "private_key": OWNER_KEY,
            "limit_gbp": Decimal("100000"),
            "receipt_timeout_secs": Decimal("10"),
        }
        options.update(overrides)
        loan = Web3FlashLoan(**options)
        built.append(loan)
        return loan

    yield make
    for loan in built:
        await loan.close()
