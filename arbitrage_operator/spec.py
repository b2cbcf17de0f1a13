"""From an ArbitrageBot spec to the bot's environment, validated by the bot's own `Settings`.

The mapping is read from `bot.config.catalog()`: each row names the setting's environment
variable and, when the spec sets it, its path in the spec (`crd`). A few paths are not plain
values and are handled here by name: `paused` (inverted into TRADING_ENABLED), `secrets.backend`
(`kubernetes` means no SECRETS_BACKEND), `journal` and the `*SecretRef` fields (wired by reference,
never copied). Everything here is pure: the Secrets' key names come in as an argument.

Every problem is reported at once, each naming the spec path and the environment variable, e.g.
`spec.ice.apiUrl: ICE_API_URL is required when USE_ICE_LIVE=1: set ICE_API_URL (infra)`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bot.config import ConfigError, SettingInfo, Settings, catalog

# Where the journal volume is mounted in the bot container, and the ports the pod serves.
DATA_DIR = "/var/lib/flash-green"
API_PORT = 8002
METRICS_PORT = 8000

# Settings the operator fixes for every pod: the API on its port, the orchestrator's exporter
# reachable only from inside the pod (the API's authenticated /metrics is the scrape target).
OPERATOR_ENV: dict[str, str] = {
    "DATA_DIR": DATA_DIR,
    "API_HOST": "0.0.0.0",  # noqa: S104 - the pod's API must be reachable through its Service
    "API_PORT": str(API_PORT),
    "METRICS_HOST": "127.0.0.1",
    "METRICS_PORT": str(METRICS_PORT),
}

# Paths the table marks but whose value is not a plain setting value.
SPECIAL_PATHS = frozenset({"paused", "journal", "secrets.backend", "secrets.vault.tokenSecretRef"})
SECRET_BACKENDS = ("kubernetes", "vault", "aws")
DEFAULT_SECRET_KEYS = {"API_KEY": "API_KEY", "DATABASE_URL": "DATABASE_URL", "VAULT_TOKEN": "VAULT_TOKEN"}
# A value standing in for a secret the pod will receive by reference; never written anywhere.
_BY_REFERENCE = "set-by-reference"
_ENV_AT_START = re.compile(r"^([A-Z][A-Z0-9_]+)\b")

Kind = Literal["bool", "int", "decimal", "string", "list", "enum", "path", "secret"]


@dataclass(frozen=True)
class SettingKind:
    """How a setting's value is written in the spec: its kind, bounds and allowed values."""

    kind: Kind
    minimum: Decimal | None = None
    exclusive_minimum: bool = False
    maximum: Decimal | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False


def setting_kind(info: SettingInfo) -> SettingKind:
    """The spec-side kind of one catalog row, read from the `Settings` field's type."""
    model_field = Settings.model_fields[info.field]
    annotation = model_field.annotation
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        nullable = True
        non_null = [a for a in args if a is not type(None)]
        annotation = non_null[0] if len(non_null) == 1 else annotation
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive = False
    for meta in model_field.metadata:
        if getattr(meta, "ge", None) is not None:
            minimum = Decimal(str(meta.ge))
        if getattr(meta, "gt", None) is not None:
            minimum, exclusive = Decimal(str(meta.gt)), True
        if getattr(meta, "le", None) is not None:
            maximum = Decimal(str(meta.le))
    if info.secret:
        return SettingKind("secret", nullable=nullable)
    if typing.get_origin(annotation) is Literal:
        return SettingKind(
            "enum", choices=tuple(str(a) for a in typing.get_args(annotation)), nullable=nullable
        )
    if annotation is bool:
        return SettingKind("bool", nullable=nullable)
    if annotation is int:
        return SettingKind("int", minimum, exclusive, maximum, nullable=nullable)
    if annotation is Decimal:
        return SettingKind("decimal", minimum, exclusive, maximum, nullable=nullable)
    if typing.get_origin(annotation) is list:
        return SettingKind("list", nullable=nullable)
    if annotation is Path:
        return SettingKind("path", nullable=nullable)
    return SettingKind("string", nullable=nullable)


@functools.cache
def _catalog() -> tuple[SettingInfo, ...]:
    # Read once per process, on first use: the table is fixed for the life of the code.
    return tuple(catalog())


@functools.cache
def _rows_by_env() -> dict[str, SettingInfo]:
    return {row.env: row for row in _catalog()}


@functools.cache
def spec_rows() -> tuple[SettingInfo, ...]:
    """Catalog rows whose value is a plain value at their spec path."""
    return tuple(row for row in _catalog() if row.crd and row.crd not in SPECIAL_PATHS)


@functools.cache
def _spec_row_kinds() -> tuple[tuple[SettingInfo, SettingKind], ...]:
    return tuple((row, setting_kind(row)) for row in spec_rows())


def get_path(spec: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of the spec, or None when any part is absent."""
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


# --------------------------------------------------------------------------------------------
# Secret references


@dataclass(frozen=True, order=True)
class SecretEnv:
    """One environment variable the pod reads from a Kubernetes Secret (`secretKeyRef`)."""

    env: str
    secret: str
    key: str
    optional: bool
    path: str  # the spec path that names the Secret, for messages


@dataclass(frozen=True)
class SecretRef:
    """A `{name, key}` reference as written in the spec."""

    name: str
    key: str
    path: str


def secret_backend(spec: Mapping[str, Any]) -> str:
    """`kubernetes` (the default), `vault` or `aws`; an unknown value is returned as written."""
    backend = get_path(spec, "secrets.backend")
    return str(backend) if backend is not None else "kubernetes"


def _ref(
    spec: Mapping[str, Any], path: str, default_key: str, problems: list[str], env: str
) -> SecretRef | None:
    value = get_path(spec, path)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or not value.get("name"):
        problems.append(
            f"spec.{path} ({env}): must be an object {{name, key}} naming a Secret in this namespace"
        )
        return None
    key = value.get("key", default_key)
    if not isinstance(key, str) or not key:
        problems.append(f"spec.{path}.key ({env}): must be a non-empty key name")
        return None
    return SecretRef(value["name"], key, path)


def referenced_secrets(spec: Mapping[str, Any]) -> list[str]:
    """Names of every Secret the spec references (to be checked for their keys)."""
    names: list[str] = []
    secret_name = get_path(spec, "secrets.kubernetes.secretName")
    if secret_backend(spec) == "kubernetes" and isinstance(secret_name, str) and secret_name:
        names.append(secret_name)
    for path in ("apiKeySecretRef", "secrets.vault.tokenSecretRef", "journal.databaseUrlSecretRef"):
        value = get_path(spec, path)
        if isinstance(value, Mapping) and isinstance(value.get("name"), str) and value["name"]:
            names.append(value["name"])
    return sorted(set(names))


# --------------------------------------------------------------------------------------------
# The plan: environment, secret wiring and problems


@dataclass(frozen=True)
class BotConfig:
    """What a spec becomes: the ConfigMap's settings, the secret wiring, and every problem."""

    env: dict[str, str]
    secret_env: tuple[SecretEnv, ...]
    problems: tuple[str, ...]
    spec_problems: tuple[str, ...]  # found from the spec alone: what the admission webhook rejects
    missing_secrets: tuple[str, ...]  # referenced Secrets that do not exist

    @property
    def valid(self) -> bool:
        """True when nothing stands in the way of a Deployment."""
        return not self.problems

    def config_hash(self, *, image: str, extra: Mapping[str, Any] | None = None) -> str:
        """A digest of everything the pod's configuration depends on (no secret values)."""
        document = {
            "env": self.env,
            "secrets": [[s.env, s.secret, s.key, s.optional] for s in self.secret_env],
            "image": image,
            "extra": dict(extra or {}),
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]


SecretKeys = Mapping[str, frozenset[str] | None]
"""Secret name -> its key names, or None when the Secret does not exist."""


def build_config(
    name: str, spec: Mapping[str, Any] | None, secret_keys: SecretKeys | None = None
) -> BotConfig:
    """Map and validate a spec.

    With `secret_keys=None` only the spec is judged (the admission webhook): every referenced
    Secret is assumed to hold every key it may hold. With the key names of the referenced
    Secrets (never their values), missing Secrets and keys are problems too.
    """
    spec = spec or {}
    problems: list[str] = name_problems(name)
    env = dict(OPERATOR_ENV)
    env["BOT_NAME"] = name
    problems += _plain_values(spec, env)
    problems += _special_values(spec, env)
    wiring, wiring_problems, placeholders = _secret_wiring(spec, secret_keys)
    problems += wiring_problems
    problems += _spec_rules(spec)
    settings_problems = _settings_problems(spec, {**env, **placeholders})
    problems += [p for p in settings_problems if p not in problems]

    if secret_keys is None:
        spec_only = list(problems)
        missing: list[str] = []
    else:
        spec_only = list(build_config(name, spec, None).problems) if problems else []
        missing = [n for n in referenced_secrets(spec) if secret_keys.get(n) is None]
    return BotConfig(
        env=env,
        secret_env=tuple(sorted(wiring)),
        problems=tuple(problems),
        spec_problems=tuple(spec_only),
        missing_secrets=tuple(missing),
    )


_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def name_problems(name: str) -> list[str]:
    """The bot's name becomes its Service's and Deployment's name: a DNS label of 63 characters at most."""
    if len(name) > 63 or not _DNS_LABEL.match(name):
        return [
            f"metadata.name: {name!r} must be a DNS label (lowercase letters, digits and '-', "
            "starting with a letter, at most 63 characters): it names the bot's Service and Deployment"
        ]
    return []


def validate_spec(name: str, spec: Mapping[str, Any]) -> list[str]:
    """Problems found from the spec alone (what the admission webhook rejects)."""
    return list(build_config(name, spec, None).problems)


def _plain_values(spec: Mapping[str, Any], env: dict[str, str]) -> list[str]:
    problems = []
    for row, kind in _spec_row_kinds():
        assert row.crd is not None
        value = get_path(spec, row.crd)
        if value is None:
            continue
        text, problem = env_value(value, kind)
        if problem:
            problems.append(f"spec.{row.crd} ({row.env}): {problem}")
        elif text is not None:
            env[row.env] = text
    return problems


def env_value(value: Any, kind: SettingKind) -> tuple[str | None, str | None]:
    """A spec value as its environment string, or the reason it cannot be one."""
    if isinstance(value, Mapping):
        return None, "must be a single value, not an object"
    if kind.kind == "bool":
        if isinstance(value, bool):
            return ("1" if value else "0"), None
        return None, f"must be true or false, got {value!r}"
    if kind.kind == "list":
        if isinstance(value, str):
            items = [value]
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            return None, "must be a list of strings"
        if any("," in item for item in items):
            return None, "list items must not contain commas"
        return ",".join(items), None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return None, "must be a single value, not a list"
    if isinstance(value, float):
        return None, (
            f'must be written as a string such as "{value}" or an integer: '
            "floating-point numbers are not accepted (money and limits are exact decimals)"
        )
    if isinstance(value, bool):
        return None, f"must be a {'number' if kind.kind in ('int', 'decimal') else 'string'}, got {value}"
    if kind.kind == "int":
        if isinstance(value, int):
            return str(value), None
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return value.strip(), None
        return None, f"must be an integer, got {value!r}"
    if kind.kind == "decimal":
        if isinstance(value, int):
            return str(value), None
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            return value.strip(), None
        return None, f'must be a decimal number such as "100000" or "0.50", got {value!r}'
    return str(value), None


def _special_values(spec: Mapping[str, Any], env: dict[str, str]) -> list[str]:
    problems = []
    paused = spec.get("paused")
    if paused is not None and not isinstance(paused, bool):
        problems.append(f"spec.paused (TRADING_ENABLED): must be true or false, got {paused!r}")
    env["TRADING_ENABLED"] = "0" if paused is True else "1"

    backend = secret_backend(spec)
    if backend not in SECRET_BACKENDS:
        problems.append(
            f"spec.secrets.backend (SECRETS_BACKEND): must be one of {', '.join(SECRET_BACKENDS)}, got "
            f"{backend!r}"
        )
    elif backend != "kubernetes":
        env["SECRETS_BACKEND"] = backend
    return problems


@functools.cache
def _hydrated_secret_envs() -> tuple[str, ...]:
    return tuple(row.env for row in _catalog() if row.secret and row.hydrated)


def _secret_wiring(
    spec: Mapping[str, Any], secret_keys: SecretKeys | None
) -> tuple[list[SecretEnv], list[str], dict[str, str]]:
    """Which env names come from which Secret key; placeholders for validation; problems."""
    problems: list[str] = []
    wiring: list[SecretEnv] = []
    placeholders: dict[str, str] = {}
    backend = secret_backend(spec)

    def available(secret: str, key: str) -> bool:
        if secret_keys is None:
            return True
        keys = secret_keys.get(secret)
        return keys is not None and key in keys

    api_key = _ref(spec, "apiKeySecretRef", DEFAULT_SECRET_KEYS["API_KEY"], problems, "API_KEY")
    db_url = _ref(
        spec, "journal.databaseUrlSecretRef", DEFAULT_SECRET_KEYS["DATABASE_URL"], problems, "DATABASE_URL"
    )
    vault_token = _ref(
        spec, "secrets.vault.tokenSecretRef", DEFAULT_SECRET_KEYS["VAULT_TOKEN"], problems, "VAULT_TOKEN"
    )
    own_refs = {"API_KEY": api_key, "DATABASE_URL": db_url, "VAULT_TOKEN": vault_token}
    for env, ref in own_refs.items():
        if ref is None:
            continue
        wiring.append(SecretEnv(env, ref.name, ref.key, optional=False, path=f"spec.{ref.path}"))
        if available(ref.name, ref.key):
            placeholders[env] = _BY_REFERENCE
        elif secret_keys is not None and secret_keys.get(ref.name) is None:
            problems.append(
                f"spec.{ref.path} ({env}): Secret {ref.name!r} not found in this namespace: create it"
            )
        elif secret_keys is not None:
            problems.append(
                f"spec.{ref.path} ({env}): Secret {ref.name!r} has no key {ref.key!r}: add it (kubectl "
                f"create secret generic {ref.name} --from-literal={ref.key}=...)"
            )
    if vault_token is not None and backend != "vault":
        problems.append(
            "spec.secrets.vault.tokenSecretRef (VAULT_TOKEN): only used when spec.secrets.backend is vault"
        )

    if backend in ("vault", "aws"):
        # The pod fetches these from the backend at start; its preflight reports any missing one.
        for env in _hydrated_secret_envs():
            placeholders.setdefault(env, _BY_REFERENCE)
        return wiring, problems, placeholders

    secret_name = get_path(spec, "secrets.kubernetes.secretName")
    if secret_name is None:
        return wiring, problems, placeholders
    if not isinstance(secret_name, str) or not secret_name:
        problems.append("spec.secrets.kubernetes.secretName: must be the name of a Secret in this namespace")
        return wiring, problems, placeholders
    keys = None if secret_keys is None else secret_keys.get(secret_name)
    if secret_keys is not None and keys is None:
        problems.append(
            f"spec.secrets.kubernetes.secretName: Secret {secret_name!r} not found in this "
            "namespace: create it with one key per credential, named like the environment variable (e.g. "
            "ICE_API_KEY)"
        )
    for env in _hydrated_secret_envs():
        if env in own_refs and own_refs[env] is not None:
            continue  # its own reference wins
        if secret_keys is None or (keys is not None and env in keys):
            wiring.append(
                SecretEnv(env, secret_name, env, optional=False, path="spec.secrets.kubernetes.secretName")
            )
            placeholders[env] = _BY_REFERENCE
    return wiring, problems, placeholders


def _spec_rules(spec: Mapping[str, Any]) -> list[str]:
    """Rules of the resource itself (not of the bot's settings)."""
    problems = []
    backend = secret_backend(spec)
    if backend == "kubernetes" and get_path(spec, "secrets.vault") is not None:
        problems.append("spec.secrets.vault: set spec.secrets.backend to vault to use it")
    if backend == "kubernetes" and get_path(spec, "secrets.aws") is not None:
        problems.append("spec.secrets.aws: set spec.secrets.backend to aws to use it")
    if backend in ("vault", "aws") and get_path(spec, "secrets.kubernetes") is not None:
        problems.append(
            f"spec.secrets.kubernetes: not used when spec.secrets.backend is {backend}; remove it"
        )
    journal = spec.get("journal")
    if journal is not None and not isinstance(journal, Mapping):
        problems.append("spec.journal: must be an object")
    elif isinstance(journal, Mapping):
        if journal.get("databaseUrlSecretRef") is not None and (
            journal.get("size") is not None or journal.get("storageClassName") is not None
        ):
            problems.append(
                "spec.journal (DATABASE_URL): choose one journal: a volume (size, storageClassName) for "
                "SQLite, or databaseUrlSecretRef for PostgreSQL"
            )
        size = journal.get("size")
        if size is not None and not (
            isinstance(size, str) and re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?", size)
        ):
            problems.append(f"spec.journal.size: must be a storage quantity such as 1Gi, got {size!r}")
    monitoring = spec.get("monitoring")
    if (
        isinstance(monitoring, Mapping)
        and monitoring.get("serviceMonitor") is True
        and spec.get("apiKeySecretRef") is None
    ):
        problems.append(
            "spec.monitoring.serviceMonitor (API_KEY): needs spec.apiKeySecretRef: Prometheus scrapes the "
            "API's /metrics with the API key as bearer token"
        )
    return problems


def _settings_problems(spec: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The bot's own validation of the mapped environment, each line prefixed by its spec path."""
    try:
        Settings.from_mapping(env, hydrate=False)
    except ConfigError as exc:
        return [f"{location(spec, _env_of(problem))}: {problem}" for problem in exc.problems]
    return []


def _env_of(problem: str) -> str:
    match = _ENV_AT_START.match(problem)
    return match.group(1) if match else ""


def location(spec: Mapping[str, Any], env: str) -> str:
    """Where in the spec (or in which Secret) an environment variable's value comes from."""
    fixed = {
        "TRADING_ENABLED": "spec.paused",
        "SECRETS_BACKEND": "spec.secrets.backend",
        "VAULT_TOKEN": "spec.secrets.vault.tokenSecretRef",
        "DATABASE_URL": "spec.journal.databaseUrlSecretRef",
        "API_KEY": "spec.apiKeySecretRef",
    }
    if env in fixed:
        return fixed[env]
    row = _rows_by_env().get(env)
    if row is None:
        return "spec"
    if row.crd and row.crd not in SPECIAL_PATHS:
        return f"spec.{row.crd}"
    if row.secret:
        backend = secret_backend(spec)
        if backend == "vault":
            return f"key {env} of the Vault secret at spec.secrets.vault.path"
        if backend == "aws":
            return f"key {env} of the AWS secret spec.secrets.aws.secretId"
        secret_name = get_path(spec, "secrets.kubernetes.secretName")
        if isinstance(secret_name, str) and secret_name:
            return f"spec.secrets.kubernetes.secretName (Secret {secret_name!r} needs key {env})"
        return f"spec.secrets.kubernetes.secretName (name a Secret holding key {env})"
    return f"operator-managed setting {env}"
