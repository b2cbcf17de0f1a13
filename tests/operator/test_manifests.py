"""The pure builders: what each child of a bot looks like, validated against Kubernetes' schemas.

The golden file is the whole Deployment rendered for the staging example. After an intended
change, regenerate it with `python -m tests.operator.test_manifests` and review the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from arbitrage_operator.manifests import (
    DEFAULT_IMAGE,
    HASH_ANNOTATION,
    OperatorDefaults,
    build_children,
    build_configmap,
    build_deployment,
    build_pvc,
    build_service,
    build_servicemonitor,
)
from arbitrage_operator.runtime import load
from arbitrage_operator.spec import build_config

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden") / "deployment-staging.yaml"
# The oldest Kubernetes release the project supports, and the newest kubernetes-validate knows.
VERSIONS = ("1.29", kubernetes_validate.latest_version())


def example_spec(name: str) -> dict[str, Any]:
    docs = yaml.safe_load_all((ROOT / "examples" / name).read_text())
    return dict(next(d for d in docs if d["kind"] == "ArbitrageBot")["spec"])


def staging_deployment() -> dict[str, Any]:
    spec = example_spec("staging-bot.yaml")
    config = build_config("staging", spec, {"staging-api-key": frozenset({"API_KEY"})})
    return build_deployment("staging", "trading", spec, config, OperatorDefaults())


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_staging_deployment_matches_the_golden_file() -> None:
    # given the staging example; when its Deployment is rendered; then it is exactly the reviewed one
    assert staging_deployment() == yaml.safe_load(GOLDEN.read_text())


@pytest.mark.parametrize("example", ["staging-bot.yaml", "production-bot.yaml"])
@pytest.mark.parametrize("version", VERSIONS)
def test_every_child_validates_against_the_kubernetes_schemas(example: str, version: str) -> None:
    # given a bot's children (the ServiceMonitor is a CRD kubernetes-validate does not know)
    spec = example_spec(example)
    config = build_config("bot", spec)
    children = build_children("bot", "trading", spec, config, OperatorDefaults(), servicemonitor_api=False)
    # then each one is valid in strict mode (no unknown field anywhere)
    for child in children:
        kubernetes_validate.validate(child, version, strict=True)
    assert [c["kind"] for c in children] == (
        ["ConfigMap", "PersistentVolumeClaim", "Service", "Deployment"]
        if example == "staging-bot.yaml"
        else ["ConfigMap", "Service", "Deployment"]
    )


def test_one_replica_and_recreate_so_two_bots_never_trade_the_same_book() -> None:
    spec = staging_deployment()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_the_pod_is_locked_down() -> None:
    deployment = staging_deployment()
    pod = deployment["spec"]["template"]["spec"]
    security = container(deployment)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


def test_the_bot_runs_the_image_entrypoint_with_run() -> None:
    bot = container(staging_deployment())
    assert "command" not in bot  # the entrypoint runs preflight, then `flash-green run`
    assert bot["args"] == ["run"]
    assert bot["image"] == DEFAULT_IMAGE


def test_probes_ask_healthz_and_readyz_on_the_api_port() -> None:
    bot = container(staging_deployment())
    assert bot["ports"] == [{"name": "api", "containerPort": 8002, "protocol": "TCP"}]
    assert bot["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert bot["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert bot["readinessProbe"]["httpGet"]["port"] == "api"


def test_the_journal_volume_holds_data_dir_and_tmp_is_writable() -> None:
    deployment = staging_deployment()
    mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert mounts == {"journal": "/var/lib/flash-green", "tmp": "/tmp"}
    assert volumes["journal"]["persistentVolumeClaim"] == {"claimName": "staging-journal"}
    assert "emptyDir" in volumes["tmp"]


def test_a_postgresql_journal_needs_no_volume_claim() -> None:
    spec = example_spec("production-bot.yaml")
    deployment = build_deployment("prod", "trading", spec)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["journal"]  # still holds the orchestrator's lock file
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(deployment)["env"]}
    assert env["DATABASE_URL"] == {"name": "production-journal", "key": "DATABASE_URL", "optional": False}


def test_settings_come_from_the_configmap_and_credentials_by_secret_key_ref() -> None:
    bot = container(staging_deployment())
    assert bot["envFrom"] == [{"configMapRef": {"name": "staging-config"}}]
    assert bot["env"] == [
        {
            "name": "API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "staging-api-key", "key": "API_KEY", "optional": False}},
        }
    ]


def test_the_configmap_holds_no_credential() -> None:
    spec = {
        "apiKeySecretRef": {"name": "api"},
        "secrets": {"kubernetes": {"secretName": "creds"}},
        "features": {"iceLive": True},
        "ice": {"apiUrl": "https://ice"},
    }
    data = build_configmap("b", "ns", spec)["data"]
    assert "API_KEY" not in data
    assert "ICE_API_KEY" not in data
    assert data["USE_ICE_LIVE"] == "1"


def test_the_vault_backend_passes_its_token_by_reference() -> None:
    spec = {
        "secrets": {
            "backend": "vault",
            "vault": {
                "address": "https://vault:8200",
                "path": "fg",
                "tokenSecretRef": {"name": "vault-token"},
            },
        }
    }
    deployment = build_deployment("b", "ns", spec)
    data = build_configmap("b", "ns", spec)["data"]
    assert data["SECRETS_BACKEND"] == "vault"
    assert data["VAULT_ADDR"] == "https://vault:8200"
    assert container(deployment)["env"] == [
        {
            "name": "VAULT_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "vault-token", "key": "VAULT_TOKEN", "optional": False}},
        }
    ]


def test_the_configuration_hash_changes_with_the_configuration_only() -> None:
    def pod_hash(spec: dict[str, Any], defaults: OperatorDefaults | None = None) -> str:
        deployment = build_deployment("b", "ns", spec, defaults=defaults)
        return str(deployment["spec"]["template"]["metadata"]["annotations"][HASH_ANNOTATION])

    base = {"risk": {"loanLimitGBP": "100000"}}
    assert pod_hash(base) == pod_hash({"risk": {"loanLimitGBP": "100000"}})
    assert pod_hash(base) != pod_hash({"risk": {"loanLimitGBP": "90000"}})
    assert pod_hash(base) != pod_hash({**base, "paused": True})
    assert pod_hash(base) != pod_hash(base, OperatorDefaults(image="registry.example/fg:0.2.0"))


def test_the_image_comes_from_the_spec_then_the_operator_environment() -> None:
    defaults = load({"FLASH_GREEN_BOT_IMAGE": "registry.example/fg:0.1.1"}).bot_defaults()
    assert (
        container(build_deployment("b", "ns", {}, defaults=defaults))["image"] == "registry.example/fg:0.1.1"
    )
    assert container(build_deployment("b", "ns", {"image": "mine:1"}, defaults=defaults))["image"] == "mine:1"
    assert load({}).bot_defaults().image == DEFAULT_IMAGE


def test_resources_default_and_are_replaced_by_the_spec() -> None:
    assert container(build_deployment("b", "ns", {}))["resources"]["limits"]["memory"] == "512Mi"
    mine = {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}
    assert container(build_deployment("b", "ns", {"resources": mine}))["resources"] == mine


def test_the_service_exposes_the_api_port_to_the_bots_pod() -> None:
    service = build_service("b", "ns", {})
    deployment = build_deployment("b", "ns", {})
    assert service["spec"]["ports"] == [{"name": "api", "port": 8002, "targetPort": "api", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_journal_claim_takes_size_and_storage_class() -> None:
    pvc = build_pvc("b", "ns", {"journal": {"size": "5Gi", "storageClassName": "fast"}})
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["spec"]["storageClassName"] == "fast"


def test_the_servicemonitor_scrapes_metrics_with_the_api_key() -> None:
    spec = {"apiKeySecretRef": {"name": "api", "key": "token"}, "monitoring": {"serviceMonitor": True}}
    defaults = load({"FLASH_GREEN_BOT_SERVICEMONITOR_LABELS": '{"release": "prom"}'}).bot_defaults()
    monitor = build_servicemonitor("b", "ns", spec, defaults)
    endpoint = monitor["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("api", "/metrics")
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "api", "key": "token"}}
    assert monitor["metadata"]["labels"]["release"] == "prom"
    service_labels = build_service("b", "ns", spec)["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()


def write_golden() -> None:
    """Regenerate the golden Deployment (review the diff before committing it)."""
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(yaml.safe_dump(staging_deployment(), sort_keys=False, width=110))


if __name__ == "__main__":
    write_golden()
