"""What a bot's author cannot do through the operator, end to end: `python -m arbitrage_operator`
against kmock on loopback, configured with an allowlist as a platform team would configure it.

- take over (and later garbage-collect) another team's object by naming the bot after it;
- make the operator read Secrets of another namespace;
- run an image or a ServiceAccount the platform did not allow;
- put credentials into a URL of the spec (and so into the bot's ConfigMap).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from arbitrage_operator.children import NameConflict, ensure_children
from arbitrage_operator.manifests import build_configmap, build_service
from tests.fixtures.kube import BOTS, KubeEmulator, OperatorProcess, running_operator, wait_for
from tests.operator.test_kube_client import with_api

DEPLOYMENTS = "apps/v1/deployments"
CONFIGMAPS = "v1/configmaps"
SERVICES = "v1/services"
EVENTS = "v1/events"
ALL_DAY = {"tradingWindow": {"utc": "00:00-24:00", "allowWeekends": True}}
DESK_IMAGES = "registry.example.com/trading/"
PASSWORD = "pl-token-5f2b9c"


@pytest.fixture(scope="module")
def platform_operator(
    kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator as a platform team runs it: one extra image prefix, one extra ServiceAccount."""
    env = {
        "FLASH_GREEN_ALLOWED_IMAGES": DESK_IMAGES,
        "FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS": "default,bot-irsa",
    }
    with running_operator(kube, tmp_path_factory.mktemp("platform-operator"), env=env) as process:
        yield process


def bot(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(spec),
    }


def condition(kube: KubeEmulator, namespace: str, name: str, type_: str) -> dict[str, Any]:
    obj = kube.get(BOTS, namespace, name) or {}
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), {})


def reconciled(kube: KubeEmulator, namespace: str, name: str) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        obj = kube.get(BOTS, namespace, name)
        if obj and obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]:
            return obj
        return None

    return wait_for(current, what=f"{namespace}/{name} to be reconciled")


def their_service(namespace: str, name: str) -> dict[str, Any]:
    """Another team's Service, created by hand (kmock assigns no uid: the fixture gives one)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "payments"}},
        "spec": {"type": "ClusterIP", "selector": {"app": "payments-api"}, "ports": [{"port": 443}]},
    }


# -- 13. Never adopt what is not ours ---------------------------------------------------------


def test_a_child_held_by_someone_else_is_left_untouched_and_nothing_is_written(kube: KubeEmulator) -> None:
    # given the payments team's Service `payments` (no owner of ours) and no server-side apply
    kube.create(SERVICES, their_service("pay-a", "payments"))
    before = kube.get(SERVICES, "pay-a", "payments")
    children = [build_configmap("payments", "pay-a", {}), build_service("payments", "pay-a", {})]
    for child in children:
        child["metadata"]["ownerReferences"] = [
            {"apiVersion": "arbitrage.flashgreen.dev/v1alpha1", "kind": "ArbitrageBot", "name": "payments",
             "uid": "bot-uid", "controller": True, "blockOwnerDeletion": True}
        ]  # fmt: skip
    # when the bot's children are ensured
    with pytest.raises(NameConflict) as refused:
        with_api(kube, lambda api: ensure_children(api, children, owner_uid="bot-uid"))
    # then the Service is exactly as it was, and not even the ConfigMap was created
    assert [c.describe() for c in refused.value.conflicts] == [
        "Service 'payments' already exists and is not owned by this bot"
    ]
    assert kube.get(SERVICES, "pay-a", "payments") == before
    assert kube.get(CONFIGMAPS, "pay-a", "payments-config") is None


def test_a_bot_named_like_another_teams_service_gets_a_name_conflict(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given the payments team's Service `payments`
    kube.create(SERVICES, their_service("pay-b", "payments"))
    service_before = kube.get(SERVICES, "pay-b", "payments")
    # when someone creates a bot named `payments` in that namespace
    kube.create(BOTS, bot("payments", "pay-b", ALL_DAY))
    ready = wait_for(
        lambda: (
            condition(kube, "pay-b", "payments", "Ready").get("reason") == "NameConflict"
            and condition(kube, "pay-b", "payments", "Ready")
        ),
        what="Ready=False NameConflict",
    )
    # then Ready says so, naming the object; a Warning event names it too
    assert ready["status"] == "False"
    assert "Service 'payments'" in ready["message"]
    events = wait_for(
        lambda: [
            e
            for e in kube.list(EVENTS, "pay-b")
            if e.get("reason") == "NameConflict" and e.get("involvedObject", {}).get("name") == "payments"
        ],
        what="the NameConflict event",
    )
    assert events[0]["type"] == "Warning" and "Service 'payments'" in events[0]["message"]
    # and the Service still routes to the payments API, with no owner reference that would let the
    # garbage collector delete it with the bot; no Deployment or ConfigMap was created
    assert kube.get(SERVICES, "pay-b", "payments") == service_before
    assert kube.get(DEPLOYMENTS, "pay-b", "payments") is None
    assert kube.get(CONFIGMAPS, "pay-b", "payments-config") is None


def test_the_bot_starts_once_the_conflicting_object_is_gone(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given a bot blocked by another team's Service
    kube.create(SERVICES, their_service("pay-c", "ledger"))
    kube.create(BOTS, bot("ledger", "pay-c", ALL_DAY))
    wait_for(
        lambda: condition(kube, "pay-c", "ledger", "Ready").get("reason") == "NameConflict",
        what="NameConflict",
    )
    # when that Service is removed; then the operator's retry creates the bot's own children
    kube.delete(SERVICES, "pay-c", "ledger")
    deployment = wait_for(lambda: kube.get(DEPLOYMENTS, "pay-c", "ledger"), timeout=30, what="the Deployment")
    owner = kube.get(BOTS, "pay-c", "ledger")
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert (
        kube.get(SERVICES, "pay-c", "ledger")["spec"]["selector"]["arbitrage.flashgreen.dev/bot"] == "ledger"
    )


# -- 12. Secret references stay in their namespace --------------------------------------------


def test_a_reference_into_another_namespace_is_refused_and_never_sent(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given a Secret in kube-system, and a bot whose API key reference climbs to it
    kube.create(
        "v1/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cloud-creds", "namespace": "kube-system"},
            "data": {"API_KEY": "c2VjcmV0"},
        },
    )
    spec = {**ALL_DAY, "apiKeySecretRef": {"name": "../../kube-system/secrets/cloud-creds", "key": "API_KEY"}}
    kube.create(BOTS, bot("nosy", "desk-n", spec))
    reconciled(kube, "desk-n", "nosy")
    # then ConfigValid is False naming the field, nothing is deployed, and the name was never looked up
    valid = condition(kube, "desk-n", "nosy", "ConfigValid")
    assert (valid["status"], valid["reason"]) == ("False", "InvalidSpec")
    assert "spec.apiKeySecretRef.name" in valid["message"]
    assert kube.get(DEPLOYMENTS, "desk-n", "nosy") is None
    assert not [p for p in kube.request_paths() if "cloud-creds" in p]


# -- 14. Image and ServiceAccount are the platform's choice -----------------------------------


def test_an_image_outside_the_allowlist_is_refused_and_an_allowed_one_runs(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given a bot asking for an image the platform never allowed
    kube.create(BOTS, bot("miner", "desk-i", {**ALL_DAY, "image": "docker.io/attacker/miner:latest"}))
    reconciled(kube, "desk-i", "miner")
    valid = condition(kube, "desk-i", "miner", "ConfigValid")
    # then it is refused with its own reason and no Deployment exists
    assert (valid["status"], valid["reason"]) == ("False", "ImageNotAllowed")
    assert kube.get(DEPLOYMENTS, "desk-i", "miner") is None
    # and a bot naming an image under the allowed prefix runs it
    kube.create(BOTS, bot("desk", "desk-i", {**ALL_DAY, "image": f"{DESK_IMAGES}flash-green:0.2.0"}))
    reconciled(kube, "desk-i", "desk")
    container = kube.get(DEPLOYMENTS, "desk-i", "desk")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{DESK_IMAGES}flash-green:0.2.0"


def test_a_service_account_outside_the_allowlist_is_refused_and_the_running_bot_kept(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given a running bot under an allowed ServiceAccount
    kube.create(BOTS, bot("irsa", "desk-s", {**ALL_DAY, "serviceAccountName": "bot-irsa"}))
    reconciled(kube, "desk-s", "irsa")
    before = kube.get(DEPLOYMENTS, "desk-s", "irsa")
    assert before["spec"]["template"]["spec"]["serviceAccountName"] == "bot-irsa"
    # when its spec switches to a ServiceAccount the platform did not allow
    kube.patch_spec("desk-s", "irsa", {"serviceAccountName": "namespace-admin"})
    reconciled(kube, "desk-s", "irsa")
    # then ConfigValid is False for it and the Deployment keeps running as it was
    valid = condition(kube, "desk-s", "irsa", "ConfigValid")
    assert (valid["status"], valid["reason"]) == ("False", "ServiceAccountNotAllowed")
    assert kube.get(DEPLOYMENTS, "desk-s", "irsa")["spec"] == before["spec"]


# -- 9. No credentials in URLs ----------------------------------------------------------------


def test_a_url_with_credentials_is_refused_and_never_reaches_the_configmap(
    kube: KubeEmulator, platform_operator: OperatorProcess
) -> None:
    # given a running bot
    kube.create(BOTS, bot("venue", "desk-u", {**ALL_DAY, "web3": {"rpcUrl": "https://rpc.example.com"}}))
    reconciled(kube, "desk-u", "venue")
    configmap_before = kube.get(CONFIGMAPS, "desk-u", "venue-config")
    # when its RPC URL gains a password
    kube.patch_spec("desk-u", "venue", {"web3": {"rpcUrl": f"https://bot:{PASSWORD}@rpc.example.com"}})
    obj = reconciled(kube, "desk-u", "venue")
    # then ConfigValid is False (CredentialsInUrl) without repeating it, and the ConfigMap is unchanged
    # (status.kopf holds kopf's copy of the last spec handled: the spec's own readers, nobody else)
    valid = condition(kube, "desk-u", "venue", "ConfigValid")
    assert (valid["status"], valid["reason"]) == ("False", "CredentialsInUrl")
    assert "spec.web3.rpcUrl" in valid["message"]
    assert PASSWORD not in str(obj["status"]["conditions"])
    assert kube.get(CONFIGMAPS, "desk-u", "venue-config") == configmap_before
    assert not [e for e in kube.list(EVENTS, "desk-u") if PASSWORD in str(e.get("message"))]
