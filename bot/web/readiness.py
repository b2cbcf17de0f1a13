"""Readiness: configuration, journal, the trading loop, each enabled venue, and restart recovery.

Results carry names and fixed phrases only: never a price, an address with credentials or an
error body (a failed venue is named with its error kind, e.g. `unauthorized`). Each venue's
health (up, last latency, circuit breaker) is read after its ping. Venue pings are shared for a
few seconds because `/readyz` is open to anyone who reaches the pod, and each call must not turn
into a call to every venue. Restart recovery is read from the orchestrator's exporter (the
`recovery_pending{venue}` gauge, the series `/metrics` already relays): while it waits for a
venue, the bot is not ready and the check names that venue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.loans.base import FlashLoan
from bot.venues.base import Venue, VenueError, VenueHealth, venue_health

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
    health: Callable[[], VenueHealth] | None = None  # venues only: read after the ping


@dataclass(frozen=True, slots=True)
class ProbeRound:
    """One round of pings: a check per probe, and the health of each venue after it."""

    checks: list[Check]
    venues: list[VenueHealth]


Report = Callable[[], Awaitable[Check]]  # a check that says its own result (restart recovery)


class VenueProbes:
    """The enabled venues and loan as the orchestrator would build them, pinged on demand."""

    def __init__(
        self,
        probes: Sequence[Probe],
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
        reports: Sequence[Report] = (),
    ) -> None:
        self._probes = list(probes)
        self._closers = list(closers)
        self._reports = list(reports)
        self._failure: Check | None = None

    @classmethod
    def unavailable(cls, name: str, detail: str) -> VenueProbes:
        probes = cls([])
        probes._failure = Check(name, "fail", detail)
        return probes

    async def run(self, timeout_s: float) -> ProbeRound:
        if self._failure is not None:
            return ProbeRound([self._failure], [])
        pings = (_ping(probe, timeout_s) for probe in self._probes)
        checks = list(await asyncio.gather(*pings, *(report() for report in self._reports)))
        venues = [probe.health() for probe in self._probes if probe.health is not None]
        return ProbeRound(checks, venues)

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
    except VenueError as exc:
        # the kind is a fixed label (`unauthorized`, `venue_unavailable`, ...), never the message
        return Check(probe.name, "fail", f"venue error: {exc.kind}")
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
    reports = [recovery_report(settings.metrics_port)] if settings.metrics_port else []
    return venue_probes((adapters.power, adapters.futures), adapters.loan, reports)


def recovery_report(metrics_port: int, timeout_s: float = 2.0) -> Report:
    """The `recovery` check: fails while the orchestrator's restart recovery waits for a venue.

    Read from its exporter on loopback (as `/metrics` reads it). No exporter answering (no loop
    running) skips the check: the `orchestrator` check says whether the loop is up.
    """

    async def report() -> Check:
        try:
            async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
                answer = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            answer.raise_for_status()
            waiting = sorted(
                sample.labels.get("venue", "")
                for family in text_string_to_metric_families(answer.text)
                if family.name == "recovery_pending"
                for sample in family.samples
                if sample.value >= 1
            )
        except (httpx.HTTPError, ValueError):
            return Check("recovery", "skipped", "the trading loop's metrics are not reachable")
        if waiting:
            return Check("recovery", "fail", f"restart recovery pending: waiting for {', '.join(waiting)}")
        return Check("recovery", "ok", "no restart recovery pending")

    return report


def venue_probes(
    venues: Sequence[Venue], loan: FlashLoan | None = None, reports: Sequence[Report] = ()
) -> VenueProbes:
    """Probes of these venues (named `<leg>:<venue>`, with their health), of the loan, if any, and
    the `reports` (restart recovery)."""
    probes = [Probe(f"{v.leg}:{v.name}", v.ping, functools.partial(venue_health, v)) for v in venues]
    closers = [venue.close for venue in venues]
    if loan is not None:
        probes.append(Probe(f"loan:{loan.name}", loan.ping))
        closers.append(loan.close)
    return VenueProbes(probes, closers, reports)


class SharedResult:
    """The last venue results, reused for `ttl_s`; concurrent callers share one round of pings."""

    def __init__(self, probes: VenueProbes, *, ttl_s: float = 5.0, timeout_s: float = 3.0) -> None:
        self._probes = probes
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._at = 0.0
        self._last: ProbeRound | None = None
        self._lock = asyncio.Lock()

    async def round(self) -> ProbeRound:
        """The last round of pings, run again once it is older than the TTL."""
        async with self._lock:
            if self._last is None or time.monotonic() - self._at > self._ttl_s:
                self._last = await self._probes.run(self._timeout_s)
                self._at = time.monotonic()
            return self._last

    async def get(self) -> list[Check]:
        return list((await self.round()).checks)

    async def close(self) -> None:
        await self._probes.close()
