"""The ArbitrageBot CustomResourceDefinition, generated from the settings table.

Every field that maps to a bot setting takes its type, bounds and description from
`bot.config.catalog()`, so the CRD, the bot and the docs cannot drift apart. The fields that
are the operator's own (secret references, journal, image, resources, monitoring) are described
here; the status subresource and the printer columns are in `crd_status.py`.
`crds/arbitragebot.yaml` is this module's output:

    python -m arbitrage_operator.crd > crds/arbitragebot.yaml

Money and limits are integers or decimal strings, never floating-point numbers.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import yaml

from arbitrage_operator.crd_status import (
    SIGNED_DECIMAL_PATTERN,
    object_schema,
    printer_columns,
    status_schema,
)
from arbitrage_operator.policy import (
    DEFAULT_IMAGE,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_PATTERN,
    SECRET_KEY_PATTERN,
)
from arbitrage_operator.spec_fields import (
    API_KEY_REF,
    CREDENTIALS_PATH,
    DATABASE_URL_REF,
    PAUSED,
    SECRET_BACKENDS,
    SECRETS_BACKEND,
    VAULT_TOKEN_REF,
    SettingKind,
    SpecialField,
    setting_kind,
    spec_rows,
)
from bot.config import SettingInfo

GROUP = "arbitrage.flashgreen.dev"
VERSION = "v1alpha1"
KIND = "ArbitrageBot"
PLURAL = "arbitragebots"
SINGULAR = "arbitragebot"
SHORT_NAMES = ["arb"]
API_VERSION = f"{GROUP}/{VERSION}"
RESOURCE = (GROUP, VERSION, PLURAL)  # as kopf's handlers name it

WINDOW_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$"
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

# Descriptions of the groups of settings (the objects between the spec and its leaves).
GROUPS: dict[str, str] = {
    "features": "Feature toggles: each live adapter replaces its simulated counterpart. All false is a fully "
    "simulated bot.",
    "liveFeed": "CCXT live feed of the futures leg (used when features.liveFeed is true).",
    "powerledger": "Powerledger, the power leg (used when features.powerledgerLive is true).",
    "ice": "The futures leg: ICE REST or the Fnality/HQLAx repo venue (used when features.iceLive is true).",
    "ice.fnality": "The Fnality/HQLAx repo venue, when ice.adapter is fnality_repo.",
    "web3": "The on-chain flash loan (used when features.web3Loan is true).",
    "risk": "Risk limits and costs. Money is in GBP, written as an integer or a decimal string (never a "
    "floating-point number).",
    "tradingWindow": "When the bot may trade, in UTC.",
    "simulation": "The simulated markets used when no live adapter is enabled.",
    "execution": "Order execution and the cycle's pace.",
    "secrets": "Where the bot's credentials come from: a Kubernetes Secret (the default), HashiCorp Vault "
    "(KV v2) or AWS Secrets Manager. Values are never copied into the ConfigMap, the status or events.",
    "secrets.kubernetes": "Credentials from a Kubernetes Secret in the bot's namespace.",
    "secrets.vault": "Credentials from HashiCorp Vault KV v2 (secrets.backend: vault).",
    "secrets.aws": "Credentials from AWS Secrets Manager (secrets.backend: aws); the pod's AWS identity "
    "comes from its ServiceAccount (see serviceAccountName).",
    "auth": "Who may call the bot's API: API key roles, OIDC tokens, client certificates.",
    "auth.oidc": "OIDC bearer tokens accepted by the API.",
    "auth.rateLimits": "Rate limits of the API, per caller (N/second, N/minute, N/hour).",
    "journal": "The trade journal: a SQLite file on a PersistentVolumeClaim (the default), or PostgreSQL.",
    "monitoring": "Prometheus scraping of the bot.",
}


def _fmt_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value) if value else "empty"
    return str(value)


def leaf_description(row: SettingInfo) -> str:
    """A field's description: the setting's own, its environment variable and default."""
    text = row.description.rstrip()
    if not text.endswith("."):
        text += "."
    text += f" Environment variable {row.env}; default {_fmt_default(row.default)}."
    if row.required_by:
        text += f" Required when {' or '.join(row.required_by)}."
    return text


def leaf_schema(row: SettingInfo, kind: SettingKind) -> dict[str, Any]:
    """The OpenAPI schema of one setting's field."""
    schema: dict[str, Any]
    if kind.kind == "bool":
        schema = {"type": "boolean"}
    elif kind.kind == "int":
        schema = {"type": "integer"}
        if kind.minimum is not None:
            schema["minimum"] = int(kind.minimum) + (1 if kind.exclusive_minimum else 0)
        if kind.maximum is not None:
            schema["maximum"] = int(kind.maximum)
    elif kind.kind == "decimal":
        non_negative = kind.minimum is not None and kind.minimum >= Decimal(0)
        schema = {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": DECIMAL_PATTERN if non_negative else SIGNED_DECIMAL_PATTERN,
        }
    elif kind.kind == "enum":
        schema = {"type": "string", "enum": list(kind.choices)}
    elif kind.kind == "list":
        schema = {
            "type": "array",
            "items": {"type": "string", "pattern": "^[^,]+$", "description": "One entry (no commas)."},
        }
    else:
        schema = {"type": "string"}
        if row.env == "TRADING_WINDOW_UTC":
            schema["pattern"] = WINDOW_PATTERN
    schema["description"] = leaf_description(row)
    return schema


def object_name(description: str) -> dict[str, Any]:
    """A field naming a Kubernetes object: a DNS subdomain, so it can never reach another namespace."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": DNS_SUBDOMAIN_MAX,
        "pattern": DNS_SUBDOMAIN_PATTERN,
        "description": description,
    }


def _secret_ref(field: SpecialField, description: str) -> dict[str, Any]:
    return object_schema(
        description,
        {
            "name": object_name("Name of the Secret, in the bot's namespace (a DNS subdomain)."),
            "key": {
                "type": "string",
                "minLength": 1,
                "maxLength": DNS_SUBDOMAIN_MAX,
                "pattern": SECRET_KEY_PATTERN,
                "description": f"Key in the Secret holding the value; default {field.default_key}.",
            },
        },
        required=["name"],
    )


def _quantity_map(description: str) -> dict[str, Any]:
    return object_schema(
        description,
        additionalProperties={
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": QUANTITY_PATTERN,
        },
    )


def _operator_fields() -> dict[str, dict[str, Any]]:
    """The spec fields that are the operator's own, by dotted path."""
    return {
        PAUSED.path: {
            "type": "boolean",
            "description": "Kill switch: true stops trading (the pod runs with TRADING_ENABLED=0) "
            "without deleting anything; the API and control panel stay up for inspection. Default false.",
        },
        "image": {
            "type": "string",
            "minLength": 1,
            "description": "Container image of the bot; default the operator's FLASH_GREEN_BOT_IMAGE "
            f"({DEFAULT_IMAGE}). Any other image must be in the operator's FLASH_GREEN_ALLOWED_IMAGES. The "
            "image's entrypoint runs `flash-green preflight` and then `flash-green run`.",
        },
        "serviceAccountName": object_name(
            "ServiceAccount of the bot pod, e.g. one bound to an AWS role for secrets.backend aws; default "
            "the namespace's default account. It must be in the operator's "
            "FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS. The pod never mounts its API token."
        ),
        "resources": object_schema(
            "CPU and memory of the bot container; default requests cpu 100m, memory 256Mi and limits cpu 1, "
            "memory 512Mi.",
            {
                "requests": _quantity_map("Minimum resources, e.g. {cpu: 100m, memory: 256Mi}."),
                "limits": _quantity_map("Maximum resources, e.g. {cpu: '1', memory: 512Mi}."),
            },
        ),
        API_KEY_REF.path: _secret_ref(
            API_KEY_REF,
            "The Secret key holding API_KEY, the shared key of the bot's API (X-API-Key or Bearer). "
            "Required for monitoring.serviceMonitor (Prometheus presents it).",
        ),
        SECRETS_BACKEND.path: {
            "type": "string",
            "enum": list(SECRET_BACKENDS),
            "description": "kubernetes (default): credentials from secrets.kubernetes.secretName by "
            "secretKeyRef. vault or aws: the pod fetches them itself at start (SECRETS_BACKEND).",
        },
        CREDENTIALS_PATH: object_name(
            "Secret in the bot's namespace whose keys are the credentials' environment names (e.g. "
            "ICE_API_KEY, ICE_API_SECRET, LENDER_KEY); each key present is passed to the pod by secretKeyRef."
        ),
        VAULT_TOKEN_REF.path: _secret_ref(
            VAULT_TOKEN_REF, "The Secret key holding VAULT_TOKEN, the token the pod presents to Vault."
        ),
        "journal.size": {
            "type": "string",
            "pattern": QUANTITY_PATTERN,
            "description": "Size of the PersistentVolumeClaim holding the SQLite journal at "
            "/var/lib/flash-green; default 1Gi.",
        },
        "journal.storageClassName": object_name(
            "StorageClass of the journal's PersistentVolumeClaim; default the cluster's default."
        ),
        "journal.retain": {
            "type": "boolean",
            "description": "Keep the journal's PersistentVolumeClaim when the ArbitrageBot is "
            "deleted (it then has no owner reference). Default false.",
        },
        DATABASE_URL_REF.path: _secret_ref(
            DATABASE_URL_REF,
            "The Secret key holding DATABASE_URL, a PostgreSQL journal "
            "(postgresql+psycopg://user:pass@host/db). Replaces the SQLite volume.",
        ),
        "monitoring.serviceMonitor": {
            "type": "boolean",
            "description": "Create a ServiceMonitor scraping the API's /metrics with the API key (needs "
            "apiKeySecretRef and the Prometheus Operator's monitoring.coreos.com/v1 API). Default false.",
        },
    }


def _insert(tree: dict[str, Any], path: str, schema: dict[str, Any]) -> None:
    parts = path.split(".")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        group = ".".join(parts[: depth + 1])
        properties = node.setdefault("properties", {})
        if part not in properties:
            properties[part] = object_schema(GROUPS.get(group, f"Settings of {group}."), {})
        node = properties[part]
    node.setdefault("properties", {})[parts[-1]] = schema


def _sorted(node: dict[str, Any]) -> dict[str, Any]:
    if "properties" in node:
        node["properties"] = {k: _sorted(v) for k, v in sorted(node["properties"].items())}
    return node


def spec_schema() -> dict[str, Any]:
    """The schema of `spec`: every setting from the catalog plus the operator's own fields."""
    tree = object_schema(
        "Desired state of one trading bot. Every field is optional: an empty spec is a simulated bot with "
        "the bot's defaults.",
        {},
    )
    for row in spec_rows():
        assert row.crd is not None
        _insert(tree, row.crd, leaf_schema(row, setting_kind(row)))
    for path, schema in _operator_fields().items():
        _insert(tree, path, schema)
    return _sorted(tree)


def crd_manifest() -> dict[str, Any]:
    """The whole CustomResourceDefinition."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "flash-green", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["flash-green"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A trading bot: one Deployment running the flash-green "
                            "orchestrator and API, configured and validated from this spec.",
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": "arbitrage.flashgreen.dev/v1alpha1",
                                },
                                "kind": {"type": "string", "description": "ArbitrageBot"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = (
    "# The ArbitrageBot CustomResourceDefinition. Generated from bot/config.py's settings table by\n#   "
    "python -m arbitrage_operator.crd > crds/arbitragebot.yaml\n# Do not edit by hand: "
    "tests/operator/test_crd.py fails when this file and the generator differ.\n"
)


def render() -> str:
    """The CRD as the YAML document kept in crds/arbitragebot.yaml."""
    body = yaml.safe_dump(crd_manifest(), sort_keys=False, width=110, allow_unicode=True)
    return HEADER + body


def main() -> None:
    """Print the CRD (see the module docstring)."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
