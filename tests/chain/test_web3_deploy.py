"""Deployment, bytecode verification and the preflight probe against the test node."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.loans.web3.deploy import DevChain, verify
from bot.loans.web3.devnode import free_port
from bot.loans.web3.probe import chain_problems
from tests.chain.conftest import CHAIN_ID, OWNER_KEY, STRANGER_KEY, Anvil, address_of


def settings_for(chain: Anvil, dev: DevChain, tmp_path: Path, **env: str) -> Settings:
    values = {
        "DATA_DIR": str(tmp_path),
        "HARDHAT_RPC": chain.url,
        "CHAIN_ID": str(CHAIN_ID),
        "FLASH_LOAN_CONTRACT": dev.lender,
        "FLASH_LOAN_RECEIVER": dev.settlement_receiver,
        "LENDER_KEY": OWNER_KEY,
    }
    values.update(env)
    return Settings.from_mapping(values)


async def test_the_deployed_contracts_verify_against_the_committed_artifacts(
    chain: Anvil, dev_chain: DevChain
) -> None:
    # given the session's deployment
    # when its addresses are verified
    problems = await verify(chain.url, dev_chain.contracts())
    # then every contract holds the artifact's code (immutables such as the lender's token masked)
    assert problems == []


async def test_verification_names_a_missing_contract_and_a_different_one(
    chain: Anvil, dev_chain: DevChain
) -> None:
    # given a lender address holding no code, and a receiver address holding the test receiver
    wrong = {"FlashLender": address_of(STRANGER_KEY), "SettlementReceiver": dev_chain.test_receiver}
    # when they are verified
    problems = await verify(chain.url, wrong)
    # then each is named with what is wrong
    assert len(problems) == 2
    assert "FlashLender" in problems[0] and "no contract code" in problems[0]
    assert "SettlementReceiver" in problems[1] and "differs" in problems[1]


async def test_preflight_passes_on_a_ready_chain(chain: Anvil, dev_chain: DevChain, tmp_path: Path) -> None:
    # given settings pointing at the deployment, signing with the receiver's owner
    settings = settings_for(chain, dev_chain, tmp_path)
    # when the chain is probed
    # then nothing stands in the way of the first settlement
    assert await chain_problems(settings) == []


async def test_preflight_names_each_problem_without_the_key(
    chain: Anvil, dev_chain: DevChain, tmp_path: Path
) -> None:
    # given a key that does not own the receiver, a wrong chain id, and an unreachable node
    stranger = settings_for(chain, dev_chain, tmp_path, LENDER_KEY=STRANGER_KEY)
    wrong_chain = settings_for(chain, dev_chain, tmp_path, CHAIN_ID="1")
    down = settings_for(chain, dev_chain, tmp_path, HARDHAT_RPC=f"http://127.0.0.1:{free_port()}")
    # when each is probed
    owner, chain_id, unreachable = [await chain_problems(s) for s in (stranger, wrong_chain, down)]
    # then each says what is wrong, and never shows the key
    assert len(owner) == 1 and "owned by" in owner[0] and address_of(STRANGER_KEY) in owner[0]
    assert chain_id == [f"the node at HARDHAT_RPC reports chain id {CHAIN_ID}, CHAIN_ID is 1"]
    assert len(unreachable) == 1 and "unreachable" in unreachable[0]
    for problem in owner + chain_id + unreachable:
        assert STRANGER_KEY.removeprefix("0x") not in problem and OWNER_KEY.removeprefix("0x") not in problem
