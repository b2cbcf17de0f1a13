"""The local signing key (LENDER_KEY), kept where nothing prints it.

The key lives only inside the eth-account object held in a slot of `Signer`; `repr` and `str`
show the address. An invalid key is refused with a message that says what is wrong with it and
never echoes it.
"""

from __future__ import annotations

import re
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

_KEY_SHAPE = re.compile(r"(0x)?[0-9a-fA-F]{64}")


class Signer:
    """Signs transactions for one address."""

    __slots__ = ("_account",)

    def __init__(self, private_key: str) -> None:
        # Strict: the library pads a short key, silently signing for some other address.
        if not _KEY_SHAPE.fullmatch(private_key.strip()):
            raise ValueError("LENDER_KEY is not a valid private key (64 hex digits, optionally 0x-prefixed)")
        try:
            account: LocalAccount = Account.from_key(private_key.strip())
        except Exception:  # the library's message may quote the value it rejected
            raise ValueError(
                "LENDER_KEY is not a valid private key (64 hex digits, optionally 0x-prefixed)"
            ) from None
        self._account = account

    @property
    def address(self) -> ChecksumAddress:
        """The checksummed address the key controls."""
        return self._account.address

    def sign(self, transaction: dict[str, Any]) -> tuple[bytes, str]:
        """The raw signed transaction and its hash (0x-hex)."""
        signed = self._account.sign_transaction(transaction)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    __str__ = __repr__
