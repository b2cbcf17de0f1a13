"""From an ArbitrageBot spec to the bot's environment, validated by the bot's own `Settings`.

The mapping itself (which path sets which variable, and the five fields that are not plain
values) is `arbitrage_operator.spec_fields`; the Secret references are judged by
`arbitrage_operator.secret_refs`. Everything here is pure: the Secrets' key names come in as
an argument.

Every problem is reported at once, each naming the spec path and the environment variable, e.g.
`spec.ice.apiUrl: ICE_API_URL is required when USE_ICE_LIVE=1: set ICE_API_URL (infra)`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arbitrage_operator.policy import INVALID_SPEC, Allowlist, policy_problems
from arbitrage_operator.secret_refs import (
    CREDENTIALS_PATH,
    SecretEnv,
    SecretKeys,
    referenced_secrets,
    secret_backend,
    secret_wiring,
)
from arbitrage_operator.spec_fields import (
    API_KEY_REF,
    DATABASE_URL_REF,
    PAUSED,
    SECRET_BACKENDS,
    SECRETS_BACKEND,
    SPECIAL_BY_ENV,
    env_value,
    get_path,
    rows_by_env,
    spec_row_kinds,
)
from bot.config import ConfigError, Settings

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
NAME_PATH = "metadata.name"


@dataclass(frozen=True)
class BotConfig:
    """What a spec becomes: the ConfigMap's settings, the secret wiring, and every problem."""

    env: dict[str, str]
    secret_env: tuple[SecretEnv, ...]
    problems: tuple[str, ...]
    spec_problems: tuple[str, ...]  # found from the spec alone: what the admission webhook rejects
    missing_secrets: tuple[str, ...]  # referenced Secrets that do not exist
    reasons: tuple[str, ...] = ()  # the platform policy's refusal reasons, e.g. ImageNotAllowed

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


def build_config(
    name: str,
    spec: Mapping[str, Any] | None,
    secret_keys: SecretKeys | None = None,
    allowlist: Allowlist | None = None,
) -> BotConfig:
    """Map and validate a spec.

    With `secret_keys=None` only the spec is judged (the admission webhook): every referenced
    Secret is assumed to hold every key it may hold. With the key names of the referenced
    Secrets (never their values), missing Secrets and keys are problems too. `allowlist` is the
    platform's choice of images and ServiceAccounts (default: the operator's defaults only).
    """
    spec = spec or {}
    allowlist = allowlist or Allowlist()
    refusals = policy_problems(spec, allowlist)
    problems: list[str] = name_problems(name)
    env = dict(OPERATOR_ENV)
    env["BOT_NAME"] = name
    problems += _plain_values(spec, env)
    problems += _special_values(spec, env)
    wiring = secret_wiring(spec, secret_keys)
    problems += wiring.problems
    problems += _spec_rules(spec)
    problems += [refusal.message for refusal in refusals]
    settings_problems = _settings_problems(spec, {**env, **wiring.placeholders})
    problems += [p for p in settings_problems if p not in problems]

    if secret_keys is None:
        spec_only = list(problems)
        missing: list[str] = []
    else:
        spec_only = list(build_config(name, spec, None, allowlist).problems) if problems else []
        missing = [n for n in referenced_secrets(spec) if secret_keys.get(n) is None]
    return BotConfig(
        env=env,
        secret_env=tuple(sorted(wiring.env)),
        problems=tuple(problems),
        spec_problems=tuple(spec_only),
        missing_secrets=tuple(missing),
        reasons=tuple(dict.fromkeys(r.reason for r in refusals if r.reason != INVALID_SPEC)),
    )


_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def name_problems(name: str) -> list[str]:
    """The bot's name becomes its Service's and Deployment's name: a DNS label of 63 characters at most."""
    if len(name) > 63 or not _DNS_LABEL.match(name):
        return [
            f"{NAME_PATH}: {name!r} must be a DNS label (lowercase letters, digits and '-', "
            "starting with a letter, at most 63 characters): it names the bot's Service and Deployment"
        ]
    return []


def validate_spec(name: str, spec: Mapping[str, Any], allowlist: Allowlist | None = None) -> list[str]:
    """Problems found from the spec alone (what the admission webhook rejects)."""
    return list(build_config(name, spec, None, allowlist).problems)


def _plain_values(spec: Mapping[str, Any], env: dict[str, str]) -> list[str]:
    problems = []
    for row, kind in spec_row_kinds():
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


def _special_values(spec: Mapping[str, Any], env: dict[str, str]) -> list[str]:
    problems = []
    paused = get_path(spec, PAUSED.path)
    if paused is not None and not isinstance(paused, bool):
        problems.append(f"spec.{PAUSED.path} ({PAUSED.env}): must be true or false, got {paused!r}")
    env[PAUSED.env] = "0" if paused is True else "1"

    backend = secret_backend(spec)
    if backend not in SECRET_BACKENDS:
        problems.append(
            f"spec.{SECRETS_BACKEND.path} ({SECRETS_BACKEND.env}): must be one of "
            f"{', '.join(SECRET_BACKENDS)}, got {backend!r}"
        )
    elif backend != "kubernetes":
        env[SECRETS_BACKEND.env] = backend
    return problems


_QUANTITY = re.compile(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")


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
        if get_path(spec, DATABASE_URL_REF.path) is not None and (
            journal.get("size") is not None or journal.get("storageClassName") is not None
        ):
            problems.append(
                f"spec.journal ({DATABASE_URL_REF.env}): choose one journal: a volume (size, "
                "storageClassName) for SQLite, or databaseUrlSecretRef for PostgreSQL"
            )
        size = journal.get("size")
        if size is not None and not (isinstance(size, str) and _QUANTITY.fullmatch(size)):
            problems.append(f"spec.journal.size: must be a storage quantity such as 1Gi, got {size!r}")
    if get_path(spec, "monitoring.serviceMonitor") is True and get_path(spec, API_KEY_REF.path) is None:
        problems.append(
            f"spec.monitoring.serviceMonitor ({API_KEY_REF.env}): needs spec.{API_KEY_REF.path}: Prometheus "
            "scrapes the API's /metrics with the API key as bearer token"
        )
    return problems


def _settings_problems(spec: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The bot's own validation of the mapped environment, each line prefixed by its spec path.

    The validation is pure and, but for BOT_NAME, a function of the spec alone. BOT_NAME is free
    text to the bot (its DNS-label rule is `name_problems`'), so one validation serves every bot
    with the same spec: a fleet stamped from one template, a restart's resumes, a retry. That was
    the operator's largest cost per bot (about 2 ms of CPU, measured by bench/bench_operator.py).
    """
    key = json.dumps(
        {"spec": spec, "env": {k: v for k, v in env.items() if k != "BOT_NAME"}}, sort_keys=True, default=str
    )
    return list(_validated(key))


@functools.lru_cache(maxsize=256)
def _validated(key: str) -> tuple[str, ...]:
    data = json.loads(key)
    try:
        Settings.from_mapping({**data["env"], "BOT_NAME": "bot"}, hydrate=False)
    except ConfigError as exc:
        return tuple(f"{location(data['spec'], problem.env)}: {problem.message}" for problem in exc.problems)
    return ()


def location(spec: Mapping[str, Any], env: str) -> str:
    """Where in the spec (or in which Secret) an environment variable's value comes from."""
    special = SPECIAL_BY_ENV.get(env)
    if special is not None:
        return f"spec.{special.path}"
    row = rows_by_env().get(env)
    if row is None:
        return "spec"
    if row.crd:
        return f"spec.{row.crd}"
    if row.secret:
        backend = secret_backend(spec)
        if backend == "vault":
            return f"key {env} of the Vault secret at spec.secrets.vault.path"
        if backend == "aws":
            return f"key {env} of the AWS secret spec.secrets.aws.secretId"
        secret_name = get_path(spec, CREDENTIALS_PATH)
        if isinstance(secret_name, str) and secret_name:
            return f"spec.{CREDENTIALS_PATH} (Secret {secret_name!r} needs key {env})"
        return f"spec.{CREDENTIALS_PATH} (name a Secret holding key {env})"
    return f"operator-managed setting {env}"
