"""Settings hydrated from AWS Secrets Manager: real boto3 against moto in server mode on loopback."""

from __future__ import annotations

import json
import socket

import pytest

from bot.config import ConfigError, Settings
from bot.secrets import BackendParams, SecretBackendError, fetch_secrets
from tests.fixtures.secret_backends import AWS_TEST_REGION, TOGGLE_SETTINGS, AwsSecretsStandIn

SECRET_NAME = "flash-green/staging"
AWS_DOCUMENT = {
    "LIVE_API_KEY": "aws-live-key-5d20",
    "LIVE_API_SECRET": "aws-live-secret-8e1b",
    "ICE_API_KEY": "aws-ice-key-c3a9",
    "ICE_API_SECRET": "aws-ice-secret-01fd",
    "FLASH_LOAN_CONTRACT": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "FLASH_LOAN_RECEIVER": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    "LENDER_KEY": "0xa1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4",
    "API_KEY": "aws-api-key-4b6e",
    "POWERLEDGER_API_TOKEN": "aws-pl-token-9f90",
    "FNALITY_REPO_API_TOKEN": "aws-repo-token-2a5c",
    "DATABASE_PASSWORD": "aws-db-password-e6d1",
}


@pytest.fixture(autouse=True)
def _isolated(isolated_config_env: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell and no stray .env reaches these tests."""


@pytest.fixture
def aws_env(aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch) -> AwsSecretsStandIn:
    """SECRETS_BACKEND=aws naming a secret that holds AWS_DOCUMENT."""
    aws_secrets.put_json(SECRET_NAME, AWS_DOCUMENT)
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", SECRET_NAME)
    return aws_secrets


def _secret(settings: Settings, field: str) -> str | None:
    value = getattr(settings, field)
    return None if value is None else value.get_secret_value()


def _build_error() -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    return excinfo.value


# -- hydration ---------------------------------------------------------------------------------


def test_config_aws_fills_every_hydrated_field_from_the_secret(aws_env: AwsSecretsStandIn) -> None:
    # given a JSON secret holding every hydrated name, and none of them in the environment
    # when the settings are built
    settings = Settings()
    # then each field carries the value stored in Secrets Manager
    for env, value in AWS_DOCUMENT.items():
        assert _secret(settings, env.lower()) == value, env


def test_config_aws_secret_can_be_named_by_arn(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the secret referred to by its full ARN
    arn = aws_secrets.put_json("flash-green/by-arn", {"API_KEY": "key-by-arn"})
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", arn)
    # when the settings are built
    settings = Settings()
    # then the secret is read
    assert _secret(settings, "api_key") == "key-by-arn"


def test_config_environment_value_wins_over_aws_value(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given API_KEY both in the environment and in the secret
    monkeypatch.setenv("API_KEY", "from-the-environment")
    # when the settings are built
    settings = Settings()
    # then the backend filled only the unset fields
    assert _secret(settings, "api_key") == "from-the-environment"
    assert _secret(settings, "lender_key") == AWS_DOCUMENT["LENDER_KEY"]


def test_config_toggle_credentials_found_only_in_aws_satisfy_it(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given USE_WEB3_LOAN=1 with only the RPC endpoint and the chain id in the environment
    monkeypatch.setenv("USE_WEB3_LOAN", "1")
    monkeypatch.setenv("HARDHAT_RPC", TOGGLE_SETTINGS["USE_WEB3_LOAN"]["HARDHAT_RPC"])
    monkeypatch.setenv("CHAIN_ID", TOGGLE_SETTINGS["USE_WEB3_LOAN"]["CHAIN_ID"])
    # when the settings are built
    settings = Settings()
    # then the contract addresses and the key came from the secret
    assert _secret(settings, "flash_loan_contract") == AWS_DOCUMENT["FLASH_LOAN_CONTRACT"]
    assert _secret(settings, "lender_key") == AWS_DOCUMENT["LENDER_KEY"]


def test_config_aws_numbers_keep_their_exact_digits(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a secret whose password was stored as a JSON number with a trailing zero
    aws_secrets.put_string("flash-green/numbers", '{"DATABASE_PASSWORD": 31415926535897932384.10}')
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", "flash-green/numbers")
    # when the settings are built
    settings = Settings()
    # then the digits are exactly those written (never rounded through a float)
    assert _secret(settings, "database_password") == "31415926535897932384.10"


# -- failures --------------------------------------------------------------------------------------


def test_config_aws_missing_secret_names_the_id_region_and_endpoint(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given AWS_SECRETS_ID naming a secret that does not exist
    monkeypatch.setenv("AWS_SECRETS_ID", "flash-green/typo")
    # when the settings are built
    error = _build_error()
    # then the one problem says what was looked for, where, and what to check
    assert len(error.problems) == 1
    problem = error.messages[0]
    assert "AWS Secrets Manager in eu-west-2" in problem
    assert f"endpoint {aws_env.endpoint}" in problem
    assert "'flash-green/typo'" in problem
    assert "no such secret (ResourceNotFoundException)" in problem
    assert "AWS_SECRETS_ID" in problem


def test_config_aws_secret_that_is_not_json_is_reported_without_its_text(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a SecretString holding KEY=value lines instead of JSON
    aws_secrets.put_string(SECRET_NAME, "LIVE_API_KEY=plain-text-key-0aa1\nLIVE_API_SECRET=plain-text-secret")
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", SECRET_NAME)
    # when the settings are built
    error = _build_error()
    # then the error says it is not JSON, where it failed, the expected shape, and no value
    message = str(error)
    assert "the secret is not valid JSON (Expecting value at line 1 column 1)" in message
    assert "store a JSON object whose keys are the variable names" in message
    assert "plain-text-key-0aa1" not in message
    assert "plain-text-secret" not in message


def test_config_aws_secret_that_is_a_json_array_is_refused(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a SecretString holding a JSON array
    aws_secrets.put_string(SECRET_NAME, json.dumps(["array-item-secret-55"]))
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", SECRET_NAME)
    # when the settings are built
    error = _build_error()
    # then the error asks for an object
    assert "the secret is a JSON array, expected an object" in str(error)
    assert "array-item-secret-55" not in str(error)


def test_config_aws_binary_secret_is_refused(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a secret stored as SecretBinary
    aws_secrets.put_binary(SECRET_NAME, b'{"API_KEY": "binary-held-key"}')
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", aws_secrets.region)
    monkeypatch.setenv("AWS_SECRETS_ID", SECRET_NAME)
    # when the settings are built
    error = _build_error()
    # then the error says a SecretString is expected
    assert "the secret is binary (SecretBinary), not a SecretString" in str(error)
    assert "binary-held-key" not in str(error)


def test_config_aws_access_denied_says_which_permission_to_grant(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an IAM identity whose policy allows nothing, with IAM enforced
    keys = aws_env.identity_without_read()
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    # when the settings are built
    error = _build_error()
    # then the error says access was denied and names the permission, never the secret key
    message = str(error)
    assert "access denied (HTTP 403)" in message
    assert "secretsmanager:GetSecretValue on the secret" in message
    assert keys["AWS_SECRET_ACCESS_KEY"] not in message


def test_config_aws_rejected_credentials_are_reported(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given IAM enforced and an access key AWS does not know
    aws_env.enforce_iam()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unknown-secret-access-key-value")
    # when the settings are built
    error = _build_error()
    # then the error says access was denied and gives the causes to check, without the secret key
    message = str(error)
    assert "access denied (HTTP 403): the credentials were rejected" in message
    assert "unknown-secret-access-key-value" not in message
    assert "AKIAUNKNOWNKEY000000" not in message


def test_config_aws_without_credentials_explains_the_chain(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given no credential anywhere in boto3's chain
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # when the settings are built
    error = _build_error()
    # then the error says none were found and where they may come from
    message = str(error)
    assert "no AWS credentials found" in message
    assert "AWS_PROFILE" in message


def test_config_aws_unreachable_endpoint_names_backend_and_address(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given AWS_ENDPOINT_URL_SECRETS_MANAGER pointing at a closed loopback port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", closed)
    # when the settings are built
    error = _build_error()
    # then the error says the endpoint is unreachable
    message = str(error)
    assert f"endpoint {closed}" in message
    assert "is unreachable (connection refused)" in message


def test_config_aws_settings_missing_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # given SECRETS_BACKEND=aws with neither region nor secret id
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    # when the settings are built
    error = _build_error()
    # then both are asked for
    assert "AWS_SECRETS_REGION" in str(error)
    assert "AWS_SECRETS_ID" in str(error)


def test_config_aws_backend_called_without_region_says_so() -> None:
    # given parameters lacking the region (a caller bypassing Settings)
    params = BackendParams(
        vault_addr=None, vault_token=None, vault_secret_path=None, aws_secret_id=SECRET_NAME
    )
    # when the backend is read
    with pytest.raises(SecretBackendError) as excinfo:
        fetch_secrets("aws", params, ["API_KEY"])
    # then the error names the missing setting
    assert "AWS_SECRETS_REGION is not set" in str(excinfo.value)


def test_config_aws_invalid_region_is_reported(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a region name that cannot form an endpoint
    monkeypatch.setenv("AWS_SECRETS_REGION", "eu west 2")
    # when the settings are built
    error = _build_error()
    # then the error names the region setting
    assert "AWS_SECRETS_REGION='eu west 2' is not a usable region" in str(error)


# -- values stay secret -------------------------------------------------------------------------


def test_config_aws_values_never_in_repr(aws_env: AwsSecretsStandIn) -> None:
    # given settings hydrated from Secrets Manager
    settings = Settings()
    # when they are printed
    shown = [repr(settings), str(settings), str(settings.public_view())]
    # then no hydrated value appears
    for text in shown:
        for value in AWS_DOCUMENT.values():
            assert value not in text


def test_config_aws_values_never_in_validation_errors(
    aws_env: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given hydration that succeeds and a configuration that is otherwise invalid
    monkeypatch.setenv("TRADING_WINDOW_UTC", "25:00-06:00")
    monkeypatch.setenv("USE_POWERLEDGER_LIVE", "1")
    # when the settings are built
    error = _build_error()
    # then the problems are reported and no hydrated value is in them
    assert "TRADING_WINDOW_UTC" in str(error)
    assert "POWERLEDGER_API_URL" in str(error)
    for value in AWS_DOCUMENT.values():
        assert value not in str(error)


def test_config_aws_region_is_shown_in_errors(
    aws_secrets: AwsSecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a secret created in eu-west-2 but looked up in us-east-1
    aws_secrets.put_json(SECRET_NAME, AWS_DOCUMENT)
    monkeypatch.setenv("SECRETS_BACKEND", "aws")
    monkeypatch.setenv("AWS_SECRETS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SECRETS_ID", SECRET_NAME)
    # when the settings are built
    error = _build_error()
    # then the error names the region searched, reminding that a secret lives in one region
    assert AWS_TEST_REGION != "us-east-1"
    assert "AWS Secrets Manager in us-east-1" in str(error)
    assert "a secret lives in one region" in str(error)
