"""The chart's monitoring objects carry monitoring/ unchanged and reach the user's Prometheus and Grafana."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.fixtures.chart import CHART_DIR, MONITORING_DIR


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_prometheus_rule_holds_exactly_the_promtool_tested_alerts(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    rule = one(rendered_cases["cluster-wide-monitoring-on"], "PrometheusRule", "fg-flash-green")
    assert rule["spec"] == yaml.safe_load((MONITORING_DIR / "alerts.yaml").read_text())
    assert (CHART_DIR / "files" / "alerts.yaml").resolve() == (MONITORING_DIR / "alerts.yaml").resolve()


def test_dashboard_configmap_is_loaded_by_the_grafana_sidecar(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    config_map = one(rendered_cases["cluster-wide-monitoring-on"], "ConfigMap", "fg-flash-green-dashboard")
    # the sidecar picks up ConfigMaps by this label
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    # and the dashboard inside is monitoring/dashboard.json unchanged
    (content,) = config_map["data"].values()
    assert json.loads(content) == json.loads((MONITORING_DIR / "dashboard.json").read_text())
    assert (CHART_DIR / "files" / "dashboard.json").resolve() == (MONITORING_DIR / "dashboard.json").resolve()


def test_operator_service_monitor_scrapes_the_operator_metrics_port(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered_cases["cluster-wide-monitoring-on"]
    monitor = one(docs, "ServiceMonitor", "fg-flash-green")
    service = one(docs, "Service", "fg-flash-green-metrics")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # the ServiceMonitor selects the metrics Service, whose port leads to the container's metrics port
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert any(port["name"] == "metrics" for port in container["ports"])
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_bot_service_monitor_settings_reach_the_operator(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given monitoring.additionalLabels (the label the user's Prometheus selects ServiceMonitors by)
    (deployment,) = [d for d in rendered_cases["cluster-wide-monitoring-on"] if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # then the operator puts them on every bot ServiceMonitor it creates
    assert json.loads(env["FLASH_GREEN_BOT_SERVICEMONITOR_LABELS"]) == {"release": "kube-prometheus-stack"}
    assert env["FLASH_GREEN_BOT_SERVICEMONITOR_INTERVAL"] == "30s"
