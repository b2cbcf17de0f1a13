"""`flash-green preflight`: check settings, secret backend, journal, venues and chain before anything starts.

Each enabled venue gets one authenticated, read-only call (its adapter's `ping()`); the report
names the venue, ok or failed, the latency and the error kind, never a message a venue wrote,
a URL or a credential.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.preflight")
PING_TIMEOUT_S = 15.0  # above the REST venues' connect + read timeouts: their own error wins


@dataclass
class Report:
    """What preflight found: lines to print (never a secret) and the problems that fail it."""

    summary: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = ["flash-green preflight", *[f"  {line}" for line in self.summary]]
        if self.problems:
            lines.append(f"FAILED: {len(self.problems)} problem(s)")
            lines += [f"  - {p}" for p in self.problems]
        else:
            lines.append("OK: ready to start")
        return "\n".join(lines)


def run_preflight(env_file: str | Path | None = ".env") -> Report:
    """Validate settings (which reaches the secret backend), adapters, data dir and journal."""
    report = Report()
    if env_file is not None and str(env_file) != ".env" and not Path(env_file).is_file():
        report.problems.append(f"env file {env_file} does not exist")
        return report
    try:
        settings = Settings(_env_file=env_file)
    except ConfigError as exc:
        report.problems += exc.messages
        return report
    _describe(settings, report)
    _check_journal(settings, report)
    _check_venues(settings, report)
    _check_chain(settings, report)
    return report


@dataclass(frozen=True)
class VenueCheck:
    """One venue's preflight call: ok, or the error kind; how long it took."""

    venue: str
    leg: str
    ok: bool
    latency_s: float
    kind: str | None = None  # the VenueError kind when it failed

    def line(self) -> str:
        took = f"{self.latency_s * 1000:.1f} ms"
        status = "ok" if self.ok else f"FAILED ({self.kind})"
        return f"venue {self.leg}:{self.venue}: {status}, {took}"


async def check_venue(venue: Venue, timeout_s: float = PING_TIMEOUT_S) -> VenueCheck:
    """One authenticated read-only call (`ping()`) to `venue`; its outcome, never its message."""
    started = time.perf_counter()
    kind: str | None = None
    try:
        await asyncio.wait_for(venue.ping(), timeout=timeout_s)
    except TimeoutError:
        kind = "timeout"
    except VenueError as exc:
        kind = exc.kind
    except Exception as exc:  # an adapter bug: named by its type only (the text may hold a URL)
        kind = f"error ({type(exc).__name__})"
    return VenueCheck(venue.name, venue.leg, kind is None, time.perf_counter() - started, kind)


async def check_venues(venues: Sequence[Venue]) -> list[VenueCheck]:
    """`check_venue` of each venue, at the same time."""
    return list(await asyncio.gather(*(check_venue(venue) for venue in venues)))


def add_venue_checks(checks: Sequence[VenueCheck], report: Report) -> None:
    """Each check as a line of the report; each failure as a problem naming what to look at."""
    for check in checks:
        report.summary.append(check.line())
        if not check.ok:
            report.problems.append(
                f"venue {check.venue} ({check.leg} leg) failed its authenticated read: {check.kind}; "
                "check its URL, credentials and network path (docs/venues.md)"
            )


def _check_venues(settings: Settings, report: Report) -> None:
    from bot.orchestrator.wiring import AdapterUnavailable, build_adapters

    try:
        adapters = build_adapters(settings)
    except (AdapterUnavailable, ValueError) as exc:
        report.problems.append(f"venues cannot be built: {exc}")
        return

    async def ping_and_close() -> list[VenueCheck]:
        try:
            return await check_venues((adapters.power, adapters.futures))
        finally:
            try:
                await adapters.close()
            except Exception:
                log.warning("closing the venues after preflight failed", exc_info=True)

    add_venue_checks(asyncio.run(ping_and_close()), report)


def _check_chain(settings: Settings, report: Report) -> None:
    """USE_WEB3_LOAN: the node, its chain id, the contracts' code and the signer's gas money."""
    if not settings.use_web3_loan:
        return
    from bot.loans.web3.probe import chain_problems

    problems = asyncio.run(chain_problems(settings))
    if problems:
        report.problems += [f"on-chain loan: {p}" for p in problems]
    else:
        report.summary.append(f"on-chain loan: chain {settings.chain_id} reached, contracts verified")


def _describe(settings: Settings, report: Report) -> None:
    on = settings.live_toggles or ["none (simulated markets and loan)"]
    backend: str = settings.secrets_backend or "none (environment only)"
    if settings.secrets_backend == "vault":
        backend += f" at {settings.vault_addr}, path {settings.vault_secret_path}: reached"
    elif settings.secrets_backend == "aws":
        backend += f" in {settings.aws_secrets_region}, secret {settings.aws_secrets_id}: reached"
    secrets_set = sum(1 for v in settings.public_view().values() if v == "<set>")
    report.summary += [
        f"bot: {settings.bot_name}",
        f"live toggles: {', '.join(on)}",
        f"secrets backend: {backend}",
        f"secret settings present: {secrets_set}",
        f"trading window (UTC): {settings.trading_window}; weekends "
        f"{'allowed' if settings.allow_weekend_trading else 'blocked'}; "
        f"trading {'enabled' if settings.trading_enabled else 'DISABLED'}",
        f"limits: loan {settings.loan_limit_gbp} GBP, notional {settings.max_notional_per_trade} GBP, "
        f"daily loss {settings.max_daily_loss_gbp} GBP",
        f"API port {settings.api_port}, metrics {settings.metrics_host}:{settings.metrics_port}",
        f"API credentials: {'API_KEY' if settings.api_key else 'no API_KEY'}"
        f"{', OIDC' if settings.oidc_jwks_url else ''}",
    ]


def _check_journal(settings: Settings, report: Report) -> None:
    from bot.journal import Journal, JournalError

    report.summary.append(f"journal: {settings.journal_url_redacted}")
    if settings.journal_url.startswith("sqlite"):
        data = settings.data_dir
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            report.problems.append(f"DATA_DIR {data} cannot be created: {exc.strerror}")
            return
        if not os.access(data, os.W_OK):
            report.problems.append(f"DATA_DIR {data} is not writable by this user")
            return
    try:
        journal = Journal.open(settings.journal_url, bot=settings.bot_name, migrate=False)
    except JournalError as exc:
        report.problems.append(f"journal database unreachable: {exc}")
        return
    try:
        journal.ping()
        revision = journal.current_revision()
        report.summary.append(
            f"journal schema: {revision or 'empty'} (migrations are applied when the bot starts)"
        )
    except JournalError as exc:
        report.problems.append(f"journal database unreachable: {exc}")
    finally:
        journal.close()
