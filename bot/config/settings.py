"""The bot's whole configuration surface: one `Settings` class.

Constructing `Settings` reads its sources through pydantic-settings, highest priority first:
values passed in, the process environment, the `.env` file (or the file passed in), mounted secret
files in `SECRETS_DIR`, then the secret backend (Vault KV v2 or AWS Secrets Manager). It then
validates, and every problem found is reported at once in one `ConfigError` whose records name each
variable by its environment name; secret values never appear in `repr`, in errors or in logs.

The fields and their metadata (`secret`, `crd` path, `issuer`, `override` rule) are declared in
`bot.config.declared`; the operator, the docs, the API and the tests read them as `catalog()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.config.declared import SettingFields
from bot.config.problems import ConfigError, ConfigProblem
from bot.config.rules import BACKEND_PROBLEMS, cross_field_problems, field_problems
from bot.config.sources import MountedSecretsSource, SecretBackendSource, SourcePlan
from bot.config.toggles import TOGGLES
from bot.domain.window import TradingWindow, parse_window

# Which sources one construction reads: `Settings.from_mapping` narrows it to the values given.
_PLAN: ContextVar[SourcePlan | None] = ContextVar("settings_source_plan", default=None)
_EVERY_SOURCE = SourcePlan()


class Settings(SettingFields):
    """Every setting the bot reads, loaded from its sources and validated as a whole."""

    def __init__(self, _env_file: str | Path | None = ".env", **values: Any) -> None:
        """Read the sources, validate; raise `ConfigError` naming every problem."""
        if _env_file is not None and str(_env_file) != ".env" and not Path(_env_file).is_file():
            raise ConfigError([ConfigProblem("", f"env file {_env_file} not found: check the path")])
        given = {k.lower(): v for k, v in values.items()}
        try:
            # BaseSettings.__init__ takes _env_file; the pydantic mypy plugin's synthesised
            # signature lists the fields only.
            super().__init__(_env_file=_env_file, **given)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise _config_error(exc) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit values win, then the environment, the .env file, mounted secret files, the backend.
        plan = _PLAN.get() or _EVERY_SOURCE
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if plan.environment:
            sources += [env_settings, dotenv_settings, MountedSecretsSource(settings_cls)]
        if plan.backend:
            sources.append(SecretBackendSource(settings_cls))
        return tuple(sources)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], *, hydrate: bool = False) -> Settings:
        """Validate an explicit env mapping only (no process environment, no .env file).

        The operator uses this to validate an ArbitrageBot spec with the bot's own rules.
        With `hydrate=False` the secret backend is not contacted.
        """
        token = _PLAN.set(SourcePlan(environment=False, backend=hydrate))
        try:
            return cls(None, **dict(env))
        finally:
            _PLAN.reset(token)

    # -- one place for the rules between settings -----------------------------------------
    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Field errors and cross-field rules (toggles, backends, placeholders, URLs, limits) together.

        A wrap validator rather than an `after` one: `after` never runs when a field is malformed,
        and a user fixing a bad window must learn in the same run that a credential is missing.
        The rules read the merged raw values, so they give the same answer either way.
        """
        raw = dict(data) if isinstance(data, Mapping) else {}
        backend = list(raw.pop(BACKEND_PROBLEMS, []))
        rules = cross_field_problems(raw)
        try:
            settings = handler(raw)
        except ValidationError as exc:
            problems = backend + field_problems(exc)
            raise ConfigError(problems + [p for p in rules if p not in problems]) from None
        if backend or rules:
            raise ConfigError(backend + rules)
        return settings

    # -- derived -----------------------------------------------------------------------
    @property
    def trading_window(self) -> TradingWindow:
        return parse_window(self.trading_window_utc)

    @property
    def journal_url(self) -> str:
        """The journal's SQLAlchemy URL, with DATABASE_PASSWORD filled in (never log this)."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'journal.db').as_posix()}"
        url = self.database_url
        if self.database_password is not None:
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            if parsed.password is None and parsed.username:
                url = parsed.set(password=self.database_password.get_secret_value()).render_as_string(
                    hide_password=False
                )
        return url

    @property
    def journal_url_redacted(self) -> str:
        """The journal URL safe to print: any password, in the userinfo or the query, replaced by ***."""
        from bot.redaction import redact_url

        return redact_url(self.journal_url)

    @property
    def live_toggles(self) -> list[str]:
        """The env names of the toggles that are on."""
        return [t.env for t in TOGGLES if getattr(self, t.field)]

    @property
    def simulated(self) -> bool:
        """True when no live adapter is enabled."""
        return not self.live_toggles

    def public_view(self) -> dict[str, Any]:
        """Effective settings by env name with every secret replaced by whether it is set."""
        from bot.config.catalog import catalog
        from bot.redaction import redact_url

        view: dict[str, Any] = {}
        for info in catalog():
            value = getattr(self, info.field)
            if info.secret:
                view[info.env] = "<set>" if value is not None else None
            elif info.env == "DATABASE_URL":
                view[info.env] = self.journal_url_redacted
            elif isinstance(value, str) and "://" in value:
                view[info.env] = redact_url(value)
            elif isinstance(value, Decimal | Path):
                view[info.env] = str(value)
            else:
                view[info.env] = value
        return view

    def secret_values(self) -> list[str]:
        """Every secret value that is set (for redaction filters); never log this list."""
        from bot.config.catalog import catalog

        out = []
        for info in catalog():
            if info.secret:
                value = getattr(self, info.field)
                if value is not None and value.get_secret_value():
                    out.append(value.get_secret_value())
        return out


def _config_error(exc: ValidationError) -> ConfigError:
    """The `ConfigError` raised inside validation (pydantic wraps it), or one built from field errors."""
    for err in exc.errors(include_url=False):
        found = (err.get("ctx") or {}).get("error")
        if isinstance(found, ConfigError):
            return found
    return ConfigError(field_problems(exc))
