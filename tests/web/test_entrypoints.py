"""How the API is started: `uvicorn bot.web:api`, `bot.web.serve`, and an import that does nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.web import server_options
from tests.fixtures.api_server import API_KEY, free_port, make_settings
from tests.fixtures.bot_env import clean_env

# After a graceful shutdown uvicorn re-raises the signal it caught, as Unix tools do.
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(**{"DATA_DIR": str(tmp_path / "data"), "API_KEY": API_KEY, **extra})


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "the API exited during start-up"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_importing_the_package_reads_no_settings(tmp_path: Path) -> None:
    # given an environment that would not validate
    env = _clean_env(tmp_path, TRADING_WINDOW_UTC="not-a-window")
    # when the package and its ASGI app are imported, nothing is built or read
    code = "import sys, bot.web; assert callable(bot.web.api); assert 'fastapi' not in sys.modules"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()


def test_uvicorn_serves_the_app_with_settings_read_at_start_up(
    tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bot.web:api", "--host", "127.0.0.1", "--port", str(port),
               "--loop", "uvloop", "--http", "httptools", "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, env=_clean_env(tmp_path), cwd=tmp_path, stderr=subprocess.DEVNULL)
    spawn.append(process)
    _wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
    assert httpx.get(f"http://127.0.0.1:{port}/pnl", headers={"X-API-Key": API_KEY}).status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in STOPPED_BY_SIGTERM


def test_uvicorn_refuses_to_start_on_invalid_settings_naming_them(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, TRADING_WINDOW_UTC="not-a-window")
    command = [sys.executable, "-m", "uvicorn", "bot.web:api", "--port", str(free_port())]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert "TRADING_WINDOW_UTC" in result.stderr.decode()


def test_serve_runs_the_api_and_its_loop_then_stops_both_on_sigterm(
    tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    env = _clean_env(
        tmp_path,
        API_HOST="127.0.0.1",
        API_PORT=str(port),
        METRICS_PORT=str(free_port()),
        METRICS_HOST="127.0.0.1",
    )
    code = (
        "from bot.config import Settings\nfrom bot.web import serve\n"
        "serve(Settings(), start_orchestrator=True)"
    )
    log = tmp_path / "server.log"
    with log.open("wb") as sink:  # a file, not a pipe: nobody reads while it runs
        process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stderr=sink)
    spawn.append(process)
    _wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
    status = httpx.get(f"http://127.0.0.1:{port}/control/orchestrator", headers={"X-API-Key": API_KEY}).json()
    assert status["state"] == "running"
    deadline = time.monotonic() + 30
    while "orchestrator starting" not in log.read_text():  # the loop is past its start-up
        assert time.monotonic() < deadline, "the trading loop did not start"
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) in STOPPED_BY_SIGTERM
    assert not Path(f"/proc/{status['pid']}").exists()
    # the loop was stopped gracefully: its own last words reached the server's log
    assert "orchestrator stopped" in log.read_text()


def test_production_server_settings(tmp_path: Path) -> None:
    options = server_options(make_settings(tmp_path))
    assert (options["loop"], options["http"], options["access_log"]) == ("uvloop", "httptools", False)
    assert options["proxy_headers"] is False  # forwarded headers are believed from TRUSTED_PROXIES only
    assert (options["host"], options["port"]) == ("0.0.0.0", 8002)
