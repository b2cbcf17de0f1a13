"""The orchestrator trading the simulated markets for a minute with the on-chain loan on anvil.

Every traded cycle is settled in one transaction: the journal's hashes must be the chain's mined
transactions, and what the chain moved must be what the journal says, to the penny: the desk's
receiver gains each trade's net PnL (GAS_COST_GBP is 0 here: gas is paid in ETH by the signer,
outside the settlement token) and the lender each loan fee; the futures buyer's escrow paid for
all of it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import Settings
from bot.domain.pnl import money
from bot.journal import Journal
from bot.loans.web3 import Web3FlashLoan
from bot.loans.web3.deploy import DevChain
from bot.markets.faults import FaultPlan
from bot.markets.model import MarketParams
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator, utc_now
from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue
from tests.chain.conftest import Anvil

pytestmark = pytest.mark.slow

# a minute, as the on-chain loan's acceptance asks; CHAIN_RUN_SECONDS shortens it while developing
RUN_SECONDS = float(os.environ.get("CHAIN_RUN_SECONDS", "60"))
# a steady futures premium over positive power prices at any hour: every cycle borrows and trades
PAYING = MarketParams(
    basis_mean_gbp_mwh=6.0,
    basis_sd_gbp_mwh=0.01,
    dislocation_rate_per_s=0.0,
    negative_start_night=0.0,
    negative_start_midday=0.0,
    negative_start_other=0.0,
    spike_start_evening=0.0,
    spike_start_morning=0.0,
    spike_start_other=0.0,
)
PENNY = Decimal("0.01")


def pennies(gbp: Decimal) -> int:
    return int(money(gbp) / PENNY)


async def test_a_minute_of_cycles_settles_on_chain_exactly_as_journalled(
    tmp_path: Path, chain: Anvil, dev_chain: DevChain, make_loan: Callable[..., Web3FlashLoan]
) -> None:
    # given the simulated markets on the wall clock, all day, and the on-chain lender on anvil
    settings = Settings.from_mapping(
        {
            "DATA_DIR": str(tmp_path),
            "TRADING_WINDOW_UTC": "00:00-24:00",
            "ALLOW_WEEKEND_TRADING": "1",
            "EXEC_LATENCY_MS": "0",
            "ORDER_TIMEOUT_SECS": "1",
            "ORDER_POLL_INTERVAL": "0.01",
            "KELLY_BANK_GBP": "0",
            "GAS_COST_GBP": "0",
        }
    )
    market = SimulatedMarket(
        seed=11,
        clock=utc_now,
        params=PAYING,
        exec_latency_ms=0,
        faults=FaultPlan(seed=11),
        book_levels=settings.book_levels,
        book_size_mwh=settings.book_size_mwh,
        rest_ms=settings.sim_rest_ms,
    )
    loan = make_loan()
    journal = Journal.open(settings.journal_url, migrate=True)
    holders = {
        "receiver": dev_chain.settlement_receiver,
        "lender": dev_chain.lender,
        "seller": dev_chain.seller,
        "escrow": dev_chain.escrow,
    }
    before = {name: chain.balance(dev_chain.token, address) for name, address in holders.items()}
    orchestrator = Orchestrator.from_settings(
        settings,
        power=SimulatedPowerVenue(market),
        futures=SimulatedFuturesVenue(market),
        loan=loan,
        journal=journal,
        metrics=BotMetrics(),
    )
    orchestrator.load_state()
    # when it cycles for a minute
    running = asyncio.create_task(orchestrator.run(interval_s=0.2))
    await asyncio.sleep(RUN_SECONDS)
    orchestrator.stopping.set()
    await asyncio.wait_for(running, timeout=30)
    trades = journal.trades(limit=10_000)
    journal.close()
    # then it traded, and every trade names its mined settlement transaction
    assert len(trades) >= 10, f"only {len(trades)} trades in {RUN_SECONDS} s"
    for trade in trades:
        assert trade.loan_tx is not None and trade.loan_tx.startswith("0x")
        receipt = chain.receipt(trade.loan_tx)
        assert receipt is not None and int(receipt["status"], 16) == 1
        assert int(receipt["blockNumber"], 16) == trade.loan_block
        assert int(receipt["gasUsed"], 16) == trade.loan_gas_used
    assert len({trade.loan_tx for trade in trades}) == len(trades)  # one transaction per trade
    # and the token balances moved by exactly the journal's figures
    after = {name: chain.balance(dev_chain.token, address) for name, address in holders.items()}
    moved = {name: after[name] - before[name] for name in holders}
    assert moved["receiver"] == sum(pennies(t.net_gbp) for t in trades)
    assert moved["lender"] == sum(pennies(t.costs.loan_fee_gbp) for t in trades)
    assert moved["seller"] > 0  # the power seller was paid; the escrow paid for everything
    assert moved["escrow"] == -(moved["receiver"] + moved["lender"] + moved["seller"])
