"""Pure builders: an ArbitrageBot's name, namespace and spec in, its child objects out (plain dicts).

Nothing here talks to a cluster. The handlers add owner references (`kopf.adopt`) and apply
the results; the tests render them and validate them against Kubernetes' own schemas.

The children of a bot named N:
- ConfigMap `N-config`: the non-secret settings, passed to the pod with `envFrom`;
- PersistentVolumeClaim `N-journal`: the SQLite trade journal (absent with a PostgreSQL journal);
- Service `N`: port `api` (8002), the API, control panel and the authenticated /metrics;
- Deployment `N`: one replica, `Recreate` (two bots must never trade the same book), the
  configuration hash as a pod annotation so every change rolls out, credentials by `secretKeyRef`;
- ServiceMonitor `N`, when the spec asks for it and the cluster serves its API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arbitrage_operator.policy import DEFAULT_IMAGE, without_url_credentials
from arbitrage_operator.spec import API_PORT, DATA_DIR, BotConfig, build_config
from arbitrage_operator.spec_fields import API_KEY_REF, DATABASE_URL_REF, get_path
from bot.domain.shutdown import DEFAULT_ORDER_TIMEOUT_S, ShutdownBudget

HASH_ANNOTATION = "arbitrage.flashgreen.dev/config-hash"
BOT_LABEL = "arbitrage.flashgreen.dev/bot"
MANAGED_BY = "flash-green-operator"
CONTAINER = "bot"
RUN_AS = 10001
DEFAULT_JOURNAL_SIZE = "1Gi"
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


@dataclass(frozen=True)
class OperatorDefaults:
    """Operator-wide defaults of the children (`runtime.OperatorSettings.bot_defaults()`)."""

    image: str = DEFAULT_IMAGE
    image_pull_policy: str = "IfNotPresent"
    scrape_interval: str = "30s"
    scrape_timeout: str = "10s"
    servicemonitor_labels: dict[str, str] = field(default_factory=dict)


# -- names and labels ------------------------------------------------------------------------


def configmap_name(name: str) -> str:
    """The ConfigMap of bot `name`."""
    return f"{name}-config"


def pvc_name(name: str) -> str:
    """The journal's PersistentVolumeClaim of bot `name`."""
    return f"{name}-journal"


def selector_labels(name: str) -> dict[str, str]:
    """Labels that select the bot's pods (stable for the Deployment's lifetime)."""
    return {"app.kubernetes.io/component": "bot", BOT_LABEL: name}


def labels(name: str) -> dict[str, str]:
    """Labels of every child of bot `name`."""
    return {
        "app.kubernetes.io/name": "flash-green",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        **selector_labels(name),
    }


def _meta(
    name: str, namespace: str, bot: str, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels(bot)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def image_of(spec: Mapping[str, Any], defaults: OperatorDefaults) -> str:
    """The bot's image: spec.image, else the operator's default."""
    image = spec.get("image")
    return image if isinstance(image, str) and image else defaults.image


def uses_volume(spec: Mapping[str, Any]) -> bool:
    """True when the journal is SQLite on a PersistentVolumeClaim (no PostgreSQL reference)."""
    return get_path(spec, DATABASE_URL_REF.path) is None


def wants_servicemonitor(spec: Mapping[str, Any]) -> bool:
    """True when the spec asks for a ServiceMonitor."""
    return get_path(spec, "monitoring.serviceMonitor") is True


# -- builders --------------------------------------------------------------------------------


def build_configmap(
    name: str, namespace: str, spec: Mapping[str, Any], config: BotConfig | None = None
) -> dict[str, Any]:
    """The ConfigMap holding every non-secret setting as the bot's environment variables.

    A URL never carries credentials into it: a spec with one is refused before any child is
    written, and should one get here all the same, its userinfo and secret parameters are removed.
    """
    config = config or build_config(name, spec)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(configmap_name(name), namespace, name),
        "data": {key: without_url_credentials(value) for key, value in sorted(config.env.items())},
    }


def build_pvc(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The PersistentVolumeClaim of the SQLite journal."""
    size = get_path(spec, "journal.size") or DEFAULT_JOURNAL_SIZE
    pvc_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": size}},
    }
    storage_class = get_path(spec, "journal.storageClassName")
    if storage_class:
        pvc_spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(pvc_name(name), namespace, name),
        "spec": pvc_spec,
    }


def build_service(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The Service of the bot's API, control panel and authenticated /metrics."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(name),
            "ports": [{"name": "api", "port": API_PORT, "targetPort": "api", "protocol": "TCP"}],
        },
    }


def build_servicemonitor(
    name: str, namespace: str, spec: Mapping[str, Any], defaults: OperatorDefaults | None = None
) -> dict[str, Any]:
    """The ServiceMonitor scraping the API's /metrics with the bot's API key as bearer token."""
    defaults = defaults or OperatorDefaults()
    ref = get_path(spec, API_KEY_REF.path) or {}
    meta = _meta(name, namespace, name)
    meta["labels"] = {**defaults.servicemonitor_labels, **meta["labels"]}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector_labels(name)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [
                {
                    "port": "api",
                    "path": "/metrics",
                    "scheme": "http",
                    "interval": defaults.scrape_interval,
                    "scrapeTimeout": defaults.scrape_timeout,
                    "authorization": {
                        "type": "Bearer",
                        "credentials": {
                            "name": ref.get("name", ""),
                            "key": ref.get("key", API_KEY_REF.default_key),
                        },
                    },
                }
            ],
        },
    }


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "api", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _secret_env(config: BotConfig) -> list[dict[str, Any]]:
    return [
        {
            "name": s.env,
            "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key, "optional": s.optional}},
        }
        for s in sorted(config.secret_env, key=lambda s: s.env)
    ]


def config_hash(name: str, spec: Mapping[str, Any], config: BotConfig, defaults: OperatorDefaults) -> str:
    """The digest of everything a pod's configuration depends on (no secret values)."""
    return config.config_hash(
        image=image_of(spec, defaults),
        extra={
            "journal": "volume" if uses_volume(spec) else "database",
            "resources": spec.get("resources") or DEFAULT_RESOURCES,
            "serviceAccountName": spec.get("serviceAccountName"),
        },
    )


def grace_seconds(env: Mapping[str, str]) -> int:
    """The pod's termination grace, from ORDER_TIMEOUT_SECS (`bot.domain.shutdown`; 80 s at 30 s)."""
    try:
        return ShutdownBudget.for_timeout(env.get("ORDER_TIMEOUT_SECS", DEFAULT_ORDER_TIMEOUT_S)).pod_grace_s
    except (ArithmeticError, ValueError):  # refused by the validation before a Deployment is built
        return ShutdownBudget.for_timeout(DEFAULT_ORDER_TIMEOUT_S).pod_grace_s


def build_deployment(
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    config: BotConfig | None = None,
    defaults: OperatorDefaults | None = None,
) -> dict[str, Any]:
    """The bot's Deployment: one pod running `flash-green run` after the image's preflight."""
    config = config or build_config(name, spec)
    defaults = defaults or OperatorDefaults()
    journal_volume: dict[str, Any] = (
        {"name": "journal", "persistentVolumeClaim": {"claimName": pvc_name(name)}}
        if uses_volume(spec)
        # With PostgreSQL the directory still holds the orchestrator's lock file.
        else {"name": "journal", "emptyDir": {"sizeLimit": "64Mi"}}
    )
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image_of(spec, defaults),
        "imagePullPolicy": defaults.image_pull_policy,
        # The image's entrypoint runs `flash-green preflight`, then `flash-green run`.
        "args": ["run"],
        "envFrom": [{"configMapRef": {"name": configmap_name(name)}}],
        "env": _secret_env(config),
        "ports": [{"name": "api", "containerPort": API_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/healthz", period=5, failures=36),
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "resources": spec.get("resources") or DEFAULT_RESOURCES,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "journal", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, the root filesystem is read-only
        ],
    }
    if not container["env"]:
        del container["env"]
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # Time for the cycle in flight to finish or unwind before the pod is killed: the API drains
        # for up to ORDER_TIMEOUT_SECS + 10 s, then gives the loop ORDER_TIMEOUT_SECS + 5 s, plus
        # 5 s (bot.domain.shutdown computes all three; the API reads the same figures).
        "terminationGracePeriodSeconds": grace_seconds(config.env),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [journal_volume, {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if spec.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = spec["serviceAccountName"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, name),
        "spec": {
            "replicas": 1,
            # Never two pods at once: two bots must never trade the same book.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(name)},
            "template": {
                "metadata": {
                    "labels": labels(name),
                    "annotations": {HASH_ANNOTATION: config_hash(name, spec, config, defaults)},
                },
                "spec": pod_spec,
            },
        },
    }


def build_children(
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    config: BotConfig,
    defaults: OperatorDefaults,
    *,
    servicemonitor_api: bool,
) -> list[dict[str, Any]]:
    """Every child the bot should have, in the order they are applied."""
    children = [build_configmap(name, namespace, spec, config)]
    if uses_volume(spec):
        children.append(build_pvc(name, namespace, spec))
    children.append(build_service(name, namespace, spec))
    children.append(build_deployment(name, namespace, spec, config, defaults))
    if servicemonitor_api and wants_servicemonitor(spec):
        children.append(build_servicemonitor(name, namespace, spec, defaults))
    return children
