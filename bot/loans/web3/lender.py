"""The on-chain flash loan (USE_WEB3_LOAN): an ERC-3156 lender settled in one transaction.

`draw` sends nothing: it checks what the chain would refuse anyway (a non-positive amount, more
than LOAN_LIMIT_GBP, more than the lender's `maxFlashLoan`) and reads the lender's `flashFee`,
so a cycle that cannot be financed stops before its legs trade. `settle` is the one transaction:
the signer calls `flashLoan` on the lender with the settlement receiver; inside it the receiver
pays the power seller, collects the futures proceeds from the buyer's escrow and approves the
repayment, which the lender pulls back, or the whole transaction reverts and nothing moved.
`repay` therefore has nothing left to do (see its docstring).

The signer's key is held by `Signer` and never printed: `repr` shows the address only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError

from bot.loans.base import LoanError, LoanHandle, LoanReceipt, LoanRefused, Settlement
from bot.loans.web3.abi import function
from bot.loans.web3.artifacts import LENDER, load_artifact
from bot.loans.web3.errors import decode_revert
from bot.loans.web3.node import close_node, open_node, reach
from bot.loans.web3.sender import SenderLimits, TransactionSender
from bot.loans.web3.signer import Signer
from bot.loans.web3.units import gwei_to_wei, to_gbp, to_pennies
from bot.venues.base import VenueObserver

log = logging.getLogger("bot.loans.web3")

FLASH_LOAN_EVENT = keccak(text="FlashLoan(address,address,uint256,uint256,bytes32)")


def cycle_ref(cycle_id: str) -> bytes:
    """The 32-byte reference of a cycle on chain (in the lender's `FlashLoan` and the receiver's
    `Settled` events): keccak-256 of the cycle id."""
    return keccak(text=cycle_id)


class Web3FlashLoan:
    """`FlashLoan` over an ERC-3156 lender and a `SettlementReceiver` on a JSON-RPC chain."""

    name = "web3-loan"

    def __init__(
        self,
        *,
        rpc_url: str,
        chain_id: int,
        lender: str,
        receiver: str,
        private_key: str,
        limit_gbp: Decimal,
        max_fee_gwei: Decimal = Decimal("100"),
        gas_limit: int = 600_000,
        receipt_timeout_secs: Decimal = Decimal("30"),
        replacements: int = 2,
        observer: VenueObserver | None = None,
    ) -> None:
        """An adapter for the lender at `lender` lending to `receiver`, signing with `private_key`
        on the chain `chain_id` reached at `rpc_url`. Nothing is sent until the first call.

        `observer` receives ("web3-loan", "draw" | "settle" | "ping", seconds, outcome) per call,
        outcome "ok", "rejected" (refused: nothing moved), "unreachable" or "timeout" (unknown)."""
        if limit_gbp <= 0:
            raise ValueError("limit_gbp must be positive")
        self._rpc_url = rpc_url
        self._expected_chain_id = chain_id
        self._lender_address = to_checksum_address(lender)
        self._receiver_address = to_checksum_address(receiver)
        self._signer = Signer(private_key)
        self.limit_gbp = limit_gbp
        self._w3: AsyncWeb3 = open_node(rpc_url)
        lender_artifact = load_artifact(LENDER)
        self._calls = {
            name: function(lender_artifact, name)
            for name in ("token", "maxFlashLoan", "flashFee", "flashLoan")
        }
        self._sender = TransactionSender(
            self._w3,
            rpc_url,
            self._signer,
            chain_id,
            SenderLimits(
                max_fee_wei=gwei_to_wei(max_fee_gwei),
                gas_limit=gas_limit,
                receipt_timeout_secs=float(receipt_timeout_secs),
                replacements=replacements,
            ),
        )
        self._observer = observer
        self._token: str | None = None
        self._checked = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"Web3FlashLoan(signer={self._signer.address}, lender={self._lender_address}, "
            f"chain={self._expected_chain_id})"
        )

    __str__ = __repr__

    @property
    def address(self) -> str:
        """The signer's address (safe to show)."""
        return self._signer.address

    # -- start-up -------------------------------------------------------------------------------

    async def check_chain(self) -> None:
        """Refuse any chain but CHAIN_ID, and learn the lender's token; runs once, before first use."""
        async with self._checked:
            if self._token is not None:
                return
            actual = await reach(self._rpc_url, self._w3.eth.chain_id, "reading the chain id")
            if actual != self._expected_chain_id:
                raise LoanError(
                    f"wrong chain: the node reports chain id {actual}, "
                    f"CHAIN_ID is {self._expected_chain_id}; "
                    "point HARDHAT_RPC at the right network or correct CHAIN_ID"
                )
            (token,) = await self._view("token", "reading the lender's token")
            self._token = to_checksum_address(token)

    start = check_chain

    async def ping(self) -> None:
        """Raise `LoanError` when the node cannot be reached."""
        async with self._observed("ping"):
            await reach(self._rpc_url, self._w3.eth.chain_id, "pinging")

    async def close(self) -> None:
        await close_node(self._w3)

    # -- the loan -------------------------------------------------------------------------------

    async def draw(self, cycle_id: str, amount: Decimal) -> LoanHandle:
        """Check that `amount` GBP can be borrowed and read its fee; sends no transaction."""
        pennies = self._loan_pennies(amount)
        async with self._observed("draw"):
            await self.check_chain()
            (available,), (fee,) = await asyncio.gather(
                self._view("maxFlashLoan", "reading the lender's liquidity", self._token),
                self._view("flashFee", "reading the loan fee", self._token, pennies),
            )
        if pennies > available:
            raise LoanRefused(
                "loan_refused:InsufficientLiquidity",
                f"the lender holds {to_gbp(available)} GBP, the cycle needs {amount} GBP",
            )
        return LoanHandle(cycle_id=cycle_id, amount=amount, fee=to_gbp(int(fee)), reference="pending")

    async def settle(self, handle: LoanHandle, settlement: Settlement) -> LoanReceipt:
        """Borrow `settlement.pay_gbp`, pay the seller, collect the proceeds and repay: one transaction."""
        pay = self._loan_pennies(settlement.pay_gbp)
        try:
            collect, min_profit = to_pennies(settlement.collect_gbp), to_pennies(settlement.min_profit_gbp)
        except ValueError as exc:
            raise LoanRefused("loan_refused:invalid_amount", f"cycle {settlement.cycle_id}: {exc}") from None
        ref = cycle_ref(settlement.cycle_id)
        data = encode(["bytes32", "uint256", "uint256", "uint256"], [ref, pay, collect, min_profit])
        async with self._observed("settle"):
            await self.check_chain()
            calldata = self._calls["flashLoan"].call_data(self._receiver_address, self._token, pay, data)
            receipt = await self._sender.transact(
                self._lender_address,
                calldata,
                what=f"settlement of cycle {settlement.cycle_id}",
            )
        fee = self._fee_paid(receipt, ref)
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        log.info(
            "cycle %s settled on chain: tx %s block %s fee %s GBP",
            settlement.cycle_id,
            tx_hash,
            receipt["blockNumber"],
            fee,
        )
        return LoanReceipt(
            reference=tx_hash,
            amount_gbp=to_gbp(pay),
            fee_gbp=fee,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
        )

    async def repay(self, handle: LoanHandle) -> None:
        """Nothing to do, by construction: the lender pulls amount + fee back inside the same
        transaction as the loan, so after `settle` returns nothing is outstanding, and after a
        refused or reverted settlement nothing was ever lent. The saga still calls it, as it does
        for every lender."""
        return None

    # -- helpers --------------------------------------------------------------------------------

    @asynccontextmanager
    async def _observed(self, endpoint: str) -> AsyncIterator[None]:
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except LoanRefused:
            outcome = "rejected"
            raise
        except LoanError as exc:
            text = str(exc)
            outcome = (
                "unreachable"
                if "unreachable" in text
                else "timeout"
                if "outcome unknown" in text
                else "other"
            )
            raise
        finally:
            if self._observer is not None:
                self._observer(self.name, endpoint, time.perf_counter() - started, outcome)

    def _loan_pennies(self, amount: Decimal) -> int:
        if type(amount) is not Decimal or not amount.is_finite() or not amount > 0:
            raise LoanRefused(
                "loan_refused:invalid_amount", f"the loan amount must be a positive Decimal, got {amount!r}"
            )
        if amount > self.limit_gbp:
            raise LoanRefused(
                "loan_refused:over_limit", f"loan of {amount} GBP exceeds LOAN_LIMIT_GBP {self.limit_gbp} GBP"
            )
        try:
            return to_pennies(amount)
        except ValueError as exc:
            raise LoanRefused("loan_refused:invalid_amount", str(exc)) from None

    async def _view(self, name: str, what: str, *args: Any) -> tuple[Any, ...]:
        call = self._calls[name]
        request: Any = {"to": self._lender_address, "data": "0x" + call.call_data(*args).hex()}
        try:
            raw = await reach(self._rpc_url, self._w3.eth.call(request), what)
        except ContractLogicError as exc:
            raise decode_revert(exc.data, context=f"{LENDER}.{name}") from None
        return call.result(bytes(raw))

    def _fee_paid(self, receipt: dict[str, Any], ref: bytes) -> Decimal:
        """The fee the lender took, from its `FlashLoan` event in this receipt."""
        for entry in receipt["logs"]:
            topics = [bytes(topic) for topic in entry["topics"]]
            if (
                str(entry["address"]).lower() == self._lender_address.lower()
                and topics
                and topics[0] == FLASH_LOAN_EVENT
                and topics[3] == ref
            ):
                _amount, fee = decode(["uint256", "uint256"], bytes(entry["data"]))
                return to_gbp(int(fee))
        raise LoanError(
            f"tx {bytes(receipt['transactionHash']).hex()} mined without the lender's FlashLoan event"
        )
