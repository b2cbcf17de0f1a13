"""The dashboard and the alerts query only series the bot really exports, under their real names."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from bot.metrics import BotMetrics
from tests.fixtures.chart import MONITORING_DIR

# Series that come from Prometheus itself, not from the bot.
PROMETHEUS_SERIES = {"up"}
PROMQL_WORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "topk",
    "bottomk",
    "quantile",
    "rate",
    "irate",
    "increase",
    "delta",
    "time",
    "absent",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "histogram_quantile",
    "label_values",
    "le",
    "inf",
    "nan",
}


def exported_series() -> set[str]:
    """Every sample name the orchestrator's registry exposes (counters with _total, histogram parts)."""
    registry = CollectorRegistry()
    BotMetrics(registry)
    return {sample.name for family in registry.collect() for sample in family.samples} | {
        family.name for family in registry.collect()
    }


def metric_names(promql: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers, groupings and strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", promql)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\$\w+", "", text)  # dashboard variables
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text))
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def alert_expressions() -> list[str]:
    groups = yaml.safe_load((MONITORING_DIR / "alerts.yaml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return dict(json.loads((MONITORING_DIR / "dashboard.json").read_text()))


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def test_alerts_query_only_series_the_bot_exports() -> None:
    used = set().union(*(metric_names(expr) for expr in alert_expressions()))
    assert used - PROMETHEUS_SERIES <= exported_series(), used - PROMETHEUS_SERIES - exported_series()


def test_dashboard_queries_only_series_the_bot_exports() -> None:
    used = set().union(*(metric_names(expr) for expr in dashboard_expressions()))
    assert used - PROMETHEUS_SERIES <= exported_series(), used - PROMETHEUS_SERIES - exported_series()


def test_dashboard_shows_the_series_the_original_dashboard_showed() -> None:
    # the original dashboard's series, under their new names (docs/monitoring.md has the mapping)
    used = set().union(*(metric_names(expr) for expr in dashboard_expressions()))
    assert {
        "profit_positive_total",
        "profit_negative_total",
        "daily_loss",
        "last_spread",
        "trades_blocked_total",
    } <= used


def test_dashboard_is_importable_by_grafana() -> None:
    board = dashboard()
    # a stable uid (links survive re-imports), unique panel ids, every query on the chosen data source
    assert board["uid"] == "flash-green-bots"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    variables = {v["name"] for v in board["templating"]["list"]}
    assert variables == {"datasource", "namespace", "bot"}


def test_metric_name_extraction_ignores_labels_and_functions() -> None:
    expr = (
        'sum by (job, reason) (increase(trades_blocked_total{reason!~"a|b", job=~"$bot"}[5m])) > 5'
        " and up == 1"
    )
    assert metric_names(expr) == {"trades_blocked_total", "up"}
