"""Where settings come from, and which source wins: values passed in > environment > .env >
mounted secret files (SECRETS_DIR) > the secret backend. Built through pydantic-settings' sources,
against a loopback Vault KV v2 stand-in and real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from tests.fixtures.secret_backends import VAULT_TEST_TOKEN, VaultKvServer

SOURCES = ("init", "environment", "dotenv", "secrets_dir", "backend")


@pytest.fixture(autouse=True)
def _isolated(isolated_config_env: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell and no stray .env reaches these tests."""


def _offer_api_key(
    sources: tuple[str, ...], vault: VaultKvServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Put a different API_KEY in each of `sources`; return the values to pass to Settings."""
    vault.put("flash-green", {"API_KEY": "from-backend"} if "backend" in sources else {})
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", vault.addr)
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TEST_TOKEN)
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    monkeypatch.setenv("SECRETS_DIR", str(mounted))
    if "secrets_dir" in sources:
        (mounted / "API_KEY").write_text("from-secrets-dir\n", encoding="utf-8")
    if "dotenv" in sources:
        Path(".env").write_text("API_KEY=from-dotenv\n", encoding="utf-8")
    if "environment" in sources:
        monkeypatch.setenv("API_KEY", "from-environment")
    return {"API_KEY": "from-init"} if "init" in sources else {}


@pytest.mark.parametrize("highest", range(len(SOURCES)), ids=lambda i: SOURCES[i])
def test_config_the_highest_source_holding_a_value_wins(
    vault_kv: VaultKvServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, highest: int
) -> None:
    # given API_KEY offered by this source and every source below it, none above
    offered = SOURCES[highest:]
    given = _offer_api_key(offered, vault_kv, monkeypatch, tmp_path)
    # when the settings are built
    settings = Settings(**given)
    # then the value is the one from the highest source that holds it
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == f"from-{SOURCES[highest].replace('_', '-')}"


def test_config_a_mounted_secret_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given a Kubernetes-style Secret volume: one file per key, named by the env name
    mounted = tmp_path / "secrets"
    mounted.mkdir()
    (mounted / "API_KEY").write_text("mounted-api-key-51ac\n", encoding="utf-8")
    (mounted / "DATABASE_PASSWORD").write_text("mounted-db-password", encoding="utf-8")
    monkeypatch.setenv("SECRETS_DIR", str(mounted))
    # when the settings are built
    settings = Settings()
    # then both are read, without the trailing newline a mounted file often carries
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "mounted-api-key-51ac"
    assert settings.database_password is not None
    assert settings.database_password.get_secret_value() == "mounted-db-password"


def test_config_mounted_secret_file_values_never_in_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a mounted secret and an invalid setting beside it
    mounted = tmp_path / "secrets"
    mounted.mkdir()
    (mounted / "ICE_API_SECRET").write_text("mounted-ice-secret-90fe", encoding="utf-8")
    monkeypatch.setenv("SECRETS_DIR", str(mounted))
    monkeypatch.setenv("LOAN_LIMIT_GBP", "-5")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the invalid setting is named and the secret appears nowhere
    assert any(p.env == "LOAN_LIMIT_GBP" for p in excinfo.value.problems)
    assert "mounted-ice-secret-90fe" not in str(excinfo.value)


def test_config_problems_are_records_naming_the_variable_and_its_issuer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the Vault backend chosen without its address or token
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then each problem carries the variable and who issues it, as fields to read, not text to parse
    records = {(p.env, p.issuer) for p in excinfo.value.problems}
    assert records == {("VAULT_ADDR", "infra"), ("VAULT_TOKEN", "infra")}
