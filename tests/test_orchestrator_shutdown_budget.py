"""A stop lets the cycle in flight finish: the pod's grace covers the API's drain and the loop's stop."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from arbitrage_operator.manifests import build_deployment
from bot.config import Settings
from bot.domain.shutdown import ShutdownBudget
from bot.web import server_options


@pytest.mark.parametrize("timeout", ["0.5", "5", "12", "30", "120"])
def test_the_pod_grace_covers_the_api_drain_then_an_order_deadline_plus_a_margin(
    tmp_path: Path, timeout: str
) -> None:
    # given a bot whose orders have this deadline
    settings = Settings.from_mapping({"DATA_DIR": str(tmp_path), "ORDER_TIMEOUT_SECS": timeout})
    spec = {"execution": {"orderTimeoutSecs": timeout}}
    # when the API and the operator size their shutdown
    drain = server_options(settings)["timeout_graceful_shutdown"]
    pod = build_deployment("bot", "trading", spec)["spec"]["template"]["spec"]
    grace = pod["terminationGracePeriodSeconds"]
    # then the pod is killed only after the API drained and the loop had a whole order deadline
    budget = ShutdownBudget.for_timeout(timeout)
    assert drain == budget.api_drain_s and grace == budget.pod_grace_s
    assert budget.loop_stop_s > Decimal(timeout)  # the deadline, then the unwind
    assert grace > drain + budget.loop_stop_s  # and a margin


def test_the_default_order_timeout_gives_the_documented_80_seconds() -> None:
    assert ShutdownBudget.for_timeout(Decimal(30)) == ShutdownBudget(
        loop_stop_s=35, api_drain_s=40, pod_grace_s=80
    )
