"""The admission webhook is wired to the operator with a certificate the API server will trust."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    return doc


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_generated_serving_certificate_is_signed_by_the_ca_in_the_webhook_configuration(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given a cluster without cert-manager
    docs = rendered_cases["defaults"]
    secret = one(docs, "Secret", "-webhook-tls")
    webhook = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    # then the caBundle the API server trusts is the CA stored beside the serving certificate
    assert secret["type"] == "kubernetes.io/tls"
    assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    serving = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    # and that CA signed the serving certificate
    serving.verify_directly_issued_by(ca)
    # and the certificate names the webhook Service the API server calls
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert "fg-flash-green-webhook.flash-green.svc" in names
    # and it stays valid for years, so upgrades (which reuse it) do not race its expiry
    assert serving.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3000)


def test_webhook_configuration_calls_the_operator_through_its_service(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered_cases["defaults"]
    webhook = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    service = one(docs, "Service", "-webhook")
    container = operator_container(docs)
    # the webhook targets the Service, which forwards to the operator's webhook port
    assert webhook["clientConfig"]["service"]["name"] == service["metadata"]["name"]
    assert webhook["clientConfig"]["service"]["namespace"] == "flash-green"
    assert service["spec"]["ports"][0]["targetPort"] == "webhook"
    assert any(port["name"] == "webhook" for port in container["ports"])
    # it validates creates and updates of ArbitrageBots only, and refuses them while unreachable
    assert webhook["rules"] == [
        {
            "apiGroups": ["arbitrage.flashgreen.dev"],
            "apiVersions": ["v1alpha1"],
            "resources": ["arbitragebots"],
            "operations": ["CREATE", "UPDATE"],
            "scope": "Namespaced",
        }
    ]
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["sideEffects"] == "None"
    # and the operator finds the certificate where the Secret is mounted
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook-tls")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mount["readOnly"] is True
    assert env["WEBHOOK_CERT_FILE"] == f"{mount['mountPath']}/tls.crt"
    assert env["WEBHOOK_KEY_FILE"] == f"{mount['mountPath']}/tls.key"


def test_cert_manager_issues_the_certificate_when_its_api_is_served(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given a cluster serving cert-manager.io/v1
    docs = rendered_cases["cert-manager"]
    certificate = one(docs, "Certificate")
    configuration = one(docs, "ValidatingWebhookConfiguration")
    # then cert-manager writes the Secret the operator mounts, for the webhook Service's names
    mounted = next(
        v
        for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "webhook-tls"
    )
    assert certificate["spec"]["secretName"] == mounted["secret"]["secretName"]
    assert "fg-flash-green-webhook.flash-green.svc" in certificate["spec"]["dnsNames"]
    # and its CA injector fills the caBundle, so the chart neither generates nor embeds one
    assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"flash-green/{certificate['metadata']['name']}"
    )
    assert "caBundle" not in configuration["webhooks"][0]["clientConfig"]
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert one(docs, "Issuer")["spec"] == {"selfSigned": {}}


def test_namespaced_webhook_only_sees_the_served_namespaces(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    webhook = one(rendered_cases["namespaced-monitoring-on"], "ValidatingWebhookConfiguration")["webhooks"][0]
    assert webhook["namespaceSelector"] == {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": ["trading-staging", "trading-prod"],
            }
        ]
    }


def test_bots_from_values_skip_the_webhook_that_is_not_yet_running_at_install(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given bots created by the same install that starts the operator (and so its webhook)
    docs = rendered_cases["bots-in-values"]
    selector = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["objectSelector"]
    (expression,) = selector["matchExpressions"]
    # then each carries the label the webhook's objectSelector excludes (the operator still
    # validates them before creating anything)
    for bot in (d for d in docs if d["kind"] == "ArbitrageBot"):
        assert expression["operator"] == "NotIn"
        assert bot["metadata"]["labels"][expression["key"]] in expression["values"]


def test_webhook_disabled_renders_no_webhook_objects(rendered_cases: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered_cases["webhook-and-peering-off"]
    assert not [d for d in docs if d["kind"] in ("ValidatingWebhookConfiguration", "Secret", "Service")]
    assert "WEBHOOK_PORT" not in {e["name"] for e in operator_container(docs)["env"]}
