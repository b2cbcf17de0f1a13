"""Conditions and phase, per the Kubernetes API conventions."""

from __future__ import annotations

import datetime

from arbitrage_operator.spec import build_config
from arbitrage_operator.status import (
    REASONS,
    Condition,
    bot_status,
    config_valid_condition,
    merge_conditions,
    name_conflict_condition,
    phase,
    ready_condition,
    refreshed_ready,
    refreshed_trading,
    trading_condition,
)

WEDNESDAY_NOON = datetime.datetime(2025, 6, 4, 12, 0, tzinfo=datetime.UTC)
WEDNESDAY_NIGHT = datetime.datetime(2025, 6, 4, 23, 0, tzinfo=datetime.UTC)
SATURDAY_NOON = datetime.datetime(2025, 6, 7, 12, 0, tzinfo=datetime.UTC)
AVAILABLE = {
    "status": {
        "availableReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True", "message": "Deployment has minimum availability."}
        ],
    }
}
UNAVAILABLE = {"status": {"conditions": [{"type": "Available", "status": "False", "message": "no pod yet"}]}}


def test_last_transition_time_stays_when_only_the_message_changes() -> None:
    # given a True condition stamped earlier
    old = [{"type": "Ready", "status": "True", "reason": "A", "message": "x", "lastTransitionTime": "T0"}]
    # when it is written again with the same status but other words
    merged = merge_conditions(old, [Condition("Ready", "True", "B", "y")], generation=2, now="T1")
    # then its transition time is kept
    assert merged == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "B",
            "message": "y",
            "lastTransitionTime": "T0",
            "observedGeneration": 2,
        }
    ]


def test_last_transition_time_moves_when_the_status_changes() -> None:
    old = [{"type": "Ready", "status": "True", "reason": "A", "message": "x", "lastTransitionTime": "T0"}]
    merged = merge_conditions(old, [Condition("Ready", "False", "B", "y")], generation=2, now="T1")
    assert merged[0]["lastTransitionTime"] == "T1"


def test_conditions_come_in_a_stable_order() -> None:
    merged = merge_conditions(
        [],
        [
            Condition("Trading", "False", "Paused", ""),
            Condition("ConfigValid", "True", "Valid", ""),
            Condition("Ready", "False", "NotDeployed", ""),
        ],
        generation=1,
        now="T",
    )
    assert [c["type"] for c in merged] == ["ConfigValid", "Ready", "Trading"]


def test_trading_inside_the_window_on_a_weekday() -> None:
    cond = trading_condition(
        {"tradingWindow": {"utc": "05:00-21:00"}}, config_valid=True, ready=True, now=WEDNESDAY_NOON
    )
    assert (cond.status, cond.reason) == ("True", "InsideWindow")


def test_not_trading_outside_the_window() -> None:
    cond = trading_condition(
        {"tradingWindow": {"utc": "05:00-21:00"}}, config_valid=True, ready=True, now=WEDNESDAY_NIGHT
    )
    assert (cond.status, cond.reason) == ("False", "OutsideWindow")


def test_an_overnight_window_is_open_at_night() -> None:
    cond = trading_condition(
        {"tradingWindow": {"utc": "22:00-06:00"}}, config_valid=True, ready=True, now=WEDNESDAY_NIGHT
    )
    assert cond.status == "True"


def test_not_trading_on_a_weekend_unless_allowed() -> None:
    spec = {"tradingWindow": {"utc": "00:00-24:00"}}
    assert trading_condition(spec, config_valid=True, ready=True, now=SATURDAY_NOON).reason == "Weekend"
    spec["tradingWindow"]["allowWeekends"] = True
    assert trading_condition(spec, config_valid=True, ready=True, now=SATURDAY_NOON).status == "True"


def test_a_paused_bot_is_not_trading_even_inside_the_window() -> None:
    cond = trading_condition({"paused": True}, config_valid=True, ready=True, now=WEDNESDAY_NOON)
    assert (cond.status, cond.reason) == ("False", "Paused")


def test_a_bot_that_is_not_ready_is_not_trading() -> None:
    cond = trading_condition({}, config_valid=True, ready=False, now=WEDNESDAY_NOON)
    assert (cond.status, cond.reason) == ("False", "NotReady")


def test_ready_follows_the_deployments_availability() -> None:
    assert ready_condition(AVAILABLE).reason == "DeploymentAvailable"
    unavailable = ready_condition(UNAVAILABLE)
    assert (unavailable.status, unavailable.reason) == ("False", "DeploymentUnavailable")
    assert "no pod yet" in unavailable.message
    assert ready_condition(None, config_valid=False).reason == "NotDeployed"


def test_config_valid_says_why_not() -> None:
    assert config_valid_condition(build_config("b", {})).reason == "Valid"
    spec_problem = config_valid_condition(build_config("b", {"tradingWindow": {"utc": "09:00-09:00"}}))
    assert (spec_problem.status, spec_problem.reason) == ("False", "InvalidSpec")
    assert spec_problem.message.startswith(
        "invalid configuration (1 problem(s)):\n  - spec.tradingWindow.utc"
    )
    missing = config_valid_condition(build_config("b", {"apiKeySecretRef": {"name": "k"}}, {"k": None}))
    assert missing.reason == "SecretNotFound"
    keyless = config_valid_condition(
        build_config("b", {"apiKeySecretRef": {"name": "k"}}, {"k": frozenset()})
    )
    assert keyless.reason == "SecretKeyMissing"


def test_the_phase_summarises_the_conditions() -> None:
    def conditions(valid: str, ready: str, trading: str) -> list[dict[str, str]]:
        return [
            {"type": "ConfigValid", "status": valid},
            {"type": "Ready", "status": ready},
            {"type": "Trading", "status": trading},
        ]

    assert phase([], {}) == "Pending"
    assert phase(conditions("False", "True", "Unknown"), {}) == "Invalid"
    assert phase(conditions("True", "False", "False"), {}) == "Starting"
    assert phase(conditions("True", "True", "False"), {"paused": True}) == "Paused"
    assert phase(conditions("True", "True", "True"), {}) == "Trading"
    assert phase(conditions("True", "True", "False"), {}) == "Idle"


def test_the_clock_rewrites_trading_only_when_the_window_turns() -> None:
    # given a ready bot written at noon (inside its window)
    spec = {"tradingWindow": {"utc": "05:00-21:00"}}
    status = bot_status(
        spec,
        generation=1,
        existing=None,
        valid=Condition("ConfigValid", "True", "Valid", "ok"),
        deployment=AVAILABLE,
        now=WEDNESDAY_NOON,
    )
    # then a minute later nothing changes, and at night Trading turns False
    assert refreshed_trading(spec, status, now=WEDNESDAY_NOON + datetime.timedelta(minutes=1)) is None
    night = refreshed_trading(spec, status, now=WEDNESDAY_NIGHT)
    assert night is not None
    assert night["phase"] == "Idle"
    trading = next(c for c in night["conditions"] if c["type"] == "Trading")
    assert (trading["status"], trading["reason"]) == ("False", "OutsideWindow")


def test_a_deployment_change_rewrites_ready_only_when_it_changed() -> None:
    spec = {"tradingWindow": {"utc": "00:00-24:00", "allowWeekends": True}}
    status = bot_status(
        spec,
        generation=1,
        existing=None,
        valid=Condition("ConfigValid", "True", "Valid", "ok"),
        deployment=UNAVAILABLE,
        now=WEDNESDAY_NOON,
    )
    assert refreshed_ready(spec, status, UNAVAILABLE, now=WEDNESDAY_NOON) is None
    ready = refreshed_ready(spec, status, AVAILABLE, now=WEDNESDAY_NOON)
    assert ready is not None
    assert ready["phase"] == "Trading"


def test_every_reason_the_code_can_give_is_documented() -> None:
    # given the conditions produced across the situations above; then each reason is in REASONS
    produced = {
        ("ConfigValid", config_valid_condition(build_config("b", {})).reason),
        ("Ready", ready_condition(AVAILABLE).reason),
        ("Ready", ready_condition(UNAVAILABLE).reason),
        ("Ready", ready_condition(None).reason),
        ("Trading", trading_condition({}, config_valid=False, ready=True, now=WEDNESDAY_NOON).reason),
        ("Trading", trading_condition({}, config_valid=True, ready=True, now=SATURDAY_NOON).reason),
        ("Trading", trading_condition({}, config_valid=True, ready=True, now=WEDNESDAY_NIGHT).reason),
    }
    assert all(reason in REASONS[kind] for kind, reason in produced)


def test_a_name_conflict_is_cleared_only_by_a_reconciliation_never_by_a_deployment_event() -> None:
    # given a bot whose children are blocked by another team's object
    valid = config_valid_condition(build_config("b", {}))
    blocked = name_conflict_condition(["Deployment 'b' already exists and is not owned by this bot"])
    status = bot_status(
        {}, generation=1, existing=None, valid=valid, deployment=None, now=WEDNESDAY_NOON, ready=blocked
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NameConflict")
    assert "Deployment 'b'" in ready["message"]
    # when a Deployment of that name reports availability; then Ready is not rewritten from it
    assert refreshed_ready({}, status, AVAILABLE, now=WEDNESDAY_NOON) is None
