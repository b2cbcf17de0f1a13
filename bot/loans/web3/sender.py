"""Sending one transaction from the bot's signer and learning its outcome.

The steps, each with the safety it buys:

1. Estimate the gas and read the fees together. A revert in the estimate is the contract saying
   no before anything is signed: it becomes a `LoanRefused` with the decoded reason. An estimate
   above CHAIN_GAS_LIMIT or a base fee above CHAIN_MAX_FEE_GWEI is refused the same way.
2. Sign with the next nonce (see `nonces.py`) and send. A node that rejects the nonce makes the
   tracker re-read the chain and the transaction is signed once more; any other rejection is a
   refusal (nothing was accepted, so nothing can move).
3. Wait for the receipt up to CHAIN_RECEIPT_TIMEOUT_SECS. A transaction not mined in time is
   replaced at the SAME nonce with higher fees, so at most one of them can ever execute: the
   settlement is never duplicated. If none is mined after the replacements, the outcome is
   unknown: `LoanError` names every hash sent, and the nonce is re-read before the next send.
4. A receipt with status 0 (the state changed between estimate and inclusion) is replayed with
   `eth_call` at its block to decode the reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from eth_typing import HexStr
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from bot.loans.base import LoanError, LoanRefused
from bot.loans.web3.errors import decode_revert
from bot.loans.web3.fees import FeeCapExceeded, Fees, bump, offer
from bot.loans.web3.node import reach
from bot.loans.web3.nonces import NonceTracker
from bot.loans.web3.signer import Signer

log = logging.getLogger("bot.loans.web3")

GAS_HEADROOM_NUMERATOR, GAS_HEADROOM_DENOMINATOR = 5, 4  # send 25% above the estimate, within the cap
FIRST_POLL_SECS, MAX_POLL_SECS = 0.002, 0.25
NONCE_WORDS = ("nonce too low", "nonce too high", "invalid nonce", "nonce is too low")


@dataclass(frozen=True, slots=True)
class SenderLimits:
    """The caps one transaction obeys (CHAIN_MAX_FEE_GWEI, CHAIN_GAS_LIMIT, CHAIN_RECEIPT_TIMEOUT_SECS)."""

    max_fee_wei: int
    gas_limit: int
    receipt_timeout_secs: float
    replacements: int = 2


class TransactionSender:
    """Sends the signer's transactions one nonce at a time and waits for each outcome."""

    def __init__(
        self, w3: AsyncWeb3, rpc_url: str, signer: Signer, chain_id: int, limits: SenderLimits
    ) -> None:
        self._w3 = w3
        self._rpc_url = rpc_url
        self._signer = signer
        self._chain_id = chain_id
        self.limits = limits
        self.nonces = NonceTracker(self._pending_count)

    @property
    def address(self) -> str:
        return self._signer.address

    def __repr__(self) -> str:
        return f"TransactionSender({self._signer.address}, chain {self._chain_id})"

    async def _pending_count(self) -> int:
        return await reach(
            self._rpc_url,
            self._w3.eth.get_transaction_count(self._signer.address, "pending"),
            "reading the nonce",
        )

    async def transact(
        self, to: str | None, data: bytes, *, what: str, gas_limit: int | None = None
    ) -> dict[str, Any]:
        """Send `data` to `to` (None: create a contract) and return the mined, successful receipt.

        Raises `LoanRefused` when the contract or the node said no (nothing moved) and `LoanError`
        when the node is unreachable or the outcome is unknown."""
        cap = gas_limit or self.limits.gas_limit
        call: dict[str, Any] = {"from": self._signer.address, "data": "0x" + data.hex(), "value": 0}
        if to is not None:
            call["to"] = to
        estimate, fees = await asyncio.gather(self._estimate(call, what), self._fees(what))
        if estimate > cap:
            raise LoanRefused(
                "loan_refused:gas_limit", f"{what} needs {estimate} gas, above the cap of {cap}"
            )
        gas = min(estimate * GAS_HEADROOM_NUMERATOR // GAS_HEADROOM_DENOMINATOR, cap)
        body = {**call, "type": 2, "chainId": self._chain_id, "gas": gas}
        body.pop("from")
        nonce, tx_hash = await self._send_first(body, fees, what)
        receipt = await self._outcome(body, nonce, fees, tx_hash, what)
        if receipt["status"] != 1:
            raise await self._explain_failure(call, receipt, what)
        return receipt

    async def _estimate(self, call: dict[str, Any], what: str) -> int:
        try:
            estimate = self._w3.eth.estimate_gas(call)  # type: ignore[arg-type]
            return int(
                await reach(self._rpc_url, estimate, f"estimating {what}", passthrough=(Web3RPCError,))
            )
        except ContractLogicError as exc:
            raise decode_revert(exc.data, context=what) from None
        except Web3RPCError as exc:
            raise LoanRefused(
                "loan_refused:estimate", f"{what}: the node refused the gas estimate: {_rpc_message(exc)}"
            ) from None

    async def _fees(self, what: str) -> Fees:
        history = await reach(
            self._rpc_url, self._w3.eth.fee_history(1, "latest", [50.0]), f"reading fees for {what}"
        )
        next_base = int(history["baseFeePerGas"][-1])
        rewards = history.get("reward") or []
        median_tip = int(rewards[-1][0]) if rewards and rewards[-1] else 0
        try:
            return offer(next_base, median_tip, self.limits.max_fee_wei)
        except FeeCapExceeded as exc:
            raise LoanRefused("loan_refused:fee_cap", f"{what}: {exc} (CHAIN_MAX_FEE_GWEI)") from None

    async def _send_first(self, body: dict[str, Any], fees: Fees, what: str) -> tuple[int, str]:
        for attempt in range(2):
            try:
                async with self.nonces.reserve() as nonce:
                    tx_hash = await self._send(body, nonce, fees, what)
                return nonce, tx_hash
            except Web3RPCError as exc:
                message = _rpc_message(exc)
                if attempt == 0 and any(word in message.lower() for word in NONCE_WORDS):
                    log.warning("%s: node rejected nonce (%s); re-reading it from the chain", what, message)
                    await self.nonces.resync()
                    continue
                raise LoanRefused(
                    "loan_refused:rejected", f"{what}: the node rejected the transaction: {message}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, body: dict[str, Any], nonce: int, fees: Fees, what: str) -> str:
        raw, tx_hash = self._signer.sign({**body, "nonce": nonce, **fees.fields()})
        try:
            sending = self._w3.eth.send_raw_transaction(raw)
            await reach(self._rpc_url, sending, f"sending {what}", passthrough=(Web3RPCError,))
        except LoanError as exc:  # the node may have taken it before the connection broke
            self.nonces.invalidate()
            raise LoanError(f"{exc}; transaction {tx_hash} at nonce {nonce} may have been accepted") from None
        log.info(
            "%s sent: tx %s nonce %d max fee %d wei tip %d wei", what, tx_hash, nonce, fees.max_fee, fees.tip
        )
        return tx_hash

    async def _outcome(
        self, body: dict[str, Any], nonce: int, fees: Fees, first: str, what: str
    ) -> dict[str, Any]:
        hashes = [first]
        for round_ in range(self.limits.replacements + 1):
            try:
                receipt = await self._wait_any(hashes, what)
            except LoanError as exc:  # the node went away with our transaction in its hands
                self.nonces.invalidate()
                raise LoanError(
                    f"{what}: outcome unknown: {exc}; transaction(s) {', '.join(hashes)} at nonce {nonce} "
                    "may still be mined. Look them up on chain before settling this cycle again"
                ) from None
            if receipt is not None:
                return receipt
            if round_ == self.limits.replacements:
                break
            bumped = bump(fees, self.limits.max_fee_wei)
            if bumped is None:
                log.warning(
                    "%s: tx %s not mined and the fee cap allows no replacement; still waiting",
                    what,
                    hashes[-1],
                )
                continue
            try:
                hashes.append(await self._send(body, nonce, bumped, f"{what} (replacement)"))
                fees = bumped
            except Web3RPCError as exc:  # e.g. the original was mined meanwhile: the next wait finds it
                log.warning("%s: replacement at nonce %d not accepted: %s", what, nonce, _rpc_message(exc))
        self.nonces.invalidate()
        raise LoanError(
            f"{what}: outcome unknown: transaction(s) {', '.join(hashes)} at nonce {nonce} not mined within "
            f"{len(hashes)} x CHAIN_RECEIPT_TIMEOUT_SECS; none was resent at a new nonce. Look them up on "
            "chain before settling this cycle again"
        )

    async def _wait_any(self, hashes: list[str], what: str) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.receipt_timeout_secs
        delay = FIRST_POLL_SECS
        while True:
            for tx_hash in hashes:
                try:
                    receipt = await reach(
                        self._rpc_url,
                        self._w3.eth.get_transaction_receipt(HexStr(tx_hash)),
                        f"waiting for {what}",
                    )
                except TransactionNotFound:
                    continue
                return dict(receipt)
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
            delay = min(delay * 2, MAX_POLL_SECS)

    async def _explain_failure(self, call: dict[str, Any], receipt: dict[str, Any], what: str) -> LoanError:
        """Why a mined transaction reverted: replay it at its block and decode the revert."""
        tx_hash = _hex(receipt["transactionHash"])
        try:
            await self._w3.eth.call(call, block_identifier=receipt["blockNumber"])  # type: ignore[arg-type]
        except ContractLogicError as exc:
            refusal = decode_revert(exc.data, context=what)
            return LoanRefused(refusal.reason, f"{refusal} (tx {tx_hash}, block {receipt['blockNumber']})")
        except Exception as exc:
            log.warning("%s: could not replay reverted tx %s: %s", what, tx_hash, type(exc).__name__)
        return LoanRefused(
            "loan_refused:revert", f"{what} reverted on chain (tx {tx_hash}); the replay found no reason"
        )


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message or exc)


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)
