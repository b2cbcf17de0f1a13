"""Settings hydrated from Vault KV v2: real hvac against a loopback server speaking Vault's replies."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from bot.config import ConfigError, Settings
from bot.secrets import BackendParams, SecretBackendError, fetch_secrets
from tests.fixtures.config_problems import other_problems
from tests.fixtures.secret_backends import TOGGLE_SETTINGS, VAULT_TEST_TOKEN, VaultKvServer

VAULT_DOCUMENT = {
    "LIVE_API_KEY": "vault-live-key-4c1e",
    "LIVE_API_SECRET": "vault-live-secret-9a07",
    "ICE_API_KEY": "vault-ice-key-12f3",
    "ICE_API_SECRET": "vault-ice-secret-77b0",
    "FLASH_LOAN_CONTRACT": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "FLASH_LOAN_RECEIVER": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    "LENDER_KEY": "0xb2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5b2e5",
    "API_KEY": "vault-api-key-0b8c",
    "POWERLEDGER_API_TOKEN": "vault-pl-token-66aa",
    "FNALITY_REPO_API_TOKEN": "vault-repo-token-d41f",
    "DATABASE_PASSWORD": "vault-db-password-5e2c",
}


@pytest.fixture(autouse=True)
def _isolated(isolated_config_env: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell and no stray .env reaches these tests."""


@pytest.fixture
def vault_env(vault_kv: VaultKvServer, monkeypatch: pytest.MonkeyPatch) -> VaultKvServer:
    """SECRETS_BACKEND=vault pointed at the stand-in, secret `flash-green` holding VAULT_DOCUMENT."""
    vault_kv.put("flash-green", VAULT_DOCUMENT)
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", vault_kv.addr)
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TEST_TOKEN)
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    return vault_kv


def _secret(settings: Settings, field: str) -> str | None:
    value = getattr(settings, field)
    return None if value is None else value.get_secret_value()


def _config_error(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    return str(excinfo.value)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield port


# -- hydration ---------------------------------------------------------------------------------


def test_config_vault_fills_every_hydrated_field_from_the_secret(vault_env: VaultKvServer) -> None:
    # given a KV v2 secret holding every hydrated name, and none of them in the environment
    # when the settings are built
    settings = Settings()
    # then each field carries the value stored in Vault
    for env, value in VAULT_DOCUMENT.items():
        assert _secret(settings, env.lower()) == value, env


def test_config_vault_request_carries_the_token_header(vault_env: VaultKvServer) -> None:
    # given the Vault stand-in
    # when the settings are built
    Settings()
    # then the read was authenticated with X-Vault-Token
    assert vault_env.tokens_seen() == [VAULT_TEST_TOKEN]


@pytest.mark.parametrize("spelling", ["flash-green", "secret/data/flash-green", "/secret/data/flash-green/"])
def test_config_vault_path_accepts_both_spellings(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    # given VAULT_SECRET_PATH relative to the mount or as the full API path
    monkeypatch.setenv("VAULT_SECRET_PATH", spelling)
    # when the settings are built
    settings = Settings()
    # then the same secret is read
    assert _secret(settings, "live_api_key") == VAULT_DOCUMENT["LIVE_API_KEY"]


@pytest.mark.parametrize("spelling", ["flash-green", "kv/data/flash-green"])
def test_config_vault_reads_from_the_mount_named_by_vault_mount(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    # given a KV v2 engine mounted at kv holding a different secret than the one at secret/
    vault_env.put("flash-green", {"API_KEY": "key-from-kv-mount"}, mount="kv")
    monkeypatch.setenv("VAULT_MOUNT", "kv")
    monkeypatch.setenv("VAULT_SECRET_PATH", spelling)
    # when the settings are built
    settings = Settings()
    # then the secret under the kv mount is the one read
    assert _secret(settings, "api_key") == "key-from-kv-mount"
    assert settings.live_api_key is None


def test_config_environment_value_wins_over_vault_value(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given LIVE_API_KEY both in the environment and in Vault
    monkeypatch.setenv("LIVE_API_KEY", "from-the-environment")
    # when the settings are built
    settings = Settings()
    # then the backend filled only the unset field
    assert _secret(settings, "live_api_key") == "from-the-environment"
    assert _secret(settings, "live_api_secret") == VAULT_DOCUMENT["LIVE_API_SECRET"]


def test_config_vault_fills_only_the_hydrated_names(vault_env: VaultKvServer) -> None:
    # given a secret that also holds non-credential settings
    vault_env.put("flash-green", {"API_KEY": "k-1", "LOAN_LIMIT_GBP": "1", "LIVE_EXCHANGE": "kraken"})
    # when the settings are built
    settings = Settings()
    # then only the credential is taken from Vault
    assert _secret(settings, "api_key") == "k-1"
    assert str(settings.loan_limit_gbp) == "100000"
    assert settings.live_exchange is None


def test_config_vault_key_names_match_whatever_their_case(vault_env: VaultKvServer) -> None:
    # given a secret written with lower-case keys
    vault_env.put("flash-green", {"api_key": "lower-case-key"})
    # when the settings are built
    settings = Settings()
    # then the key still fills API_KEY (environment names are case-insensitive too)
    assert _secret(settings, "api_key") == "lower-case-key"


# -- validation runs after hydration -------------------------------------------------------------


def test_config_toggle_credentials_found_only_in_vault_satisfy_it(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given USE_LIVE_FEED=1 with the exchange and symbol in the environment, key and secret in Vault
    monkeypatch.setenv("USE_LIVE_FEED", "1")
    monkeypatch.setenv("LIVE_EXCHANGE", "binance")
    monkeypatch.setenv("LIVE_SYMBOL", "BTC/USDT")
    # when the settings are built
    settings = Settings()
    # then the hydrated credentials satisfy it
    assert settings.use_live_feed is True
    assert settings.live_api_key is not None and settings.live_api_secret is not None


def test_config_credential_missing_from_vault_is_named_in_the_error(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given USE_ICE_LIVE=1 and a Vault secret lacking ICE_API_SECRET
    vault_env.put("flash-green", {k: v for k, v in VAULT_DOCUMENT.items() if k != "ICE_API_SECRET"})
    monkeypatch.setenv("USE_ICE_LIVE", "1")
    monkeypatch.setenv("ICE_API_URL", TOGGLE_SETTINGS["USE_ICE_LIVE"]["ICE_API_URL"])
    monkeypatch.setenv("ICE_SYMBOL", TOGGLE_SETTINGS["USE_ICE_LIVE"]["ICE_SYMBOL"])
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the one credential problem names the missing credential and the toggle
    problems = other_problems(excinfo.value)
    assert len(problems) == 1
    assert "ICE_API_SECRET" in problems[0]
    assert "USE_ICE_LIVE" in problems[0]


def test_config_vault_settings_missing_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # given SECRETS_BACKEND=vault with only the address
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the token and the path are both asked for
    message = _config_error(excinfo)
    assert "VAULT_TOKEN" in message
    assert "VAULT_SECRET_PATH" in message


# -- failures --------------------------------------------------------------------------------------


def test_config_unreachable_vault_names_backend_and_address_but_not_the_token(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    # given a Vault address where nothing listens
    address = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", address)
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TEST_TOKEN)
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says Vault at that address is unreachable, in one line, without the token
    message = _config_error(excinfo)
    assert f"Vault at {address}" in message
    assert "connection refused" in message
    assert VAULT_TEST_TOKEN not in message
    assert len(excinfo.value.problems) == 1
    assert "\n" not in excinfo.value.messages[0]
    assert "Traceback" not in message


def test_config_vault_404_says_no_secret_at_that_path(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a path where no secret was written
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green-typo")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error names the path, the status and what to check
    message = _config_error(excinfo)
    assert "secret/data/flash-green-typo" in message
    assert "no secret there (HTTP 404)" in message
    assert "VAULT_SECRET_PATH" in message


def test_config_vault_path_in_cli_spelling_gets_a_hint(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the path written the way `vault kv get secret/flash-green` spells it
    monkeypatch.setenv("VAULT_SECRET_PATH", "secret/flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error shows both spellings that work
    assert "use flash-green or secret/data/flash-green" in _config_error(excinfo)


def test_config_vault_unknown_mount_quotes_vaults_reason(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given VAULT_MOUNT naming an engine that is not mounted
    monkeypatch.setenv("VAULT_MOUNT", "kv-missing")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error names the mount and passes on Vault's own explanation
    message = _config_error(excinfo)
    assert "nothing is mounted at VAULT_MOUNT=kv-missing (HTTP 404)" in message
    assert 'Vault says: "no handler for route' in message


def test_config_vault_deleted_latest_version_says_so(vault_env: VaultKvServer) -> None:
    # given a secret whose latest version was soft-deleted
    vault_env.delete_latest("flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error explains the deletion and how to undo it
    message = _config_error(excinfo)
    assert "latest version was deleted" in message
    assert "vault kv undelete -mount=secret flash-green" in message


def test_config_vault_403_for_a_valid_token_points_at_the_policy(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a token Vault knows whose policy only allows another path
    vault_env.add_token("hvs.PolicyLimitedToken000111", {"secret/data/other-bot"})
    monkeypatch.setenv("VAULT_TOKEN", "hvs.PolicyLimitedToken000111")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says permission denied and shows the policy rule to add
    message = _config_error(excinfo)
    assert "permission denied (HTTP 403)" in message
    assert 'path "secret/data/flash-green" { capabilities = ["read"] }' in message
    assert "hvs.PolicyLimitedToken000111" not in message


def test_config_vault_403_for_an_unknown_token_says_the_token_was_rejected(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a token Vault does not know (expired or mistyped)
    monkeypatch.setenv("VAULT_TOKEN", "hvs.ExpiredToken999888777")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says the token was rejected, without quoting it
    message = _config_error(excinfo)
    assert "VAULT_TOKEN was rejected" in message
    assert "hvs.ExpiredToken999888777" not in message


def test_config_vault_malformed_token_is_refused_without_echoing_it(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a token pasted with a line break in the middle
    monkeypatch.setenv("VAULT_TOKEN", "hvs.Pasted\nTokenPart2")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says it is malformed and shows no part of it
    message = _config_error(excinfo)
    assert "VAULT_TOKEN is malformed" in message
    assert "Pasted" not in message
    assert "TokenPart2" not in message
    assert vault_env.tokens_seen() == []


def test_config_vault_value_that_is_not_a_string_is_named_not_shown(vault_env: VaultKvServer) -> None:
    # given a secret whose LENDER_KEY is a nested object
    vault_env.put("flash-green", {"LENDER_KEY": {"private": "0xnested-private-value"}})
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the key is named and its content is not shown
    message = _config_error(excinfo)
    assert "key LENDER_KEY holds a JSON object, expected a string" in message
    assert "0xnested-private-value" not in message


def test_config_vault_reply_without_kv2_shape_points_at_the_engine_version(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server replying with a KV version 1 shape (no data.data)
    httpserver.expect_request("/v1/secret/data/flash-green").respond_with_json(
        {"data": {"LIVE_API_KEY": "v1-shaped"}}
    )
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TEST_TOKEN)
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says this is not a KV v2 secret
    message = _config_error(excinfo)
    assert "not a KV version 2 secret" in message
    assert "v1-shaped" not in message


def test_config_vault_address_of_a_non_vault_server_is_reported(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given VAULT_ADDR pointing at a web server answering HTML
    httpserver.expect_request("/v1/secret/data/flash-green").respond_with_data(
        "<html>welcome</html>", content_type="text/html"
    )
    monkeypatch.setenv("SECRETS_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TEST_TOKEN)
    monkeypatch.setenv("VAULT_SECRET_PATH", "flash-green")
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then the error says the reply is not Vault's API
    assert "not Vault's API: check VAULT_ADDR" in _config_error(excinfo)


def test_config_vault_that_never_answers_times_out_with_a_clear_error() -> None:
    # given a loopback socket that accepts connections but never replies
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        params = BackendParams(
            vault_addr=address,
            vault_token=VAULT_TEST_TOKEN,
            vault_secret_path="flash-green",
            timeout_s=0.3,
        )
        # when the backend is read with a short timeout
        with pytest.raises(SecretBackendError) as excinfo:
            fetch_secrets("vault", params, ["API_KEY"])
    # then the error names Vault, the address and the timeout, and chains nothing
    message = str(excinfo.value)
    assert f"Vault at {address}" in message
    assert "did not answer within 0.3 s" in message
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None


# -- the token stays secret --------------------------------------------------------------------


def test_config_vault_token_never_in_repr_of_settings_or_params(vault_env: VaultKvServer) -> None:
    # given settings hydrated from Vault
    settings = Settings()
    params = BackendParams(vault_addr=vault_env.addr, vault_token=VAULT_TEST_TOKEN, vault_secret_path="x")
    # when they are printed
    shown = [repr(settings), str(settings), repr(params), str(settings.public_view())]
    # then neither the token nor any hydrated value appears
    for text in shown:
        assert VAULT_TEST_TOKEN not in text
        for value in VAULT_DOCUMENT.values():
            assert value not in text


@pytest.mark.parametrize("failure", ["unknown-path", "rejected-token", "invalid-config"])
def test_config_vault_errors_never_contain_token_or_values(
    vault_env: VaultKvServer, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    # given a failing configuration of each kind
    if failure == "unknown-path":
        monkeypatch.setenv("VAULT_SECRET_PATH", "nowhere")
    elif failure == "rejected-token":
        vault_env.tokens.pop(VAULT_TEST_TOKEN)
    else:
        monkeypatch.setenv("LOAN_LIMIT_GBP", "-1")  # hydration succeeds, validation fails
    # when the settings are built
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    # then neither the token nor a hydrated value is in the error
    message = _config_error(excinfo)
    assert VAULT_TEST_TOKEN not in message
    for value in VAULT_DOCUMENT.values():
        assert value not in message
