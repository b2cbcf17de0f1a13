"""`flash-green preflight`: settings, secret backend and journal checked before anything starts."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import catalog
from bot.preflight import run_preflight

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for info in catalog():
        monkeypatch.delenv(info.env, raising=False)


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_preflight_passes_a_simulated_bot_and_prints_no_secret(tmp_path: Path) -> None:
    env = write_env(tmp_path / "good.env", DATA_DIR=str(tmp_path / "data"), API_KEY="k3y-never-printed-123")
    report = run_preflight(env)
    assert report.ok, report.problems
    text = report.render()
    assert "OK: ready to start" in text
    assert "k3y-never-printed-123" not in text
    assert "journal: sqlite:///" in text


def test_preflight_lists_every_problem_at_once(tmp_path: Path) -> None:
    env = write_env(
        tmp_path / "bad.env",
        USE_ICE_LIVE="1",
        ICE_API_KEY="ice-secret-value",
        TRADING_WINDOW_UTC="25:00-06:00",
        DATA_DIR=str(tmp_path),
    )
    report = run_preflight(env)
    assert not report.ok
    text = report.render()
    for name in ("ICE_API_URL", "ICE_API_SECRET", "TRADING_WINDOW_UTC"):
        assert name in text
    assert "ice-secret-value" not in text


def test_preflight_hides_the_database_password(tmp_path: Path) -> None:
    # a closed port: the journal is unreachable, and the report must still not carry the password
    env = write_env(
        tmp_path / "pg.env",
        DATABASE_URL="postgresql+psycopg://bot:pa55word-in-url@127.0.0.1:1/journal",
        DATA_DIR=str(tmp_path),
    )
    report = run_preflight(env)
    assert not report.ok
    text = report.render()
    assert "pa55word-in-url" not in text
    assert "journal database unreachable" in text


def test_preflight_reports_an_unreachable_chain_node_without_its_key(tmp_path: Path) -> None:
    # given the on-chain loan pointed at a loopback port where no node listens
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = "0x" + "5d1e" * 16
    env = write_env(
        tmp_path / "live.env",
        USE_WEB3_LOAN="1",
        FLASH_LOAN_CONTRACT="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        FLASH_LOAN_RECEIVER="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        LENDER_KEY=key,
        HARDHAT_RPC=f"http://127.0.0.1:{port}",
        CHAIN_ID="31337",
        DATA_DIR=str(tmp_path),
    )
    # when preflight runs
    report = run_preflight(env)
    # then it fails on the chain, naming the node, and the key is nowhere in the report
    assert not report.ok
    assert any(p.startswith("on-chain loan:") and f"127.0.0.1:{port}" in p for p in report.problems)
    assert key not in report.render() and key[2:] not in report.render()


def test_preflight_command_exits_non_zero_on_problems(tmp_path: Path) -> None:
    env = write_env(tmp_path / "bad.env", LOAN_LIMIT_GBP="-1", DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "preflight", "--env-file", str(env)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "LOAN_LIMIT_GBP" in result.stdout


def test_preflight_command_exits_zero_when_ready(tmp_path: Path) -> None:
    env = write_env(tmp_path / "ok.env", DATA_DIR=str(tmp_path / "d"))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "preflight", "--env-file", str(env)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: ready to start" in result.stdout


def test_preflight_reports_a_missing_env_file(tmp_path: Path) -> None:
    report = run_preflight(tmp_path / "nope.env")
    assert not report.ok and "does not exist" in report.problems[0]
