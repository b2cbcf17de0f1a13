"""`flash-green contracts deploy | verify`: the on-chain loan's contracts on a chain (docs/chain.md).

`deploy` puts the committed artifacts (contracts/artifacts) on a development chain, signing with
the key in an environment variable (never on the command line, where `ps` and shell history would
keep it), and prints the settings that point the bot at them. `verify` checks that the addresses
the bot is configured with hold exactly that code. Exit codes: 0 done, 1 a problem found, 2 usage.
"""

from __future__ import annotations

import asyncio
import os

import click

from bot.cli.options import EXIT_NOT_READY, EXIT_USAGE, env_file_option, load_settings

# anvil's and Hardhat's development chain: the only chain where the well-known accounts may stand
# in for the power seller and the futures buyer's escrow
DEV_CHAIN_IDS = frozenset({31337})


@click.group(short_help="deploy or verify the on-chain loan's contracts")
def contracts() -> None:
    """The on-chain loan's contracts: deploy them to a development chain, verify a deployment."""


@contracts.command(short_help="deploy token, lender and receivers to a development chain")
@click.option("--rpc", "rpc_url", required=True, metavar="URL", help="the chain's JSON-RPC endpoint")
@click.option(
    "--key-env",
    default="LENDER_KEY",
    show_default=True,
    metavar="NAME",
    help="environment variable holding the deployer's key; it owns the receiver, so use the bot's",
)
@click.option("--seller", metavar="ADDRESS", help="the power seller's settlement address")
@click.option("--escrow", metavar="ADDRESS", help="the futures buyer's escrow address")
@click.option(
    "--escrow-key-env",
    metavar="NAME",
    help="environment variable holding the escrow's key, to approve the receiver (development only)",
)
@click.option("--fee-bp", default=5, show_default=True, type=click.IntRange(0, 10_000), help="loan fee")
def deploy(
    rpc_url: str,
    key_env: str,
    seller: str | None,
    escrow: str | None,
    escrow_key_env: str | None,
    fee_bp: int,
) -> None:
    """Deploy the contracts and print HARDHAT_RPC, CHAIN_ID, FLASH_LOAN_CONTRACT and FLASH_LOAN_RECEIVER.

    Without --seller and --escrow (a development chain only, chain id 31337), the node's
    well-known accounts stand in for them and the escrow approves the receiver.
    """
    from bot.loans.base import LoanError
    from bot.loans.web3.deploy import deploy_dev_chain
    from bot.loans.web3.devnode import DEV_KEYS
    from bot.loans.web3.signer import Signer
    from bot.redaction import redact_url

    key = _key_from(key_env)
    escrow_key = _key_from(escrow_key_env) if escrow_key_env else None
    try:
        chain_id = asyncio.run(_chain_id(rpc_url))
        if seller is None or escrow is None:
            if chain_id not in DEV_CHAIN_IDS:
                raise click.UsageError(
                    f"chain {chain_id} is not a development chain: give --seller and --escrow"
                )
            seller = seller or Signer(DEV_KEYS[2]).address
            if escrow is None:
                escrow, escrow_key = Signer(DEV_KEYS[3]).address, DEV_KEYS[3]
        chain = asyncio.run(
            deploy_dev_chain(rpc_url, key, fee_bp=fee_bp, seller=seller, escrow=escrow, escrow_key=escrow_key)
        )
    except (LoanError, ValueError) as exc:
        click.echo(f"flash-green contracts deploy: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_NOT_READY) from exc
    click.echo(f"# deployed on chain {chain_id}; the receiver is owned by {chain.owner}")
    click.echo(f"# token {chain.token}, seller {chain.seller}, escrow {chain.escrow}")
    click.echo(f"HARDHAT_RPC={redact_url(rpc_url)}")
    click.echo(f"CHAIN_ID={chain_id}")
    for name, value in chain.environment().items():
        click.echo(f"{name}={value}")
    click.echo(f"# LENDER_KEY: the key in ${key_env} (not printed)")


@contracts.command(short_help="check the configured addresses hold the expected code")
@env_file_option
def verify(env_file: str) -> None:
    """Check FLASH_LOAN_CONTRACT and FLASH_LOAN_RECEIVER on HARDHAT_RPC hold the committed contracts."""
    from bot.loans.web3.artifacts import LENDER, SETTLEMENT_RECEIVER
    from bot.loans.web3.deploy import verify as verify_code

    settings = load_settings(env_file)
    lender, receiver = settings.flash_loan_contract, settings.flash_loan_receiver
    if settings.hardhat_rpc is None or lender is None or receiver is None:
        click.echo(
            "flash-green contracts verify: set HARDHAT_RPC, FLASH_LOAN_CONTRACT and FLASH_LOAN_RECEIVER",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_USAGE)
    addresses = {LENDER: lender.get_secret_value(), SETTLEMENT_RECEIVER: receiver.get_secret_value()}
    problems = asyncio.run(verify_code(settings.hardhat_rpc, addresses))
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    if problems:
        raise click.exceptions.Exit(EXIT_NOT_READY)
    for name, address in addresses.items():
        click.echo(f"{name} at {address}: matches contracts/artifacts/{name}.json")


def _key_from(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise click.UsageError(f"the environment variable {name} holds no key (export it first)")
    return value


async def _chain_id(rpc_url: str) -> int:
    from bot.loans.web3.node import close_node, open_node, reach

    w3 = open_node(rpc_url)
    try:
        return int(await reach(rpc_url, w3.eth.chain_id, "reading the chain id"))
    finally:
        await close_node(w3)
