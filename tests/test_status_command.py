"""`flash-green status` against a real API on loopback, its journal holding trades."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from tests.fixtures.api_server import API_KEY, RunningApi, free_port, journal_trades
from tests.fixtures.bot_env import clean_env

TRADES = 3


@pytest.fixture
def bot(api_server: Callable[..., RunningApi]) -> RunningApi:
    """A simulated bot's API (no orchestrator) whose journal holds TRADES trades from today."""
    running: RunningApi = api_server(API_KEY=API_KEY)
    journal_trades(running.settings, TRADES)
    return running


def status(*args: str, key: str | None = API_KEY) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", *args], env={"API_KEY": key})
    return result.exit_code, result.output


def test_the_table_shows_mode_pnl_trades_venues_journal_and_version(bot: RunningApi) -> None:
    # when the status of a ready bot is asked for
    code, out = status("--url", bot.base_url)
    # then it is one table with what a desk reads first, and the exit code says ready
    assert code == 0, out
    for label in ("mode", "trading", "PnL today", "trades today", "last trade", "journal", "version"):
        assert label in out
    assert "SIMULATED" in out
    assert "venue sim-power (power)" in out and "up, breaker" in out
    assert "orchestrator stopped" in out  # why it is not trading: no loop runs beside this API
    assert API_KEY not in out


def test_json_reads_back_with_todays_pnl_and_the_last_trade(bot: RunningApi) -> None:
    code, out = status("--url", bot.base_url, "-o", "json")
    record = json.loads(out)
    assert code == 0
    assert record["ready"] is True and record["mode"] == "simulated"
    assert record["trades_today"] == TRADES
    assert record["last_trade"]["cycle_id"] == f"test-{TRADES:06d}"
    assert record["pnl_today_gbp"] is not None
    assert record["trading"] is False and "orchestrator stopped" in record["why_not_trading"]
    assert record["journal"]["status"] == "ok"
    assert record["venues"] and all("breaker" in v for v in record["venues"])


def test_yaml_reads_back_as_the_same_record(bot: RunningApi) -> None:
    _, as_json = status("--url", bot.base_url, "-o", "json")
    code, as_yaml = status("--url", bot.base_url, "-o", "yaml")
    assert code == 0
    assert yaml.safe_load(as_yaml)["last_trade"] == json.loads(as_json)["last_trade"]


def test_detail_lists_the_recent_trades_newest_first(bot: RunningApi) -> None:
    code, out = status("--url", bot.base_url, "--detail", "-o", "json")
    recent = json.loads(out)["recent_trades"]
    assert code == 0
    assert [t["cycle_id"] for t in recent] == [f"test-{n:06d}" for n in range(TRADES, 0, -1)]
    _, table = status("--url", bot.base_url, "--detail")
    assert "Recent trades" in table and "Blocked today" in table


def test_piped_output_has_no_colour_codes(bot: RunningApi, tmp_path: Path) -> None:
    # given the console script writing into a pipe
    env = clean_env(API_KEY=API_KEY)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flash-green"), "status", "--url", bot.base_url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then the table is plain text
    assert result.returncode == 0, result.stderr
    assert "PnL today" in result.stdout
    assert "\x1b[" not in result.stdout


def test_no_key_names_the_credential_to_set_and_exits_two(bot: RunningApi) -> None:
    code, out = status("--url", bot.base_url, key=None)
    assert code == 2
    assert "401" in out and "set API_KEY or pass --api-key-file" in out


def test_a_wrong_key_file_is_refused_without_printing_the_key(bot: RunningApi, tmp_path: Path) -> None:
    # given a key file holding another bot's key
    key_file = tmp_path / "key"
    key_file.write_text("another-bots-key-that-must-not-print\n")
    # when status is read with it (it wins over API_KEY)
    code, out = status("--url", bot.base_url, "--api-key-file", str(key_file))
    # then the bot refuses it, and the message names the credential but not its value
    assert code == 2
    assert "refused the API key" in out
    assert "another-bots-key-that-must-not-print" not in out


def test_the_key_file_is_read(bot: RunningApi, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    code, _ = status("--url", bot.base_url, "--api-key-file", str(key_file), key=None)
    assert code == 0


def test_an_unreachable_bot_exits_three_saying_so() -> None:
    # given a loopback port nothing listens on
    url = f"http://127.0.0.1:{free_port()}"
    code, out = status("--url", url)
    assert code == 3
    assert f"cannot reach the bot at {url}" in out and "--url" in out
