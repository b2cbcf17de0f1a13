"""On-chain loan round trip: draw + settle + repay of one cycle on a local anvil node.

The path measured is production's `Web3FlashLoan`: `draw` (the lender's liquidity and fee, two
`eth_call`s in parallel), `settle` (gas estimate and fee history in parallel, sign, send, poll
for the receipt, read the fee from the lender's event: the loan, both settlements and the
repayment in one transaction) and `repay` (nothing left to do). anvil mines each transaction as
it arrives.

Floor: a plain token transfer (escrow -> seller, one penny) sent through the same transaction
sender (estimate, fees, sign, send, receipt) on the same node, measured interleaved with the
loans in the same run. The ratio says what the loan costs beyond "one transaction to this node".

Budget: loan p99 under 2x the transfer p99. Run alone: `python -m bench.bench_loan`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal

from bench.figures import figure, median, percentile

RUNS = 300
WARMUP = 20


async def _measure(url: str, runs: int, warmup: int) -> tuple[list[float], list[float]]:
    from eth_abi import encode

    from bot.loans.base import Settlement
    from bot.loans.web3 import Web3FlashLoan
    from bot.loans.web3.deploy import deploy_dev_chain
    from bot.loans.web3.devnode import DEV_CHAIN_ID, DEV_KEYS
    from bot.loans.web3.node import close_node, open_node
    from bot.loans.web3.sender import SenderLimits, TransactionSender
    from bot.loans.web3.signer import Signer

    owner_key, seller_key, escrow_key = DEV_KEYS[:3]
    seller, escrow = Signer(seller_key).address, Signer(escrow_key).address
    dev = await deploy_dev_chain(url, owner_key, seller=seller, escrow=escrow, escrow_key=escrow_key)
    loan = Web3FlashLoan(
        rpc_url=url,
        chain_id=DEV_CHAIN_ID,
        lender=dev.lender,
        receiver=dev.settlement_receiver,
        private_key=owner_key,
        limit_gbp=Decimal("100000"),
    )
    w3 = open_node(url)
    transfers = TransactionSender(
        w3,
        url,
        Signer(escrow_key),
        DEV_CHAIN_ID,
        SenderLimits(max_fee_wei=100 * 10**9, gas_limit=600_000, receipt_timeout_secs=30),
    )
    transfer = bytes.fromhex("a9059cbb") + encode(["address", "uint256"], [seller, 1])
    loans_ms: list[float] = []
    floor_ms: list[float] = []
    try:
        for i in range(runs + warmup):
            cycle = f"bench-{i}"
            t0 = time.perf_counter_ns()
            handle = await loan.draw(cycle, Decimal("1000.00"))
            await loan.settle(
                handle, Settlement(cycle, Decimal("1000.00"), Decimal("1001.00"), Decimal("0.10"))
            )
            await loan.repay(handle)
            t1 = time.perf_counter_ns()
            await transfers.transact(dev.token, transfer, what="transfer")
            t2 = time.perf_counter_ns()
            if i >= warmup:
                loans_ms.append((t1 - t0) / 1e6)
                floor_ms.append((t2 - t1) / 1e6)
    finally:
        await loan.close()
        await close_node(w3)
    return loans_ms, floor_ms


def bench_loan(runs: int = RUNS, warmup: int = WARMUP) -> dict[str, float]:
    """Measure on a fresh anvil; the figures by name (`loan_tx_p99_ms`, ...)."""
    from bot.loans.web3.devnode import start_anvil

    node = start_anvil()
    try:
        loans, floor = asyncio.run(_measure(node.url, runs, warmup))
    finally:
        node.stop()
    p50, p99, f50, f99 = median(loans), percentile(loans, 99), median(floor), percentile(floor, 99)
    print(
        f"loan round trip (draw + settle + repay, one transaction): p50 {p50:.3f} ms, p99 {p99:.3f} ms "
        f"over {len(loans)} loans; plain token transfer p50 {f50:.3f} ms, p99 {f99:.3f} ms "
        f"(ratio p50 {p50 / f50:.2f}, p99 {p99 / f99:.2f}); budget p99 < 2x the transfer"
    )
    return {
        "loan_tx_p50_ms": p50,
        "loan_tx_p99_ms": p99,
        "loan_tx_floor_p50_ms": f50,
        "loan_tx_floor_p99_ms": f99,
        "loan_tx_ratio": p99 / f99,
    }


def run() -> list[dict[str, object]]:
    from bot.loans.web3.devnode import find_anvil

    if find_anvil() is None:
        from bot.loans.web3.devnode import INSTALL_HINT

        print(f"loan round trip: anvil is not installed ({INSTALL_HINT}); figure left out", file=sys.stderr)
        return []
    got = bench_loan()
    return [
        figure("loan_tx_p50_ms", got["loan_tx_p50_ms"], "ms", got["loan_tx_floor_p50_ms"]),
        figure("loan_tx_p99_ms", got["loan_tx_p99_ms"], "ms", got["loan_tx_floor_p99_ms"]),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
