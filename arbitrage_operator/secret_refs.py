"""Which of a bot's settings come from Kubernetes Secrets, and what is wrong with the references.

Secret values are never read: the pod receives them by `secretKeyRef`. The judgement needs only
the key names of the referenced Secrets, passed in (`SecretKeys`); without them (the admission
webhook) every referenced Secret is assumed to hold every key it may hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arbitrage_operator.policy import is_object_name
from arbitrage_operator.spec_fields import (
    CREDENTIALS_PATH,
    SECRET_REFS,
    SECRETS_BACKEND,
    VAULT_TOKEN_REF,
    SpecialField,
    get_path,
    hydrated_secret_envs,
)
from bot.config.problems import BY_REFERENCE

SecretKeys = Mapping[str, frozenset[str] | None]
"""Secret name -> its key names, or None when the Secret does not exist."""


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


@dataclass
class SecretWiring:
    """Which env names come from which Secret key, placeholders for validation, and problems."""

    env: list[SecretEnv] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)


def secret_backend(spec: Mapping[str, Any]) -> str:
    """`kubernetes` (the default), `vault` or `aws`; an unknown value is returned as written."""
    backend = get_path(spec, SECRETS_BACKEND.path)
    return str(backend) if backend is not None else "kubernetes"


def referenced_secrets(spec: Mapping[str, Any]) -> list[str]:
    """Names of every Secret the spec references (to be checked for their keys)."""
    names: list[Any] = []
    secret_name = get_path(spec, CREDENTIALS_PATH)
    if secret_backend(spec) == "kubernetes":
        names.append(secret_name)
    for ref in SECRET_REFS:
        value = get_path(spec, ref.path)
        if isinstance(value, Mapping):
            names.append(value.get("name"))
    # Only valid object names are ever looked up: a name such as "../../kube-system/secrets/x"
    # would otherwise tell the bot's author what exists in other namespaces.
    return sorted({n for n in names if is_object_name(n)})


def _ref(spec: Mapping[str, Any], field_: SpecialField, problems: list[str]) -> SecretRef | None:
    value = get_path(spec, field_.path)
    if value is None:
        return None
    path, env = field_.path, field_.env
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or not value.get("name"):
        problems.append(
            f"spec.{path} ({env}): must be an object {{name, key}} naming a Secret in this namespace"
        )
        return None
    if not is_object_name(value["name"]):
        return None  # arbitrage_operator.policy reports it; never looked up, never wired
    key = value.get("key", field_.default_key)
    if not isinstance(key, str) or not key:
        problems.append(f"spec.{path}.key ({env}): must be a non-empty key name")
        return None
    return SecretRef(value["name"], key, path)


def secret_wiring(spec: Mapping[str, Any], secret_keys: SecretKeys | None) -> SecretWiring:
    """Wire every credential the spec references or its Secret holds; report what is missing."""
    wiring = SecretWiring()
    backend = secret_backend(spec)
    own_refs = {ref.env: _ref(spec, ref, wiring.problems) for ref in SECRET_REFS}
    for env, ref in own_refs.items():
        if ref is None:
            continue
        wiring.env.append(SecretEnv(env, ref.name, ref.key, optional=False, path=f"spec.{ref.path}"))
        keys = None if secret_keys is None else secret_keys.get(ref.name)
        if secret_keys is None or (keys is not None and ref.key in keys):
            wiring.placeholders[env] = BY_REFERENCE
        elif keys is None:
            wiring.problems.append(
                f"spec.{ref.path} ({env}): Secret {ref.name!r} not found in this namespace: create it"
            )
        else:
            wiring.problems.append(
                f"spec.{ref.path} ({env}): Secret {ref.name!r} has no key {ref.key!r}: add it (kubectl "
                f"create secret generic {ref.name} --from-literal={ref.key}=...)"
            )
    if own_refs[VAULT_TOKEN_REF.env] is not None and backend != "vault":
        wiring.problems.append(
            f"spec.{VAULT_TOKEN_REF.path} ({VAULT_TOKEN_REF.env}): only used when "
            f"spec.{SECRETS_BACKEND.path} is vault"
        )

    if backend in ("vault", "aws"):
        # The pod fetches these from the backend at start; its preflight reports any missing one.
        for env in hydrated_secret_envs():
            wiring.placeholders.setdefault(env, BY_REFERENCE)
        return wiring

    secret_name = get_path(spec, CREDENTIALS_PATH)
    if secret_name is None:
        return wiring
    if not isinstance(secret_name, str) or not secret_name:
        wiring.problems.append(f"spec.{CREDENTIALS_PATH}: must be the name of a Secret in this namespace")
        return wiring
    if not is_object_name(secret_name):
        return wiring  # arbitrage_operator.policy reports it; never looked up, never wired
    keys = None if secret_keys is None else secret_keys.get(secret_name)
    if secret_keys is not None and keys is None:
        wiring.problems.append(
            f"spec.{CREDENTIALS_PATH}: Secret {secret_name!r} not found in this "
            "namespace: create it with one key per credential, named like the environment variable (e.g. "
            "ICE_API_KEY)"
        )
    for env in hydrated_secret_envs():
        if own_refs.get(env) is not None:
            continue  # its own reference wins
        if secret_keys is None or (keys is not None and env in keys):
            wiring.env.append(
                SecretEnv(env, secret_name, env, optional=False, path=f"spec.{CREDENTIALS_PATH}")
            )
            wiring.placeholders[env] = BY_REFERENCE
    return wiring
