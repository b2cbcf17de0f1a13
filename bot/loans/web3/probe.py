"""Preflight for the on-chain loan: what would stop the first settlement, found before trading.

Each check reports a sentence saying what to fix, and the probe stops at the first check the
others depend on (no node, no further questions). It sends no transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from eth_utils import is_address, to_checksum_address
from web3 import AsyncWeb3

from bot.loans.base import LoanError
from bot.loans.web3.artifacts import LENDER, SETTLEMENT_RECEIVER, ArtifactMissing, load_artifact
from bot.loans.web3.deploy import code_problems
from bot.loans.web3.node import close_node, open_node, reach
from bot.loans.web3.signer import Signer
from bot.loans.web3.units import gwei_to_wei

if TYPE_CHECKING:
    from bot.config import Settings

WEI_PER_ETH = Decimal(10**18)


async def chain_problems(settings: Settings) -> list[str]:
    """What is wrong with the chain settings and what the node reports; empty when ready."""
    rpc_url, chain_id = settings.hardhat_rpc, settings.chain_id
    lender = settings.flash_loan_contract.get_secret_value() if settings.flash_loan_contract else ""
    receiver = settings.flash_loan_receiver.get_secret_value() if settings.flash_loan_receiver else ""
    problems = [
        f"{name} is not set ({why})"
        for name, value, why in (
            ("HARDHAT_RPC", rpc_url, "the chain's JSON-RPC URL, from infra"),
            ("CHAIN_ID", chain_id, "the chain id the node must report, from infra"),
            (
                "FLASH_LOAN_CONTRACT",
                lender,
                "the FlashLender address: flash-green contracts deploy prints it",
            ),
            ("FLASH_LOAN_RECEIVER", receiver, "the SettlementReceiver address, printed by the same"),
            ("LENDER_KEY", settings.lender_key, "the signer's key, custodied by infra"),
        )
        if not value
    ]
    problems += [
        f"{name} is not an address: {value!r}"
        for name, value in (("FLASH_LOAN_CONTRACT", lender), ("FLASH_LOAN_RECEIVER", receiver))
        if value and not is_address(value)
    ]
    if problems or rpc_url is None or chain_id is None or settings.lender_key is None:
        return problems
    try:
        signer = Signer(settings.lender_key.get_secret_value())
    except ValueError as exc:
        return [str(exc)]
    w3 = open_node(rpc_url, timeout_secs=5.0)
    try:
        return await _node_problems(w3, rpc_url, settings, signer, lender, receiver)
    except (LoanError, ArtifactMissing) as exc:
        return [str(exc)]
    finally:
        await close_node(w3)


async def _node_problems(
    w3: AsyncWeb3, rpc_url: str, settings: Settings, signer: Signer, lender: str, receiver: str
) -> list[str]:
    actual = await reach(rpc_url, w3.eth.chain_id, "reading the chain id")
    if actual != settings.chain_id:
        return [f"the node at HARDHAT_RPC reports chain id {actual}, CHAIN_ID is {settings.chain_id}"]
    problems = await code_problems(w3, rpc_url, {LENDER: lender, SETTLEMENT_RECEIVER: receiver})
    if not problems:
        contract = w3.eth.contract(
            address=to_checksum_address(receiver), abi=load_artifact(SETTLEMENT_RECEIVER).abi
        )
        owner = await reach(rpc_url, contract.functions.owner().call(), "reading the receiver's owner")
        its_lender = await reach(rpc_url, contract.functions.lender().call(), "reading the receiver's lender")
        if str(owner).lower() != signer.address.lower():
            problems.append(
                f"the SettlementReceiver is owned by {owner}, not by LENDER_KEY's address {signer.address}: "
                "it would refuse every loan (deploy it with LENDER_KEY, or transfer its ownership)"
            )
        if str(its_lender).lower() != lender.lower():
            problems.append(
                f"the SettlementReceiver trusts lender {its_lender}, FLASH_LOAN_CONTRACT is {lender}"
            )
    balance = int(await reach(rpc_url, w3.eth.get_balance(signer.address), "reading the signer's balance"))
    needed = settings.chain_gas_limit * gwei_to_wei(settings.chain_max_fee_gwei)
    if balance < needed:
        problems.append(
            f"the signer {signer.address} holds {Decimal(balance) / WEI_PER_ETH} ETH, less than "
            f"{Decimal(needed) / WEI_PER_ETH} ETH for one loan transaction "
            "(CHAIN_GAS_LIMIT x CHAIN_MAX_FEE_GWEI): fund it for gas"
        )
    return problems
