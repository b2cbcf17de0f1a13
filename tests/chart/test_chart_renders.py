"""The chart lints and renders for every supported combination, into objects the API server accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.chart import (
    CHART_CASES,
    PROMETHEUS_OPERATOR_API,
    THIRD_PARTY_GROUPS,
    Helm,
    schema_problems,
)


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return [doc["kind"] for doc in docs]


@pytest.mark.parametrize("case", list(CHART_CASES))
def test_chart_passes_helm_lint_strict(helm: Helm, helm_tmp: Path, case: str) -> None:
    # given one combination of values and cluster APIs
    values = CHART_CASES[case].values
    # when helm lints the chart with it (--strict turns warnings into failures)
    report = helm.lint(helm_tmp, values)
    # then it passes
    assert "0 chart(s) failed" in report


@pytest.mark.parametrize("case", list(CHART_CASES))
def test_every_rendered_object_validates_strictly_against_its_schema(
    rendered_cases: dict[str, list[dict[str, Any]]],
    chart_crd_validators: dict[tuple[str, str], Any],
    case: str,
) -> None:
    # given the chart rendered with one combination of values
    docs = rendered_cases[case]
    validators = chart_crd_validators
    # when each object is validated strictly: Kubernetes kinds against the 1.29 and 1.37 OpenAPI
    # schemas, ArbitrageBot and kopf peering objects against the CRDs the chart installs
    problems = [problem for doc in docs for problem in schema_problems(doc, validators)]
    # then none has an unknown field, a wrong type or a missing required field
    assert problems == []


def test_schema_validation_catches_a_misspelt_field(rendered_cases: dict[str, list[dict[str, Any]]]) -> None:
    # given a rendered Deployment with a typo a human could make
    deployment = next(d for d in rendered_cases["defaults"] if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    # when it is validated like every other object
    problems = schema_problems(broken, {})
    # then the strict schema names the unknown field
    assert problems and all("replica" in problem for problem in problems)


def test_crd_validation_catches_an_unknown_bot_field(
    rendered_cases: dict[str, list[dict[str, Any]]], chart_crd_validators: dict[tuple[str, str], Any]
) -> None:
    # given a rendered ArbitrageBot with a field its CRD does not define
    bot = next(d for d in rendered_cases["bots-in-values"] if d["kind"] == "ArbitrageBot")
    broken = {**bot, "spec": {**bot["spec"], "tradingWindw": {"utc": "05:00-21:00"}}}
    # when it is validated against the CRD's schema
    problems = schema_problems(broken, chart_crd_validators)
    # then the unknown field is refused
    assert problems and "tradingWindw" in problems[0]


def test_default_install_renders_the_operator_and_no_monitoring(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given default values on a cluster without the Prometheus Operator
    docs = rendered_cases["defaults"]
    # then the operator, its account, cluster-wide RBAC, the webhook and peering are there
    assert sorted(set(kinds(docs))) == sorted(
        {
            "ClusterKopfPeering",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceAccount",
            "ValidatingWebhookConfiguration",
        }
    )
    # and nothing of a monitoring API is rendered
    assert not [d for d in docs if d["apiVersion"].startswith(THIRD_PARTY_GROUPS)]


def test_monitoring_objects_render_when_enabled_and_the_api_is_served(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given monitoring enabled on a cluster serving monitoring.coreos.com/v1
    docs = rendered_cases["cluster-wide-monitoring-on"]
    # then the operator ServiceMonitor, the PrometheusRule and the dashboard ConfigMap exist
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("ServiceMonitor", "fg-flash-green") in rendered
    assert ("PrometheusRule", "fg-flash-green") in rendered
    assert ("ConfigMap", "fg-flash-green-dashboard") in rendered
    # and each carries monitoring.additionalLabels, so the user's Prometheus selects it
    monitoring = [d for d in docs if d["kind"] in ("ServiceMonitor", "PrometheusRule", "ConfigMap")]
    assert all(d["metadata"]["labels"]["release"] == "kube-prometheus-stack" for d in monitoring)


def test_monitoring_objects_are_skipped_when_the_prometheus_operator_api_is_absent(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given monitoring enabled in values but a cluster that does not serve monitoring.coreos.com/v1
    docs = rendered_cases["namespaced-release-namespace-monitoring-off"]
    # then no ServiceMonitor, PrometheusRule or dashboard is rendered (the install would fail)
    assert not {"ServiceMonitor", "PrometheusRule"} & set(kinds(docs))
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]


def test_monitoring_objects_are_skipped_when_disabled_even_if_the_api_is_served(
    helm: Helm, helm_tmp: Path
) -> None:
    # given the Prometheus Operator's API but monitoring left at its defaults (off)
    docs = helm.template(helm_tmp, {}, api_versions=(PROMETHEUS_OPERATOR_API,))
    # then nothing of it is rendered
    assert not {"ServiceMonitor", "PrometheusRule"} & set(kinds(docs))


def test_bots_listed_in_values_render_as_arbitragebots(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given two bots in values, one with a namespace and labels, one without
    docs = rendered_cases["bots-in-values"]
    bots = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ArbitrageBot"}
    # then each is an ArbitrageBot with its spec passed through unchanged
    assert set(bots) == {"staging", "overnight"}
    assert bots["staging"]["apiVersion"] == "arbitrage.flashgreen.dev/v1alpha1"
    assert bots["staging"]["metadata"]["namespace"] == "trading-staging"
    assert bots["staging"]["metadata"]["labels"]["desk"] == "power"
    assert bots["staging"]["spec"] == CHART_CASES["bots-in-values"].values["bots"][0]["spec"]
    # and a bot without a namespace lands in the release namespace
    assert bots["overnight"]["metadata"]["namespace"] == "flash-green"


def test_no_bots_are_rendered_by_default(rendered_cases: dict[str, list[dict[str, Any]]]) -> None:
    assert "ArbitrageBot" not in kinds(rendered_cases["defaults"])
