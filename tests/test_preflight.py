"""`flash-green preflight`: settings, secret backend and journal checked before anything starts."""

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


def test_preflight_refuses_live_toggles_whose_adapter_is_not_built(tmp_path: Path) -> None:
    env = write_env(
        tmp_path / "live.env",
        USE_WEB3_LOAN="1",
        FLASH_LOAN_CONTRACT="0xabc",
        FLASH_LOAN_RECEIVER="0xdef",
        LENDER_KEY="0x01",
        HARDHAT_RPC="https://rpc.example.test",
        DATA_DIR=str(tmp_path),
    )
    report = run_preflight(env)
    assert any(
        "USE_WEB3_LOAN=1" in p and "does not ship" in p and "USE_WEB3_LOAN=0" in p for p in report.problems
    )


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
