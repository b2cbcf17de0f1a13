"""The API's pure rules: redaction, client addresses, token roles, overrides, test-run arguments, capping."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.config.overrides import override_problems
from bot.redaction import SecretMask
from bot.web.audit import flatten, redact
from bot.web.auth import client_address, is_https, key_fingerprint, parse_networks
from bot.web.oidc import token_roles
from bot.web.overrides import child_environment, validate_overrides
from bot.web.suite_runner import CappedOutput, suite_arguments


def _conn(peer: str, headers: dict[str, str] | None = None, scheme: str = "http") -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return HTTPConnection({"type": "http", "client": (peer, 50000), "headers": raw, "scheme": scheme})


def test_audit_parameters_mask_secret_names_and_secret_values() -> None:
    # given a body naming a secret setting and quoting a secret value elsewhere
    params = flatten({"overrides": {"ICE_API_SECRET": "s3cr3t-value", "LOG_LEVEL": "token s3cr3t-value"}})
    # when redacted
    out = redact(params, SecretMask(["s3cr3t-value"], names=["ICE_API_SECRET"]))
    # then neither the named secret nor the quoted value survives
    assert out == {"overrides.ICE_API_SECRET": "***", "overrides.LOG_LEVEL": "token ***"}


def test_audit_parameters_mask_names_that_look_secret_even_when_unknown() -> None:
    out = redact({"overrides.MY_PRIVATE_TOKEN": "abc", "k": "config"}, SecretMask([]))
    assert out == {"overrides.MY_PRIVATE_TOKEN": "***", "k": "config"}


def test_key_fingerprint_is_short_and_never_the_key() -> None:
    fingerprint = key_fingerprint("the-api-key")
    assert len(fingerprint) == 12 and "the-api-key" not in fingerprint


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    conn = _conn("203.0.113.9", {"X-Forwarded-For": "10.9.9.9"})
    assert client_address(conn, parse_networks(["10.0.0.0/8"])) == "203.0.113.9"


def test_forwarded_for_from_a_trusted_proxy_names_the_nearest_untrusted_hop() -> None:
    conn = _conn("10.0.0.5", {"X-Forwarded-For": "198.51.100.7, 10.0.0.4"})
    assert client_address(conn, parse_networks(["10.0.0.0/8"])) == "198.51.100.7"


def test_forwarded_proto_counts_only_from_a_trusted_proxy() -> None:
    trusted = parse_networks(["10.0.0.0/8"])
    assert is_https(_conn("10.0.0.5", {"X-Forwarded-Proto": "https"}), trusted)
    assert not is_https(_conn("192.0.2.1", {"X-Forwarded-Proto": "https"}), trusted)
    assert is_https(_conn("192.0.2.1", scheme="https"), trusted)


def test_token_roles_come_from_roles_scope_and_realm_access() -> None:
    claims = {"roles": ["a"], "scope": "b c", "realm_access": {"roles": ["d"]}}
    assert token_roles(claims) == frozenset({"a", "b", "c", "d"})


def test_overrides_name_every_unknown_secret_or_protected_key() -> None:
    running = Settings.from_mapping({})
    overrides = {"NOPE": "1", "ICE_API_KEY": "x", "DATA_DIR": "/tmp", "LOG_LEVEL": "DEBUG"}
    problems = [p.message for p in override_problems(running, overrides)]
    assert len(problems) == 3
    assert any(p.startswith("NOPE ") for p in problems)
    assert any(p.startswith("ICE_API_KEY is a secret") for p in problems)
    assert any(p.startswith("DATA_DIR cannot be overridden") for p in problems)


def test_overrides_are_validated_by_the_bots_own_rules(tmp_path) -> None:
    settings = Settings.from_mapping({"DATA_DIR": str(tmp_path)})
    effective, problems = validate_overrides(settings, {"TRADING_WINDOW_UTC": "25:00-26:00"})
    assert effective is None
    assert problems and problems[0].startswith("TRADING_WINDOW_UTC")


def test_the_loop_environment_carries_the_api_settings_then_the_overrides(tmp_path) -> None:
    settings = Settings.from_mapping({"DATA_DIR": str(tmp_path), "CYCLE_INTERVAL_SECS": "2"})
    env = child_environment(
        settings, {"CYCLE_INTERVAL_SECS": "0.5"}, {"LIVE_SYMBOL": "stale", "PATH": "/bin"}
    )
    assert env["CYCLE_INTERVAL_SECS"] == "0.5"
    assert env["DATA_DIR"] == str(tmp_path)
    assert env["ALLOW_WEEKEND_TRADING"] == "0"
    assert "LIVE_SYMBOL" not in env  # unset in the API's settings: nothing stale leaks in
    assert env["PATH"] == "/bin"


def test_test_run_arguments_refuse_flags_outside_the_allowlist() -> None:
    args, problems = suite_arguments("config", None, ["-q", "--maxfail=2", "-p", "--rootdir=/"])
    assert args == ["-q", "--maxfail=2", "-k", "config"]
    assert len(problems) == 2


def test_test_run_expressions_cannot_smuggle_an_option() -> None:
    _, problems = suite_arguments("--help", None, [])
    assert problems


def test_capped_output_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    output = CappedOutput(cap=400)
    output.feed(b"HEAD" + b"x" * 1000 + b"TAIL")
    text = output.text()
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert f"[... {output.cut} bytes of output cut ...]" in text
    assert output.cut == 1008 - 400
