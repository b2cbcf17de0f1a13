"""`kubectl flash-green status`: ArbitrageBots read through a kubeconfig, against kmock on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli.kubectl import plugin
from tests.fixtures.kube import BOTS, KubeEmulator, now_rfc3339

IMAGE = "ghcr.io/flash-green/flash-green:0.1.0"


def bot(name: str, namespace: str, *, pnl: str | None = None) -> dict[str, object]:
    status: dict[str, object] = {
        "phase": "Trading",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "DeploymentAvailable",
                "message": "pod ready",
                "lastTransitionTime": now_rfc3339(),
            },
            {
                "type": "Trading",
                "status": "False",
                "reason": "OutsideWindow",
                "message": "window closed",
                "lastTransitionTime": now_rfc3339(),
            },
        ],
    }
    if pnl is not None:
        status["pnlTodayGBP"] = pnl
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": IMAGE},
        "status": status,
    }


@pytest.fixture(scope="module")
def kubeconfig(kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two bots in two namespaces (one with today's PnL), an Event about one, and a kubeconfig."""
    kube.create(BOTS, bot("alpha", "desk-a", pnl="12.50"))
    kube.create(BOTS, bot("beta", "desk-b"))
    kube.create(
        "v1/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "alpha.1", "namespace": "desk-a"},
            "involvedObject": {"kind": "ArbitrageBot", "name": "alpha", "namespace": "desk-a"},
            "type": "Normal",
            "reason": "Deployed",
            "message": "created the bot's Deployment",
            "lastTimestamp": now_rfc3339(),
        },
    )
    return kube.write_kubeconfig(tmp_path_factory.mktemp("plugin") / "kubeconfig")


def plugin_status(kubeconfig: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(plugin, ["status", "--kubeconfig", str(kubeconfig), *args])
    return result.exit_code, result.output


def test_all_namespaces_lists_both_bots_with_their_conditions(kubeconfig: Path) -> None:
    code, out = plugin_status(kubeconfig, "-A")
    assert code == 0, out
    assert "alpha" in out and "desk-a" in out and "beta" in out and "desk-b" in out
    assert "True (DeploymentAvailable)" in out and "False (OutsideWindow)" in out
    assert "£12.50" in out and "—" in out  # beta's PnL is not written yet: a dash, not an error
    assert "\x1b[" not in out


def test_one_namespace_lists_only_its_bot(kubeconfig: Path) -> None:
    code, out = plugin_status(kubeconfig, "-n", "desk-b", "-o", "json")
    rows = json.loads(out)["items"]
    assert code == 0
    assert [(r["name"], r["namespace"]) for r in rows] == [("beta", "desk-b")]
    assert rows[0]["pnl_today_gbp"] is None and rows[0]["image"] == IMAGE


def test_yaml_reads_back(kubeconfig: Path) -> None:
    code, out = plugin_status(kubeconfig, "-A", "-o", "yaml")
    rows = yaml.safe_load(out)["items"]
    assert code == 0
    assert {r["name"]: r["pnl_today_gbp"] for r in rows} == {"alpha": "12.50", "beta": None}
    assert rows[0]["ready"] == {"status": "True", "reason": "DeploymentAvailable"}


def test_a_name_shows_conditions_with_messages_and_its_events(kubeconfig: Path) -> None:
    code, out = plugin_status(kubeconfig, "alpha", "-n", "desk-a", "-o", "json")
    detail = json.loads(out)
    assert code == 0, out
    assert {c["type"]: c["message"] for c in detail["conditions"]} == {
        "Ready": "pod ready",
        "Trading": "window closed",
    }
    assert [e["reason"] for e in detail["events"]] == ["Deployed"]
    _, table = plugin_status(kubeconfig, "alpha", "-n", "desk-a")
    assert "Conditions" in table and "Events" in table and "created the bot's Deployment" in table


def test_an_unknown_name_exits_one(kubeconfig: Path) -> None:
    code, out = plugin_status(kubeconfig, "gamma", "-n", "desk-a")
    assert code == 1
    assert "no ArbitrageBot 'gamma' in namespace desk-a" in out
