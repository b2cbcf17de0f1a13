"""The two sources pydantic-settings does not ship in the shape we need.

- `MountedSecretsSource`: files in `SECRETS_DIR` (a Kubernetes Secret volume, one file per key).
  The directory is itself a setting, so it is known only once the higher sources have been read;
  the reading is pydantic-settings' own `SecretsSettingsSource`.
- `SecretBackendSource`: Vault KV v2 or AWS Secrets Manager, through `bot.secrets`. pydantic-settings
  2.16 has an AWS source, but it maps every key of the secret onto fields and raises the library's
  errors; ours reads only the hydrated fields and turns each failure into one actionable line that
  names the backend and its address and never the token. Both backends share that code.

Both read what the higher-priority sources gave (`current_state`) and fill only what is unset there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource, SecretsSettingsSource

from bot.config.problems import ConfigProblem
from bot.config.rules import BACKEND_PROBLEMS, backend_requirement_problems


@dataclass(frozen=True)
class SourcePlan:
    """Which sources one construction reads besides the values passed in."""

    environment: bool = True  # process environment, .env, SECRETS_DIR
    backend: bool = True  # the secret backend named by SECRETS_BACKEND


class _StateSource(PydanticBaseSettingsSource):
    """A source computed as a whole from the state the higher sources produced."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole mapping

    def _state(self, name: str) -> str | None:
        value = self.current_state.get(name)
        if value is None:
            return None
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
        return text.strip() or None


class MountedSecretsSource(_StateSource):
    """Files in `SECRETS_DIR`, one per setting, named by its env name (any case)."""

    def __call__(self) -> dict[str, Any]:
        directory = self._state("secrets_dir")
        if directory is None:
            return {}
        files = SecretsSettingsSource(self.settings_cls, secrets_dir=directory, case_sensitive=False)
        return {name: value.strip() if isinstance(value, str) else value for name, value in files().items()}


class SecretBackendSource(_StateSource):
    """The hydrated fields the configured secret backend holds and no higher source set."""

    def __call__(self) -> dict[str, Any]:
        from bot.config.catalog import hydrated_env_names
        from bot.config.rules import present

        backend = (self._state("secrets_backend") or "").lower()
        if backend in ("", "none") or backend_requirement_problems(self.current_state):
            return {}  # no backend, an unknown one, or missing settings: validation reports those
        from bot.secrets import BackendParams, SecretBackendError, fetch_secrets

        params = BackendParams(
            vault_addr=self._state("vault_addr"),
            vault_token=self._state("vault_token"),
            vault_secret_path=self._state("vault_secret_path"),
            vault_mount=self._state("vault_mount") or "secret",
            aws_region=self._state("aws_secrets_region"),
            aws_secret_id=self._state("aws_secrets_id"),
        )
        wanted = hydrated_env_names()
        try:
            fetched = fetch_secrets(backend, params, wanted)
        except SecretBackendError as exc:
            return {BACKEND_PROBLEMS: [ConfigProblem("SECRETS_BACKEND", str(exc))]}
        return {
            env.lower(): value
            for env, value in fetched.items()
            if env in wanted and value not in (None, "") and not present(self.current_state, env)
        }
