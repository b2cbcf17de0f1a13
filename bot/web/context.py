"""What the API's routes share: built once at start-up (the composition root), closed at shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from bot.config import Settings, secret_env_names
from bot.journal import Journal, JournalError
from bot.journal.records import AuditRecord
from bot.logs import log_secrets
from bot.redaction import SecretMask
from bot.web.audit import redact
from bot.web.auth import Authenticator
from bot.web.errors import ApiError
from bot.web.oidc import JwksCache, OidcVerifier
from bot.web.ratelimit import RateLimits
from bot.web.readiness import SharedResult, VenueProbes, adapter_probes
from bot.web.suite_runner import SuiteRunner
from bot.web.supervisor import OrchestratorSupervisor
from bot.web.telemetry import ApiMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ApiOptions:
    """Knobs of the API that are not bot settings (tests and the benchmark turn them)."""

    control_plane_limit: str | None = None  # default: CONTROL_PLANE_RATE_LIMIT
    auth_failure_limit: str | None = None  # default: AUTH_FAILURE_RATE_LIMIT
    orchestrator_command: Sequence[str] | None = None  # default: python -m bot.orchestrator
    stop_grace_s: float | None = None  # default: ORDER_TIMEOUT_SECS + 5
    early_exit_s: float = 0.5
    echo_orchestrator_output: bool = True
    suite_root: Path = REPO_ROOT
    suite_path: str = "tests"
    suite_timeout_s: float = 300.0
    suite_output_cap: int = 128 * 1024
    jwks_min_refresh_s: float = 10.0
    jwks_failure_backoff_s: float = 10.0  # after a failed fetch, no new attempt for this long
    jwks_ttl_s: float = 300.0
    venue_probes: Callable[[Settings], VenueProbes] = adapter_probes
    readiness_ttl_s: float = 5.0


@dataclass
class ApiContext:
    settings: Settings
    options: ApiOptions
    journal: Journal
    auth: Authenticator
    limits: RateLimits
    metrics: ApiMetrics
    supervisor: OrchestratorSupervisor
    suite: SuiteRunner
    http: httpx.AsyncClient
    venues: SharedResult
    inline_reads: bool = False
    secret_mask: SecretMask = field(default_factory=lambda: SecretMask(()), repr=False)

    async def read(self, fn: Callable[[], T]) -> T:
        """A journal read; an unreachable journal is a 503.

        SQLite reads run inline: a local file answers in tens of microseconds of CPU, less than the
        hop to a worker thread costs, and nothing is awaited on a network. Other databases are
        read from a worker thread so a slow round trip never stalls the event loop.
        """
        try:
            if self.inline_reads:
                return fn()
            return await run_in_threadpool(fn)
        except JournalError:
            raise ApiError(503, "the journal is unavailable; see /readyz") from None

    def redact(self, parameters: Mapping[str, str]) -> dict[str, str]:
        """Parameters safe for the audit log."""
        return redact(parameters, self.secret_mask)

    def record_audit(self, record: AuditRecord) -> None:
        """Persist one audit record (blocking: call it from a worker thread)."""
        try:
            self.journal.record_audit(record)
        except Exception:
            self.metrics.audit_write_failures.inc()
            raise

    async def close(self) -> None:
        await self.supervisor.close()
        await self.suite.close()
        await self.venues.close()
        await self.http.aclose()
        self.journal.close()


def build_context(settings: Settings, options: ApiOptions, metrics: ApiMetrics) -> ApiContext:
    """Open the journal and build every collaborator from the settings."""
    journal = Journal.open(settings.journal_url, bot=settings.bot_name, migrate=True)  # this bot's rows only
    http = httpx.AsyncClient(timeout=httpx.Timeout(3.0), follow_redirects=False)
    oidc = _oidc(settings, options, http)
    return ApiContext(
        settings=settings,
        options=options,
        journal=journal,
        auth=Authenticator(settings, oidc),
        limits=RateLimits(
            control_plane=options.control_plane_limit or settings.control_plane_rate_limit,
            auth_failures=options.auth_failure_limit or settings.auth_failure_rate_limit,
        ),
        metrics=metrics,
        supervisor=OrchestratorSupervisor(
            settings,
            command=options.orchestrator_command,
            grace_s=options.stop_grace_s,
            early_exit_s=options.early_exit_s,
            echo=options.echo_orchestrator_output,
        ),
        suite=SuiteRunner(
            options.suite_root,
            test_path=options.suite_path,
            timeout_s=options.suite_timeout_s,
            output_cap=options.suite_output_cap,
            secrets=settings.secret_values(),
        ),
        http=http,
        venues=SharedResult(options.venue_probes(settings), ttl_s=options.readiness_ttl_s),
        inline_reads=make_url(settings.journal_url).get_backend_name() == "sqlite",
        secret_mask=SecretMask(log_secrets(settings), names=secret_env_names()),
    )


def _oidc(settings: Settings, options: ApiOptions, http: httpx.AsyncClient) -> OidcVerifier | None:
    """The verifier when OIDC is fully configured; a partial configuration is refused loudly."""
    parts = {
        "OIDC_ISSUER": settings.oidc_issuer,
        "OIDC_AUDIENCE": settings.oidc_audience,
        "OIDC_JWKS_URL": settings.oidc_jwks_url,
    }
    missing = [name for name, value in parts.items() if not value]
    if len(missing) == len(parts):
        return None
    if missing:
        log.error(
            "OIDC is disabled: %s must be set as well (tokens are accepted only when all three are)",
            ", ".join(missing),
        )
        return None
    assert settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience
    keys = JwksCache(
        settings.oidc_jwks_url,
        http,
        ttl_s=options.jwks_ttl_s,
        min_refresh_s=options.jwks_min_refresh_s,
        failure_backoff_s=options.jwks_failure_backoff_s,
    )
    return OidcVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        algorithms=settings.oidc_allowed_algorithms,
        keys=keys,
    )
