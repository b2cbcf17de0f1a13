"""A real Prometheus scrapes a running simulated bot and evaluates the alert rules on its series."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from arbitrage_operator.manifests import build_servicemonitor
from tests.fixtures.chart import MONITORING_DIR, PrometheusServer, RunningBot, run_prometheus, wait_until

JOB = "flash-green-bot"


@pytest.mark.slow
def test_prometheus_scrapes_a_running_simulated_bot(
    prometheus_binary: Path, simulated_bot: RunningBot, tmp_path: Path
) -> None:
    # given a simulated bot trading all day and a Prometheus scraping its exporter every second,
    # loaded with the project's alert rules
    shutil.copy(MONITORING_DIR / "alerts.yaml", tmp_path / "alerts.yaml")
    scrape = [{"job_name": JOB, "static_configs": [{"targets": [simulated_bot.metrics_address]}]}]
    with run_prometheus(prometheus_binary, tmp_path, scrape, rule_files=["alerts.yaml"]) as prometheus:
        # when Prometheus has scraped it
        wait_until(lambda: _up(prometheus, JOB), 20, f"up{{job={JOB!r}}} == 1")
        # then the bot's cycles are counted by outcome
        cycles = wait_until(
            lambda: prometheus.query(f'sum(cycles_total{{job="{JOB}"}}) > 0'), 20, "cycles_total to grow"
        )
        assert float(cycles[0]["value"][1]) > 0
        # and the bot identifies itself, and reports its window open as configured
        (info,) = prometheus.query(f'orchestrator_info{{job="{JOB}"}}')
        assert info["metric"]["bot"]
        (window,) = prometheus.query(f'trading_window_open{{job="{JOB}"}}')
        assert window["value"][1] == "1"
        # and every alert rule evaluates without error on the real series
        rules = wait_until(lambda: _evaluated_rules(prometheus), 20, "the alert rules to be evaluated")
        assert {rule["health"] for rule in rules} == {"ok"}, [r for r in rules if r["health"] != "ok"]


def _up(prometheus: PrometheusServer, job: str) -> bool:
    result = prometheus.query(f'up{{job="{job}"}}')
    return bool(result) and result[0]["value"][1] == "1"


def _evaluated_rules(prometheus: PrometheusServer) -> list[dict[str, object]]:
    rules = prometheus.rules()
    return rules if rules and all(rule.get("lastEvaluation", "").startswith("20") for rule in rules) else []


@pytest.mark.slow
def test_prometheus_scrapes_a_pod_style_bot_through_its_api_with_the_service_monitor_settings(
    prometheus_binary: Path, pod_style_bot: RunningBot, tmp_path: Path
) -> None:
    # given a bot run as in a pod (`flash-green run`: exporter on loopback, API's /metrics behind
    # the API key) and the endpoint of the ServiceMonitor the operator builds for it
    monitor = build_servicemonitor(
        "scrape-test", "trading", {"apiKeySecretRef": {"name": "scrape-test-api-key", "key": "API_KEY"}}
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    secret = {"API_KEY": pod_style_bot.api_key}  # the Secret the ServiceMonitor's credentials name
    with_key = {
        "job_name": "with-key",
        "metrics_path": endpoint["path"],
        "scheme": endpoint["scheme"],
        "authorization": {
            "type": endpoint["authorization"]["type"],
            "credentials": secret[endpoint["authorization"]["credentials"]["key"]],
        },
        "static_configs": [{"targets": [pod_style_bot.metrics_address]}],
    }
    without_key = {
        "job_name": "without-key",
        "metrics_path": endpoint["path"],
        "static_configs": [{"targets": [pod_style_bot.metrics_address]}],
    }
    with run_prometheus(prometheus_binary, tmp_path, [with_key, without_key]) as prometheus:
        # when Prometheus scrapes the API the way the ServiceMonitor tells it to
        wait_until(lambda: _up(prometheus, "with-key"), 20, "the authenticated scrape to succeed")
        # then the orchestrator's series arrive through the API, under the scrape job's labels
        wait_until(
            lambda: prometheus.query('sum(cycles_total{job="with-key"}) > 0'),
            20,
            "cycles_total through the API",
        )
        assert prometheus.query('orchestrator_info{job="with-key"}')
        # and a scrape without the key is refused: the metrics are not public
        wait_until(
            lambda: prometheus.query('up{job="without-key"} == 0'), 20, "the scrape without a key to fail"
        )
        assert not prometheus.query('orchestrator_info{job="without-key"}')
