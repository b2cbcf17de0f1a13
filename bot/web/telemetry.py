"""The API's own Prometheus series, on a registry of its own (the orchestrator keeps `bot.metrics`).

`/metrics` serves the orchestrator's exposition (fetched from its exporter on loopback) followed
by these, so one scrape target holds both. Every name starts with `api_` so the two never clash.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ApiMetrics:
    """Requests, authentication failures, rate-limited calls, audit write failures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "api_requests",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "api_request_duration_seconds",
            "Time to the response start, by route template.",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.auth_failures = Counter(
            "api_auth_failures", "Failed authentications, by reason.", ["reason"], registry=r
        )
        self.forbidden = Counter(
            "api_forbidden", "Authenticated calls refused for want of a role.", ["scope"], registry=r
        )
        self.rate_limited = Counter(
            "api_rate_limited", "Calls refused with 429, by limit.", ["limit"], registry=r
        )
        self.audit_write_failures = Counter(
            "api_audit_write_failures", "Audit records that could not be persisted.", registry=r
        )
        self.orchestrator_metrics_up = Gauge(
            "api_orchestrator_metrics_up",
            "1 when the orchestrator's exporter answered the last /metrics call.",
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Counts every HTTP request by its route template (bounded label values), method and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # Labelled children looked up once: on the hot path a dict hit, not prometheus' locked lookup.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_count(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self._timer(_route(scope)).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            method = scope["method"]
            self._counter(method if method in _METHODS else "OTHER", _route(scope), status).inc()

    def _counter(self, method: str, route: str, status: int) -> Any:
        key = (method, route, status)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = self.metrics.requests.labels(method, route, str(status))
        return child

    def _timer(self, route: str) -> Any:
        child = self._timers.get(route)
        if child is None:
            child = self._timers[route] = self.metrics.latency.labels(route)
        return child


# Label values stay bounded whatever a client sends.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"
