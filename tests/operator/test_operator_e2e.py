"""The operator end to end: `python -m arbitrage_operator` against kmock on loopback.

One emulator and one operator process serve the whole module; each test uses its own bot (and
namespace where it matters), so the tests do not depend on one another.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.kube import BOTS, PEERING_NAME, KubeEmulator, OperatorProcess, running_operator, wait_for

DEPLOYMENTS = "apps/v1/deployments"
CONFIGMAPS = "v1/configmaps"
SERVICES = "v1/services"
PVCS = "v1/persistentvolumeclaims"
SECRETS = "v1/secrets"
SERVICEMONITORS = "monitoring.coreos.com/v1/servicemonitors"
EVENTS = "v1/events"
HASH = "arbitrage.flashgreen.dev/config-hash"
ALL_DAY = {"tradingWindow": {"utc": "00:00-24:00", "allowWeekends": True}}


def bot(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(spec),
    }


def condition(kube: KubeEmulator, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
    obj = kube.get(BOTS, namespace, name) or {}
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)


def reconciled(kube: KubeEmulator, namespace: str, name: str) -> dict[str, Any]:
    """Wait until the status reflects the current generation; return the bot."""

    def current() -> dict[str, Any] | None:
        obj = kube.get(BOTS, namespace, name)
        if obj and obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]:
            return obj
        return None

    return wait_for(current, what=f"{namespace}/{name} to be reconciled")


def pod_hash(kube: KubeEmulator, namespace: str, name: str) -> str:
    deployment = kube.get(DEPLOYMENTS, namespace, name)
    assert deployment is not None
    return str(deployment["spec"]["template"]["metadata"]["annotations"][HASH])


def warning_events(kube: KubeEmulator, namespace: str, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in kube.list(EVENTS, namespace)
        if e.get("type") == "Warning" and e.get("involvedObject", {}).get("name") == name
    ]


def test_a_new_bot_gets_its_children_and_a_valid_status(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a simulated bot
    kube.create(BOTS, bot("alpha", "desk-a", ALL_DAY))
    # when the operator has reconciled it
    obj = reconciled(kube, "desk-a", "alpha")
    # then its ConfigMap, journal claim, Service and Deployment exist and ConfigValid is True
    assert kube.get(CONFIGMAPS, "desk-a", "alpha-config") is not None
    assert kube.get(PVCS, "desk-a", "alpha-journal") is not None
    assert kube.get(SERVICES, "desk-a", "alpha") is not None
    assert kube.get(DEPLOYMENTS, "desk-a", "alpha") is not None
    assert condition(kube, "desk-a", "alpha", "ConfigValid")["status"] == "True"
    assert obj["status"]["phase"] == "Starting"


def test_every_child_is_owned_by_its_bot(kube: KubeEmulator, operator: OperatorProcess) -> None:
    # given a reconciled bot
    kube.create(BOTS, bot("owned", "desk-a", ALL_DAY))
    owner = reconciled(kube, "desk-a", "owned")
    # then each child names the bot as its controlling owner, so deleting the bot deletes them
    children = [
        (CONFIGMAPS, "owned-config"),
        (PVCS, "owned-journal"),
        (SERVICES, "owned"),
        (DEPLOYMENTS, "owned"),
    ]
    for resource, child in children:
        refs = kube.get(resource, "desk-a", child)["metadata"]["ownerReferences"]
        assert refs == [
            {
                "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
                "kind": "ArbitrageBot",
                "name": "owned",
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_deleting_a_bot_leaves_nothing_that_is_not_owned_by_it(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a reconciled bot
    kube.create(BOTS, bot("doomed", "desk-d", ALL_DAY))
    owner = reconciled(kube, "desk-d", "doomed")
    # when it is deleted
    kube.delete(BOTS, "desk-d", "doomed")
    wait_for(lambda: kube.get(BOTS, "desk-d", "doomed") is None, what="the bot to be gone")
    # then every object left in its namespace is owned by it (the garbage collector's work;
    # kmock has none) and the operator recreated nothing
    leftovers = [o for r in (CONFIGMAPS, PVCS, SERVICES, DEPLOYMENTS) for o in kube.list(r, "desk-d")]
    assert leftovers
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"] for o in leftovers)


def test_a_spec_change_rolls_out_through_the_configuration_hash(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a reconciled bot
    kube.create(BOTS, bot("rollout", "desk-b", {**ALL_DAY, "risk": {"loanLimitGBP": "100000"}}))
    reconciled(kube, "desk-b", "rollout")
    before = pod_hash(kube, "desk-b", "rollout")
    # when a limit changes
    kube.patch_spec("desk-b", "rollout", {"risk": {"loanLimitGBP": "50000"}})
    obj = reconciled(kube, "desk-b", "rollout")
    # then the ConfigMap carries it and the pod template's hash changed (a new rollout)
    assert kube.get(CONFIGMAPS, "desk-b", "rollout-config")["data"]["LOAN_LIMIT_GBP"] == "50000"
    assert pod_hash(kube, "desk-b", "rollout") != before
    assert obj["status"]["configHash"] == pod_hash(kube, "desk-b", "rollout")


def test_pausing_stops_trading_but_keeps_the_bot_running(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a ready bot inside its window
    kube.create(BOTS, bot("pausable", "desk-c", ALL_DAY))
    reconciled(kube, "desk-c", "pausable")
    kube.set_deployment_available("desk-c", "pausable")
    wait_for(
        lambda: (condition(kube, "desk-c", "pausable", "Trading") or {}).get("status") == "True",
        what="Trading=True",
    )
    # when it is paused
    kube.patch_spec("desk-c", "pausable", {"paused": True})
    obj = reconciled(kube, "desk-c", "pausable")
    # then the pod gets TRADING_ENABLED=0, Trading is False (Paused), and the Deployment stays
    assert kube.get(CONFIGMAPS, "desk-c", "pausable-config")["data"]["TRADING_ENABLED"] == "0"
    assert condition(kube, "desk-c", "pausable", "Trading")["reason"] == "Paused"
    assert condition(kube, "desk-c", "pausable", "Trading")["status"] == "False"
    assert kube.get(DEPLOYMENTS, "desk-c", "pausable")["spec"]["replicas"] == 1
    assert obj["status"]["phase"] in ("Paused", "Starting")


def test_deployment_availability_sets_ready_and_trading(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a reconciled bot, not ready yet
    kube.create(BOTS, bot("ready", "desk-e", ALL_DAY))
    reconciled(kube, "desk-e", "ready")
    assert condition(kube, "desk-e", "ready", "Ready")["status"] == "False"
    # when its Deployment reports availability
    kube.set_deployment_available("desk-e", "ready")
    # then Ready and Trading become True without the spec changing
    wait_for(
        lambda: (condition(kube, "desk-e", "ready", "Ready") or {}).get("status") == "True", what="Ready"
    )
    assert condition(kube, "desk-e", "ready", "Trading")["status"] == "True"
    assert kube.get(BOTS, "desk-e", "ready")["status"]["phase"] == "Trading"
    # and when it loses it again, Ready turns False
    kube.set_deployment_available("desk-e", "ready", available=False)
    wait_for(
        lambda: (condition(kube, "desk-e", "ready", "Ready") or {}).get("status") == "False", what="not Ready"
    )


def test_an_invalid_spec_is_refused_and_the_running_deployment_is_left_alone(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a reconciled bot
    kube.create(BOTS, bot("guarded", "desk-f", ALL_DAY))
    reconciled(kube, "desk-f", "guarded")
    deployment_before = kube.get(DEPLOYMENTS, "desk-f", "guarded")
    versions_before = kube.versions(DEPLOYMENTS, "desk-f", "guarded")
    configmap_before = kube.get(CONFIGMAPS, "desk-f", "guarded-config")
    # when the spec turns on the live ICE adapter without its URL or credentials
    kube.patch_spec("desk-f", "guarded", {"features": {"iceLive": True}})
    reconciled(kube, "desk-f", "guarded")
    # then ConfigValid is False, naming every missing field by spec path and variable
    valid = condition(kube, "desk-f", "guarded", "ConfigValid")
    assert (valid["status"], valid["reason"]) == ("False", "InvalidSpec")
    for expected in ("spec.ice.apiUrl", "ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET"):
        assert expected in valid["message"]
    # and a Warning event says the same, its message led by the condition's reason
    events = wait_for(lambda: warning_events(kube, "desk-f", "guarded"), what="a Warning event")
    assert events[0]["reason"] == "ConfigInvalid"
    assert events[0]["message"].startswith("InvalidSpec: ")
    assert "ICE_API_URL" in events[0]["message"]
    # and neither the Deployment nor the ConfigMap was touched
    assert kube.versions(DEPLOYMENTS, "desk-f", "guarded") == versions_before
    assert kube.get(DEPLOYMENTS, "desk-f", "guarded") == deployment_before
    assert kube.get(CONFIGMAPS, "desk-f", "guarded-config") == configmap_before


def test_a_secret_missing_a_key_creates_nothing_and_says_which_key(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given the Secret named for the bot's API key, holding another key only
    kube.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "desk-credentials", "namespace": "desk-g"},
            "data": {"ICE_API_KEY": "a2V5"},
        },
    )
    spec = {**ALL_DAY, "apiKeySecretRef": {"name": "desk-credentials"}}
    # when a bot relies on it
    kube.create(BOTS, bot("keyless", "desk-g", spec))
    reconciled(kube, "desk-g", "keyless")
    # then ConfigValid is False (SecretKeyMissing) naming the Secret and the key, and nothing is created
    valid = condition(kube, "desk-g", "keyless", "ConfigValid")
    assert (valid["status"], valid["reason"]) == ("False", "SecretKeyMissing")
    assert "desk-credentials" in valid["message"]
    assert "API_KEY" in valid["message"]
    assert kube.get(DEPLOYMENTS, "desk-g", "keyless") is None
    assert kube.get(CONFIGMAPS, "desk-g", "keyless-config") is None
    # and the Secret's value never appears in the status
    assert "a2V5" not in str(kube.get(BOTS, "desk-g", "keyless"))


@pytest.mark.slow
def test_a_bot_waiting_for_a_secret_key_starts_once_the_key_is_added(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a bot refused because the Secret named for its API key lacks API_KEY
    kube.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-late", "namespace": "desk-h"},
            "data": {"ICE_API_KEY": "a2V5"},
        },
    )
    spec = {**ALL_DAY, "apiKeySecretRef": {"name": "api-late"}}
    kube.create(BOTS, bot("late", "desk-h", spec))
    reconciled(kube, "desk-h", "late")
    # when the key is added
    kube.patch(SECRETS, "desk-h", "api-late", {"data": {"API_KEY": "c2VjcmV0"}})
    # then the retry with backoff finds it: the bot becomes valid and gets its Deployment
    wait_for(
        lambda: kube.get(DEPLOYMENTS, "desk-h", "late"), timeout=20, what="the Deployment after the retry"
    )
    env = kube.get(DEPLOYMENTS, "desk-h", "late")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "api-late", "key": "API_KEY", "optional": False}},
    } in env
    wait_for(
        lambda: (condition(kube, "desk-h", "late", "ConfigValid") or {}).get("status") == "True",
        what="ConfigValid=True",
    )


def test_a_servicemonitor_is_created_when_asked_and_served(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given an emulator serving monitoring.coreos.com/v1 and a bot asking for a ServiceMonitor
    spec = {**ALL_DAY, "apiKeySecretRef": {"name": "api-key"}, "monitoring": {"serviceMonitor": True}}
    kube.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-key", "namespace": "desk-m"},
            "data": {"API_KEY": "eA=="},
        },
    )
    kube.create(BOTS, bot("watched", "desk-m", spec))
    reconciled(kube, "desk-m", "watched")
    # then it scrapes the API's /metrics with the API key as bearer token
    monitor = kube.get(SERVICEMONITORS, "desk-m", "watched")
    assert monitor is not None
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {"name": "api-key", "key": "API_KEY"}


def test_switching_monitoring_off_removes_the_servicemonitor(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a bot with a ServiceMonitor
    spec = {**ALL_DAY, "apiKeySecretRef": {"name": "api-key"}, "monitoring": {"serviceMonitor": True}}
    kube.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-key", "namespace": "desk-n"},
            "data": {"API_KEY": "eA=="},
        },
    )
    kube.create(BOTS, bot("unwatched", "desk-n", spec))
    reconciled(kube, "desk-n", "unwatched")
    assert kube.get(SERVICEMONITORS, "desk-n", "unwatched") is not None
    # when monitoring is switched off
    kube.patch_spec("desk-n", "unwatched", {"monitoring": {"serviceMonitor": False}})
    obj = reconciled(kube, "desk-n", "unwatched")
    # then the ServiceMonitor is deleted and the status forgets it
    assert kube.get(SERVICEMONITORS, "desk-n", "unwatched") is None
    assert "serviceMonitor" not in obj["status"]


def test_a_retained_journal_is_not_owned_by_the_bot(kube: KubeEmulator, operator: OperatorProcess) -> None:
    # given a bot whose journal must outlive it
    kube.create(BOTS, bot("keeper", "desk-k", {**ALL_DAY, "journal": {"size": "2Gi", "retain": True}}))
    reconciled(kube, "desk-k", "keeper")
    # then its claim has no owner (the garbage collector leaves it) and the rest is owned
    claim = kube.get(PVCS, "desk-k", "keeper-journal")
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert kube.get(DEPLOYMENTS, "desk-k", "keeper")["metadata"]["ownerReferences"]


def test_the_operator_is_registered_in_the_peering(kube: KubeEmulator, operator: OperatorProcess) -> None:
    # given the running operator; then it keeps its record alive in the peering object
    peering = kube.get("kopf.dev/v1/clusterkopfpeerings", None, PEERING_NAME)
    assert peering is not None
    assert len(peering["status"]) == 1


def test_the_liveness_endpoint_answers(operator: OperatorProcess) -> None:
    # given the running operator; when its liveness endpoint is asked; then it answers 200
    response = httpx.get(operator.liveness_url, timeout=5)
    assert response.status_code == 200


def test_the_operator_counts_its_reconciliations_on_its_metrics_port(
    kube: KubeEmulator, operator: OperatorProcess
) -> None:
    # given a bot the operator has reconciled
    kube.create(BOTS, bot("metered", "desk-m", ALL_DAY))
    reconciled(kube, "desk-m", "metered")

    # when the operator's metrics port is scraped; then the exposition parses and counts it
    def applied() -> float:
        text = httpx.get(operator.metrics_url, timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "flashgreen_operator_reconciliations_total" and sample.labels == {
                    "result": "applied"
                }:
                    return sample.value
        return 0.0

    assert wait_for(lambda: applied() >= 1, what="an applied reconciliation counted")


@pytest.mark.slow
def test_a_restarted_operator_rewrites_nothing(
    kube: KubeEmulator, operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # given a reconciled bot and the number of writes of it and its children
    kube.create(BOTS, bot("steady", "desk-s", ALL_DAY))
    reconciled(kube, "desk-s", "steady")
    watched = [(BOTS, "steady"), (CONFIGMAPS, "steady-config"), (DEPLOYMENTS, "steady"), (SERVICES, "steady")]
    before = {r: kube.versions(r, "desk-s", n) for r, n in watched}
    # when the operator restarts (its watch replays every object as ADDED, kopf resumes each)
    operator.stop()
    with running_operator(kube, tmp_path_factory.mktemp("restarted")) as restarted:
        wait_for(
            lambda: "Reconciled" in restarted.output() and "desk-s/steady" in restarted.output(),
            what="the resumed reconciliation",
        )
        # then nothing was written again
        assert {r: kube.versions(r, "desk-s", n) for r, n in watched} == before
    operator.start()
    operator.wait_watching()
