"""The one signer's transaction nonces, shared by every cycle of the process.

Two cycles must never sign with the same nonce (one would be rejected or, worse, replace the
other), and a nonce must never be skipped (every later transaction would wait behind the gap
forever). The tracker hands out nonces under an `asyncio.Lock`, counts locally while transactions
are accepted, and re-reads the chain's count when the local count can no longer be trusted: at
first use, after the node rejected a nonce, and after a transaction whose outcome is unknown
(it may have been dropped from the pool, leaving a gap the next transaction must fill).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class NonceTracker:
    """Nonces for one address; `reserve()` yields the next, consumed only when the block succeeds."""

    def __init__(self, read_chain_count: Callable[[], Awaitable[int]]) -> None:
        """`read_chain_count` returns the address's transaction count including pending ones."""
        self._read = read_chain_count
        self._next: int | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Re-read the chain's count before the next nonce (a transaction's fate is unknown)."""
        self._next = None

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[int]:
        """Hold the next nonce while signing and sending; it is consumed only when the body
        returns (the node accepted the transaction). An exception leaves it for the next sender."""
        async with self._lock:
            if self._next is None:
                self._next = await self._read()
            nonce = self._next
            yield nonce
            self._next = nonce + 1

    async def resync(self) -> int:
        """Re-read the chain's count now (after the node said a nonce was wrong)."""
        self._next = await self._read()
        return self._next
