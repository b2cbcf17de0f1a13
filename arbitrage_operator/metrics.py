"""The operator's own Prometheus series, on a registry of its own (served on OPERATOR_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, start_http_server

RESULTS = ("applied", "invalid", "waiting_for_secrets", "name_conflict", "api_error")


class OperatorMetrics:
    """What a platform team watches: reconciliations by result and refusals."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reconciliations = Counter(
            "flashgreen_operator_reconciliations",
            "ArbitrageBot reconciliations, by result.",
            ["result"],
            registry=self.registry,
        )
        self.admission_refusals = Counter(
            "flashgreen_operator_admission_refusals",
            "ArbitrageBot specs refused by the admission webhook.",
            registry=self.registry,
        )
        for result in RESULTS:
            self.reconciliations.labels(result=result)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a pod port, by design
        """Expose /metrics on `port` (the chart's `metrics` port)."""
        start_http_server(port, addr=host, registry=self.registry)
