"""Deploying the contracts to a development chain, and checking deployed code against the artifacts.

`deploy_dev_chain` is what `flash-green contracts deploy` and the tests run: token, lender and
the three receivers from the committed artifacts, then liquidity for the lender, a float for the
test receiver's fees, and funds for the futures buyer's escrow (approved to the settlement
receiver when the escrow's key is given, as the futures venue's settlement agent would). The
deployer owns the token and the settlement receiver, so deploy with the key the bot will sign with
(LENDER_KEY): the receiver accepts loans initiated by its owner only.

`verify` compares the code at each address with the artifact's runtime code. Immutables (the
lender's token and fee, the receiver's token) are written into the runtime code by the
constructor and differ per deployment, so the byte ranges the compiler reports for them are
masked on both sides first; everything else, the metadata hash of the sources included, must
match byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_abi import encode
from eth_utils import to_checksum_address
from web3 import AsyncWeb3

from bot.loans.base import LoanError
from bot.loans.web3.artifacts import (
    LENDER,
    NON_REPAYING_RECEIVER,
    SETTLEMENT_ASSET,
    SETTLEMENT_RECEIVER,
    TEST_RECEIVER,
    load_artifact,
    mask_immutables,
)
from bot.loans.web3.node import close_node, open_node, reach
from bot.loans.web3.sender import SenderLimits, TransactionSender
from bot.loans.web3.signer import Signer
from bot.loans.web3.units import gwei_to_wei, to_pennies

DEPLOY_GAS_LIMIT = 5_000_000
MAX_UINT256 = 2**256 - 1


@dataclass(frozen=True, slots=True)
class DevChain:
    """The addresses of a deployment (checksummed)."""

    token: str
    lender: str
    test_receiver: str
    settlement_receiver: str
    non_repaying_receiver: str
    owner: str
    seller: str
    escrow: str

    def contracts(self) -> dict[str, str]:
        """Artifact name -> address, as `verify` takes them."""
        return {
            SETTLEMENT_ASSET: self.token,
            LENDER: self.lender,
            TEST_RECEIVER: self.test_receiver,
            SETTLEMENT_RECEIVER: self.settlement_receiver,
            NON_REPAYING_RECEIVER: self.non_repaying_receiver,
        }

    def environment(self) -> dict[str, str]:
        """The settings that point the bot at this deployment (LENDER_KEY is the deployer's key)."""
        return {"FLASH_LOAN_CONTRACT": self.lender, "FLASH_LOAN_RECEIVER": self.settlement_receiver}


class _Deployer:
    def __init__(self, w3: AsyncWeb3, rpc_url: str, key: str, chain_id: int, max_fee_gwei: Decimal) -> None:
        self.w3 = w3
        self.sender = TransactionSender(
            w3,
            rpc_url,
            Signer(key),
            chain_id,
            SenderLimits(
                max_fee_wei=gwei_to_wei(max_fee_gwei), gas_limit=DEPLOY_GAS_LIMIT, receipt_timeout_secs=30
            ),
        )

    async def create(self, name: str, types: list[str], args: list[Any]) -> str:
        artifact = load_artifact(name)
        receipt = await self.sender.transact(
            None, artifact.bytecode + encode(types, args), what=f"deploying {name}"
        )
        return to_checksum_address(receipt["contractAddress"])

    async def call(self, name: str, address: str, function: str, *args: Any) -> None:
        contract = self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)
        data = contract.encode_abi(function, args=list(args))
        await self.sender.transact(address, bytes.fromhex(data.removeprefix("0x")), what=f"{name}.{function}")


async def deploy_dev_chain(
    rpc_url: str,
    deployer_key: str,
    *,
    fee_bp: int = 5,
    seller: str,
    escrow: str,
    escrow_key: str | None = None,
    lender_liquidity_gbp: Decimal = Decimal("10000000"),
    escrow_funds_gbp: Decimal = Decimal("10000000"),
    test_receiver_float_gbp: Decimal = Decimal("100000"),
    max_fee_gwei: Decimal = Decimal("100"),
) -> DevChain:
    """Deploy and fund the contracts on the development chain at `rpc_url`, signing with
    `deployer_key` (it becomes the owner); `LoanRefused`/`LoanError` when a step fails."""
    w3 = open_node(rpc_url)
    try:
        chain_id = await reach(rpc_url, w3.eth.chain_id, "reading the chain id")
        owner = _Deployer(w3, rpc_url, deployer_key, chain_id, max_fee_gwei)
        seller, escrow = to_checksum_address(seller), to_checksum_address(escrow)
        token = await owner.create(SETTLEMENT_ASSET, [], [])
        lender = await owner.create(LENDER, ["address", "uint256"], [token, fee_bp])
        test_receiver = await owner.create(TEST_RECEIVER, [], [])
        non_repaying = await owner.create(NON_REPAYING_RECEIVER, [], [])
        settlement = await owner.create(
            SETTLEMENT_RECEIVER, ["address", "address", "address", "address"], [lender, token, seller, escrow]
        )
        await owner.call(SETTLEMENT_ASSET, token, "mint", lender, to_pennies(lender_liquidity_gbp))
        await owner.call(SETTLEMENT_ASSET, token, "mint", escrow, to_pennies(escrow_funds_gbp))
        await owner.call(SETTLEMENT_ASSET, token, "mint", test_receiver, to_pennies(test_receiver_float_gbp))
        if escrow_key is not None:
            escrow_agent = _Deployer(w3, rpc_url, escrow_key, chain_id, max_fee_gwei)
            if escrow_agent.sender.address != escrow:
                raise ValueError("the escrow key does not control the escrow address")
            await escrow_agent.call(SETTLEMENT_ASSET, token, "approve", settlement, MAX_UINT256)
        return DevChain(
            token=token,
            lender=lender,
            test_receiver=test_receiver,
            settlement_receiver=settlement,
            non_repaying_receiver=non_repaying,
            owner=owner.sender.address,
            seller=seller,
            escrow=escrow,
        )
    finally:
        await close_node(w3)


async def code_problems(w3: AsyncWeb3, rpc_url: str, contracts: Mapping[str, str]) -> list[str]:
    """Problems with the code at each address (artifact name -> address), on an open client."""
    problems: list[str] = []
    for name, address in contracts.items():
        artifact = load_artifact(name)
        code = bytes(
            await reach(rpc_url, w3.eth.get_code(to_checksum_address(address)), f"reading {name}'s code")
        )
        if not code:
            problems.append(
                f"{name} at {address}: no contract code (deploy it: flash-green contracts deploy)"
            )
        elif len(code) != len(artifact.deployed_bytecode) or mask_immutables(
            code, artifact.immutable_ranges
        ) != mask_immutables(artifact.deployed_bytecode, artifact.immutable_ranges):
            problems.append(
                f"{name} at {address}: the code differs from contracts/artifacts/{name}.json "
                f"(compiled by solc {artifact.compiler}); a different contract or version is deployed there"
            )
    return problems


async def verify(rpc_url: str, addresses: Mapping[str, str]) -> list[str]:
    """Problems with the contracts at `addresses` (artifact name -> address): missing code, or
    code that differs from the committed artifact. Empty when all match."""
    w3 = open_node(rpc_url)
    try:
        return await code_problems(w3, rpc_url, addresses)
    except LoanError as exc:
        return [str(exc)]
    finally:
        await close_node(w3)
