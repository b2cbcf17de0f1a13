"""The alert rules are valid, each one is shown firing and staying quiet, and each has a runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.chart import MONITORING_DIR, REPO_ROOT

ALERTS = MONITORING_DIR / "alerts.yaml"
ALERT_TESTS = MONITORING_DIR / "alerts_test.yaml"
# The original runbook's alerts, each of which must exist.
REQUIRED_ALERTS = {
    "FlashGreenTradesBlockedSpike",
    "FlashGreenProfitNegativeGrowth",
    "FlashGreenBotExporterDown",
    "FlashGreenOrchestratorMetricsAbsent",
    "FlashGreenNoTradeWhileMarketOpen",
    "FlashGreenDailyLossNearLimit",
}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_alert_rules_pass_promtool_check(promtool: Path) -> None:
    result = subprocess.run(
        [str(promtool), "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_alert_unit_tests_pass_in_promtool(promtool: Path) -> None:
    # promtool evaluates every rule over the synthetic series of alerts_test.yaml
    result = subprocess.run(
        [str(promtool), "test", "rules", ALERT_TESTS.name],
        cwd=MONITORING_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_runbook_alerts_are_all_defined() -> None:
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in alert_rules()}


def test_every_alert_is_shown_firing_and_staying_quiet() -> None:
    # given the promtool unit tests
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    # then each alert has at least one evaluation where it fires and one where it must not
    for rule in alert_rules():
        name = rule["alert"]
        evaluations = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in evaluations), f"{name} is never shown firing"
        assert any(not case["exp_alerts"] for case in evaluations), f"{name} is never shown quiet"


def test_quiet_cases_include_look_alike_series_that_must_not_fire() -> None:
    # a firing evaluation lists exactly the expected alerts, so look-alike series that sit in the
    # same test (a paused bot, routine guard blocks, a non-bot target) are proven quiet too
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    jobs_per_test = [
        {re.search(r'job="([^"]+)"', s["series"]).group(1) for s in test["input_series"]}  # type: ignore[union-attr]
        for test in tests
    ]
    assert sum(1 for jobs in jobs_per_test if len(jobs) > 1) >= 6


def test_every_alert_has_severity_summary_and_an_existing_runbook_section() -> None:
    runbooks = (REPO_ROOT / "docs" / "runbooks.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", runbooks, flags=re.MULTILINE)
    }
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "docs/runbooks.md"
        assert anchor in anchors, f"{rule['alert']}: docs/runbooks.md has no section #{anchor}"
