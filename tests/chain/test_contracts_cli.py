"""`flash-green contracts deploy | verify` and preflight against a real anvil node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.loans.web3.deploy import DevChain
from tests.chain.conftest import OWNER_KEY, Anvil


def flash_green(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_printed(stdout: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in stdout.splitlines() if "=" in line and not line.startswith("#")
    )


def test_deploy_prints_the_settings_and_verify_and_preflight_accept_them(
    chain: Anvil, tmp_path: Path
) -> None:
    # given a development chain and the bot's key in the environment
    (tmp_path / ".env").write_text("")
    key = {"LENDER_KEY": OWNER_KEY}
    # when the contracts are deployed
    deployed = flash_green("contracts", "deploy", "--rpc", chain.url, env=key, cwd=tmp_path)
    # then the four settings are printed, and the key is not
    assert deployed.returncode == 0, deployed.stderr
    printed = settings_printed(deployed.stdout)
    assert set(printed) == {"HARDHAT_RPC", "CHAIN_ID", "FLASH_LOAN_CONTRACT", "FLASH_LOAN_RECEIVER"}
    assert OWNER_KEY not in deployed.stdout + deployed.stderr
    assert OWNER_KEY.removeprefix("0x") not in deployed.stdout + deployed.stderr
    # and verify finds the committed contracts at those addresses
    env = {**key, **printed}
    verified = flash_green("contracts", "verify", env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "FlashLender" in verified.stdout and "SettlementReceiver" in verified.stdout
    # and preflight, with the on-chain loan on, reaches the chain and is ready
    ready = flash_green(
        "preflight", env={**env, "USE_WEB3_LOAN": "1", "DATA_DIR": str(tmp_path)}, cwd=tmp_path
    )
    assert ready.returncode == 0, ready.stdout
    assert "on-chain loan: chain 31337 reached, contracts verified" in ready.stdout


def test_verify_names_an_address_that_holds_other_code(
    chain: Anvil, dev_chain: DevChain, tmp_path: Path
) -> None:
    # given the lender's setting pointing at the receiver by mistake
    (tmp_path / ".env").write_text("")
    env = {
        "HARDHAT_RPC": chain.url,
        "FLASH_LOAN_CONTRACT": dev_chain.settlement_receiver,
        "FLASH_LOAN_RECEIVER": dev_chain.settlement_receiver,
    }
    # when verify runs
    result = flash_green("contracts", "verify", env=env, cwd=tmp_path)
    # then it fails, naming the address and the contract expected there
    assert result.returncode == 1
    assert f"FlashLender at {dev_chain.settlement_receiver}: the code differs" in result.stderr


def test_deploy_to_a_chain_that_is_not_a_development_chain_needs_the_counterparties(
    tmp_path: Path, chain: Anvil
) -> None:
    # given a node whose chain id is not a development chain's
    chain.rpc("anvil_setChainId", 7777)
    try:
        # when the contracts are deployed without --seller and --escrow
        result = flash_green(
            "contracts", "deploy", "--rpc", chain.url, env={"LENDER_KEY": OWNER_KEY}, cwd=tmp_path
        )
    finally:
        chain.rpc("anvil_setChainId", 31337)
    # then it refuses with the usage error naming what to give
    assert result.returncode == 2
    assert "give --seller and --escrow" in result.stderr
