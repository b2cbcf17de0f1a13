"""`flash-green` on Click: every subcommand's help, usage errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli, main
from bot.cli.kubectl import plugin

SUBCOMMANDS = ("run", "orchestrator", "api", "preflight", "migrate", "settings", "status")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_and_exits_zero(runner: CliRunner, command: str) -> None:
    # when its help is asked for
    result = runner.invoke(cli, [command, "--help"], prog_name="flash-green")
    # then it prints its usage under the group's name
    assert result.exit_code == 0, result.output
    assert f"Usage: flash-green {command}" in result.output


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_an_unknown_flag_is_a_usage_error(runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli, [command, "--no-such-flag"], prog_name="flash-green")
    assert result.exit_code == 2
    assert "No such option '--no-such-flag'" in result.output


def test_the_group_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"], prog_name="flash-green")
    assert result.exit_code == 0
    for command in (*SUBCOMMANDS, "operator"):
        assert command in result.output


def test_no_command_is_a_usage_error() -> None:
    # as with argparse before it: a command is required, exit 2
    assert main([]) == 2


def test_an_unknown_command_is_a_usage_error() -> None:
    assert main(["trade-harder"]) == 2


def test_operator_passes_its_flags_to_kopf(runner: CliRunner) -> None:
    # given `--help` after `operator`: it is kopf's, not ours
    result = runner.invoke(cli, ["operator", "--help"], prog_name="flash-green")
    assert result.exit_code == 0
    assert "--peering" in result.output and "--standalone" in result.output


def test_settings_prints_the_markdown_table(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["settings", "--markdown"])
    assert result.exit_code == 0
    assert result.output.startswith("# Configuration")


def test_invalid_settings_exit_two_naming_the_variable(runner: CliRunner, tmp_path: Path) -> None:
    # given an env file with a bad trading window
    env = tmp_path / "bad.env"
    env.write_text(f"TRADING_WINDOW_UTC=25:00-06:00\nDATA_DIR={tmp_path}\n")
    # when migrate reads it
    result = runner.invoke(cli, ["migrate", "--env-file", str(env)], env={"TRADING_WINDOW_UTC": None})
    # then it stops with the variable named, exit 2
    assert result.exit_code == 2
    assert "TRADING_WINDOW_UTC" in result.output


def test_migrate_reports_the_revision_reached(runner: CliRunner, tmp_path: Path) -> None:
    env = tmp_path / "ok.env"
    env.write_text(f"DATA_DIR={tmp_path}\n")
    result = runner.invoke(cli, ["migrate", "--env-file", str(env)], env={"DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    assert "is at" in result.output


def test_status_with_a_bad_output_format_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["status", "-o", "xml"])
    assert result.exit_code == 2
    assert "'xml' is not one of" in result.output


def test_the_kubectl_plugin_has_help(runner: CliRunner) -> None:
    result = runner.invoke(plugin, ["status", "--help"], prog_name="kubectl flash-green")
    assert result.exit_code == 0
    assert "Usage: kubectl flash-green status [OPTIONS] [NAME]" in result.output


@pytest.mark.parametrize(
    "args",
    [["status", "-n", "a", "-A"], ["status", "bot", "-A"], ["status", "-o", "wide"], ["nope"]],
    ids=["namespace-and-all", "name-and-all", "bad-format", "unknown-command"],
)
def test_the_kubectl_plugin_refuses_bad_usage_with_two(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(plugin, args).exit_code == 2


def test_the_kubectl_plugin_without_a_kubeconfig_exits_three(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        plugin, ["status", "--kubeconfig", str(tmp_path / "none")], env={"KUBERNETES_SERVICE_HOST": None}
    )
    assert result.exit_code == 3
    assert "kubeconfig" in result.output
