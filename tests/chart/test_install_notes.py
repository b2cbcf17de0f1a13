"""After `helm install` the user is told how to see their bots."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.chart import STAGING_BOT, Helm


def test_notes_tell_the_user_how_to_list_bots_in_every_namespace(helm: Helm, helm_tmp: Path) -> None:
    notes = helm.install_notes(helm_tmp, {})
    assert "kubectl get arb --all-namespaces" in notes
    assert "kubectl describe arb <name> -n <namespace>" in notes
    assert "kubectl -n flash-green rollout status deployment/fg-flash-green" in notes


def test_notes_in_namespaced_mode_point_at_the_served_namespace(helm: Helm, helm_tmp: Path) -> None:
    notes = helm.install_notes(helm_tmp, {"watch": {"mode": "namespaced", "namespaces": ["trading"]}})
    assert "The operator serves ArbitrageBots in: trading." in notes
    assert "kubectl get arb -n trading" in notes


def test_notes_list_the_bots_the_release_created(helm: Helm, helm_tmp: Path) -> None:
    notes = helm.install_notes(helm_tmp, {"bots": [STAGING_BOT]})
    assert "- trading-staging/staging" in notes


def test_notes_warn_when_monitoring_was_requested_without_the_prometheus_operator(
    helm: Helm, helm_tmp: Path
) -> None:
    notes = helm.install_notes(helm_tmp, {"monitoring": {"prometheusRule": {"enabled": True}}})
    assert "does not serve monitoring.coreos.com/v1" in notes
