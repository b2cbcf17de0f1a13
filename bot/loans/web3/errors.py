"""Turning a contract's revert into the cycle's blocked reason.

A revert carries raw bytes: a 4-byte selector and ABI-encoded arguments. Solidity's own
`Error(string)` and `Panic(uint256)` have fixed selectors; every custom error (the lender's
`InsufficientLiquidity`, the receiver's `ProceedsShort`, OpenZeppelin's
`ERC20InsufficientAllowance`, ...) is looked up by selector in the committed artifacts' ABIs, so a
new error in the sources is decoded as soon as the artifacts are recompiled. The reason is
`loan_refused:<ErrorName>` (a metric label and the journal's blocked reason); the message spells
out the arguments for the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from bot.loans.base import LoanRefused
from bot.loans.web3.abi import canonical_type
from bot.loans.web3.artifacts import all_artifacts

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

# Solidity's panic codes (docs: "Panic via assert and error via require").
PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


@dataclass(frozen=True, slots=True)
class CustomError:
    """One custom error of the artifacts' ABIs."""

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.arg_types)})"


@cache
def custom_errors() -> dict[bytes, CustomError]:
    """Every custom error in the committed artifacts, by 4-byte selector."""
    table: dict[bytes, CustomError] = {}
    for artifact in all_artifacts():
        for item in artifact.abi:
            if item.get("type") != "error":
                continue
            error = CustomError(
                name=item["name"],
                arg_names=tuple(arg.get("name") or f"arg{i}" for i, arg in enumerate(item["inputs"])),
                arg_types=tuple(canonical_type(arg) for arg in item["inputs"]),
            )
            table[keccak(text=error.signature)[:4]] = error
    return table


def _as_bytes(data: object) -> bytes | None:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def decode_revert(data: object, *, context: str) -> LoanRefused:
    """The refusal a revert with `data` (hex string or bytes) means; `context` names what reverted."""
    raw = _as_bytes(data)
    if not raw or len(raw) < 4:
        return LoanRefused("loan_refused:revert", f"{context} reverted without a reason")
    selector, payload = raw[:4], raw[4:]
    try:
        if selector == ERROR_STRING_SELECTOR:
            (text,) = decode(["string"], payload)
            return LoanRefused("loan_refused:revert", f"{context} reverted: {text}")
        if selector == PANIC_SELECTOR:
            (code,) = decode(["uint256"], payload)
            what = PANIC_CODES.get(code, "unknown panic")
            return LoanRefused("loan_refused:panic", f"{context} panicked: 0x{code:02x} ({what})")
        error = custom_errors().get(selector)
        if error is not None:
            values = decode(list(error.arg_types), payload)
            args = ", ".join(f"{n}={_show(v)}" for n, v in zip(error.arg_names, values, strict=True))
            return LoanRefused(f"loan_refused:{error.name}", f"{context} reverted: {error.name}({args})")
    except DecodingError:
        pass
    return LoanRefused("loan_refused:revert", f"{context} reverted with unknown error 0x{raw[:4].hex()}")


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
