"""The JSON-RPC connection to the chain node, and what its failures mean to a cycle.

One `AsyncWeb3` per adapter, with no middleware (the adapter builds, signs and checks its
transactions itself, so web3's per-call validation round trips would only add latency), no
silent retries (a cycle must learn at once that the node is gone) and kept-alive connections:
web3's own session closes the TCP connection after every request, which measured (bench_loan)
as a connect and a thread-pool DNS lookup on every call of a loan's six. Every failure to reach the node
becomes a `LoanError` naming the URL with its credentials masked (a provider key in the path or a
password is never shown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ProviderConnectionError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import RPCEndpoint, RPCResponse

from bot.loans.base import LoanError
from bot.redaction import redact_url

T = TypeVar("T")

UNREACHABLE = (aiohttp.ClientError, OSError, asyncio.TimeoutError, ProviderConnectionError, TimeExhausted)


class KeepAliveHTTPProvider(AsyncHTTPProvider):
    """web3's HTTP provider with a pooled, kept-alive session per event loop (handed to web3
    through its `cache_async_session` before the loop's first request)."""

    _pooled_loop: asyncio.AbstractEventLoop | None = None
    _pooling: asyncio.Task[None] | None = None

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        loop = asyncio.get_running_loop()
        if self._pooled_loop is not loop:  # concurrent first requests all wait for the one session
            self._pooled_loop = loop
            self._pooling = loop.create_task(self._pool())
        assert self._pooling is not None
        await asyncio.shield(self._pooling)
        return await super().make_request(method, params)

    async def _pool(self) -> None:
        session = aiohttp.ClientSession(
            raise_for_status=True, connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=15)
        )
        if await self.cache_async_session(session) is not session:  # one was cached already
            await session.close()


def open_node(rpc_url: str, *, timeout_secs: float = 10.0) -> AsyncWeb3:
    """A web3 client for `rpc_url`; nothing is sent until the first call."""
    provider = KeepAliveHTTPProvider(
        rpc_url,
        request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_secs)},
        exception_retry_configuration=None,
    )
    return AsyncWeb3(provider, middleware=[])


async def close_node(w3: AsyncWeb3) -> None:
    """Close the client's HTTP session."""
    provider = w3.provider
    if isinstance(provider, AsyncHTTPProvider):
        await provider.disconnect()


async def reach(
    rpc_url: str,
    call: Awaitable[T],
    what: str,
    *,
    passthrough: tuple[type[Exception], ...] = (TransactionNotFound,),
) -> T:
    """Await `call`; a node that cannot be reached raises `LoanError` saying which (masked) URL,
    and so does an error answer, unless the caller handles that kind itself (`passthrough`).
    A contract's revert (`ContractLogicError`) always reaches the caller, to be decoded."""
    try:
        return await call
    except passthrough:
        raise
    except UNREACHABLE as exc:
        raise LoanError(
            f"chain node at {redact_url(rpc_url)} unreachable while {what} ({type(exc).__name__}); "
            "check HARDHAT_RPC and that the node is running"
        ) from None
    except Web3RPCError as exc:
        raise LoanError(
            f"chain node at {redact_url(rpc_url)} answered an error while {what}: {exc.message}"
        ) from None
