"""Readiness: configuration, journal, the trading loop, and each enabled venue's reachability.

Results carry names and fixed phrases only: never a price, an address with credentials or an
error body. Venue pings are shared for a few seconds because `/readyz` is open to anyone who
reaches the pod, and each call must not turn into a call to every venue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.config import Settings

log = logging.getLogger(__name__)

Status = Literal["ok", "fail", "skipped"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """One thing to reach: a check name and a coroutine that raises when it cannot be reached."""

    name: str
    ping: Callable[[], Awaitable[None]]


class VenueProbes:
    """The enabled venues and loan as the orchestrator would build them, pinged on demand."""

    def __init__(
        self, probes: Sequence[Probe], closers: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> None:
        self._probes = list(probes)
        self._closers = list(closers)
        self._failure: Check | None = None

    @classmethod
    def unavailable(cls, name: str, detail: str) -> VenueProbes:
        probes = cls([])
        probes._failure = Check(name, "fail", detail)
        return probes

    async def run(self, timeout_s: float) -> list[Check]:
        if self._failure is not None:
            return [self._failure]
        return list(await asyncio.gather(*(_ping(probe, timeout_s) for probe in self._probes)))

    async def close(self) -> None:
        for close in self._closers:
            try:
                await close()
            except Exception:
                log.warning("closing a readiness probe failed", exc_info=True)


async def _ping(probe: Probe, timeout_s: float) -> Check:
    try:
        await asyncio.wait_for(probe.ping(), timeout=timeout_s)
    except TimeoutError:
        return Check(probe.name, "fail", "no answer in time")
    except Exception:
        # The exception text may quote a URL or a body: only its absence is reported.
        return Check(probe.name, "fail", "unreachable")
    return Check(probe.name, "ok", "reachable")


def adapter_probes(settings: Settings) -> VenueProbes:
    """Probes for the adapters the orchestrator's wiring picks for these settings."""
    try:
        from bot.orchestrator.wiring import AdapterUnavailable, build_adapters
    except ImportError:
        return VenueProbes.unavailable("venues", "the trading loop is not installed")
    try:
        adapters = build_adapters(settings)
    except AdapterUnavailable:
        return VenueProbes.unavailable("venues", "a live adapter selected by the settings is not available")
    except Exception:
        log.warning("could not build the venue adapters for readiness checks", exc_info=True)
        return VenueProbes.unavailable("venues", "adapters could not be built")
    parts: list[tuple[str, Any]] = [
        (f"power:{adapters.power.name}", adapters.power),
        (f"futures:{adapters.futures.name}", adapters.futures),
        (f"loan:{adapters.loan.name}", adapters.loan),
    ]
    return VenueProbes(
        [Probe(name, adapter.ping) for name, adapter in parts],
        [adapter.close for _, adapter in parts],
    )


class SharedResult:
    """The last venue results, reused for `ttl_s`; concurrent callers share one round of pings."""

    def __init__(self, probes: VenueProbes, *, ttl_s: float = 5.0, timeout_s: float = 3.0) -> None:
        self._probes = probes
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._at = 0.0
        self._last: list[Check] = []
        self._lock = asyncio.Lock()

    async def get(self) -> list[Check]:
        async with self._lock:
            if not self._last or time.monotonic() - self._at > self._ttl_s:
                self._last = await self._probes.run(self._timeout_s)
                self._at = time.monotonic()
            return list(self._last)

    async def close(self) -> None:
        await self._probes.close()
