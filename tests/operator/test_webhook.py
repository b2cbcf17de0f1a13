"""The validating admission webhook, asked as the API server asks it: AdmissionReview over HTTPS."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from arbitrage_operator.spec import build_config
from arbitrage_operator.status import format_problems
from tests.fixtures.kube import KubeEmulator, OperatorProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
PATH = "/validate-arbitragebot"


def review(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    resource = {"group": "arbitrage.flashgreen.dev", "version": "v1alpha1", "resource": "arbitragebots"}
    kind = {"group": "arbitrage.flashgreen.dev", "version": "v1alpha1", "kind": "ArbitrageBot"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": obj["metadata"]["name"],
            "namespace": "trading",
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": {**obj, "spec": {}} if operation == "UPDATE" else None,
            "dryRun": False,
        },
    }


def example(name: str) -> dict[str, Any]:
    docs = list(yaml.safe_load_all((ROOT / "examples" / name).read_text()))
    return next(d for d in docs if d["kind"] == "ArbitrageBot")


@pytest.fixture(scope="module")
def webhook(kube: KubeEmulator, webhook_operator: OperatorProcess) -> httpx.Client:
    """An HTTPS client trusting the webhook's certificate, once the webhook answers."""
    trust = ssl.create_default_context(cafile=str(webhook_operator.webhook_ca))
    client = httpx.Client(base_url=webhook_operator.webhook_url, verify=trust, timeout=10)

    def answering() -> bool:
        try:
            client.post(PATH, json=review(example("staging-bot.yaml")))
        except httpx.TransportError:
            return False
        return True

    wait_for(answering, timeout=20, what="the admission webhook to answer")
    return client


def test_the_webhook_admits_a_valid_bot(webhook: httpx.Client) -> None:
    # given the staging example; when it is submitted for admission
    sent = review(example("staging-bot.yaml"))
    answer = webhook.post(PATH, json=sent).json()
    # then it is allowed, and the answer is tied to the request
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == sent["request"]["uid"]
    assert answer["response"]["allowed"] is True


def test_the_webhook_refuses_an_invalid_bot_with_the_status_message(webhook: httpx.Client) -> None:
    # given a bot turning on live ICE without its URL or credentials
    bot = example("invalid-missing-credentials.yaml")
    # when it is submitted for admission
    answer = webhook.post(PATH, json=review(bot)).json()
    # then it is refused with the very message ConfigValid would carry, naming every field
    assert answer["response"]["allowed"] is False
    message = answer["response"]["status"]["message"]
    assert message == format_problems(build_config(bot["metadata"]["name"], bot["spec"]).problems)
    for expected in ("spec.ice.apiUrl", "ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET"):
        assert expected in message
    assert answer["response"]["status"]["code"] == 422


def test_the_webhook_refuses_an_invalid_update_too(webhook: httpx.Client) -> None:
    # given an update that sets a trade larger than the loan
    bot = example("invalid-limits.yaml")
    # when it is submitted for admission
    answer = webhook.post(PATH, json=review(bot, operation="UPDATE")).json()
    # then it is refused, naming both limits
    assert answer["response"]["allowed"] is False
    assert "MAX_NOTIONAL_PER_TRADE" in answer["response"]["status"]["message"]
    assert "spec.risk.maxNotionalPerTrade" in answer["response"]["status"]["message"]


def test_the_webhook_lets_a_metadata_change_through_on_an_old_invalid_bot(webhook: httpx.Client) -> None:
    # given a bot stored before the webhook existed, invalid, whose labels are now changed
    bot = example("invalid-window.yaml")
    sent = review({**bot, "metadata": {**bot["metadata"], "labels": {"desk": "b"}}}, operation="UPDATE")
    sent["request"]["oldObject"] = bot
    # then the change is admitted: only a new spec is judged
    assert webhook.post(PATH, json=sent).json()["response"]["allowed"] is True


def test_the_webhook_speaks_tls_only(webhook_operator: OperatorProcess, webhook: httpx.Client) -> None:
    # given the webhook's port; when asked over plain HTTP; then no admission answer comes back
    plain = webhook_operator.webhook_url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.post(plain + PATH, json=review(example("staging-bot.yaml")), timeout=5).raise_for_status()


def bot_with(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": "trading"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"apiKeySecretRef": {"name": "../../kube-system/secrets/cloud-creds"}},
            "spec.apiKeySecretRef.name: '../../kube-system/secrets/cloud-creds' is not a Secret name",
        ),
        (
            {"image": "docker.io/attacker/miner:latest"},
            "spec.image: 'docker.io/attacker/miner:latest' is not an image",
        ),
        (
            {"serviceAccountName": "namespace-admin"},
            "spec.serviceAccountName: 'namespace-admin' is not a ServiceAccount",
        ),
        (
            {"powerledger": {"apiUrl": "https://desk:pl-pass-771@api.powerledger.io/trading"}},
            "spec.powerledger.apiUrl (POWERLEDGER_API_URL): the URL carries credentials",
        ),
    ],
    ids=[
        "secret-outside-namespace",
        "image-not-allowed",
        "service-account-not-allowed",
        "credentials-in-url",
    ],
)
def test_the_webhook_refuses_what_the_platform_does_not_allow(
    webhook: httpx.Client, spec: dict[str, Any], expected: str
) -> None:
    # given a bot whose spec reaches beyond what the operator's (default) allowlist and rules permit
    answer = webhook.post(PATH, json=review(bot_with("reaching", spec))).json()
    # then the webhook refuses it at admission, naming the field; a credential is never repeated
    assert answer["response"]["allowed"] is False
    message = answer["response"]["status"]["message"]
    assert expected in message
    assert "pl-pass-771" not in message


def test_the_webhook_admits_the_default_image_and_account(webhook: httpx.Client) -> None:
    spec = {"image": "ghcr.io/flash-green/flash-green:0.1.0", "serviceAccountName": "default"}
    assert webhook.post(PATH, json=review(bot_with("plain", spec))).json()["response"]["allowed"] is True
