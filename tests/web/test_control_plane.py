"""The control plane: starting and stopping the trading loop, one at a time, and the guarded test runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, RunningApi, free_port, make_settings, start_api

HEADERS = {"X-API-Key": API_KEY}
# The bot's own configuration opens the simulated market all day, every day; the control plane may
# only narrow that, never widen it, so these are the server's settings, not overrides.
ALWAYS_OPEN = {"TRADING_WINDOW_UTC": "00:00-24:00", "ALLOW_WEEKEND_TRADING": "1"}
SIM_OVERRIDES = {"EXEC_LATENCY_MS": "0", "CYCLE_INTERVAL_SECS": "0.05"}
SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")


def _options(**kw: object) -> ApiOptions:
    base: dict[str, object] = {"echo_orchestrator_output": False, "stop_grace_s": 10.0}
    base.update(kw)
    return ApiOptions(**base)  # type: ignore[arg-type]


def _post(server: RunningApi, path: str, body: object | None = None, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        server.base_url + path, json=body if body is not None else {}, headers=HEADERS, timeout=timeout
    )


def _get(server: RunningApi, path: str) -> httpx.Response:
    return httpx.get(server.base_url + path, headers=HEADERS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


def _wait_for_line(server: RunningApi, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in _get(server, "/control/orchestrator").json()["log_tail"]):
        assert time.monotonic() < deadline, f"no {text!r} in the orchestrator's output"
        time.sleep(0.1)


# -- the trading loop ----------------------------------------------------------------------------


def test_start_runs_the_trading_loop_with_its_overrides_and_stop_ends_it_cleanly(
    api_server: Callable[..., RunningApi],
) -> None:
    server = api_server(API_KEY=API_KEY, options=_options(), **ALWAYS_OPEN)
    overrides = {**SIM_OVERRIDES, "TRADING_WINDOW_UTC": "01:00-23:00", "METRICS_PORT": str(free_port())}
    started = _post(server, "/control/orchestrator/start", {"overrides": overrides})
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running"
    assert started.json()["overrides"] == overrides
    state = _get(server, "/state").json()
    assert state["orchestrator"]["state"] == "running"
    assert state["settings"]["TRADING_WINDOW_UTC"] == "01:00-23:00"  # the loop's effective settings
    _wait_for_line(server, "orchestrator starting")
    stopped = _post(server, "/control/orchestrator/stop")
    assert stopped.status_code == 200
    body = stopped.json()
    assert (body["state"], body["exit_code"], body["stop_requested"]) == ("exited", 0, True)
    assert any("orchestrator stopped" in line for line in body["log_tail"])


def test_a_second_start_is_refused_while_a_loop_runs(api_server: Callable[..., RunningApi]) -> None:
    server = api_server(API_KEY=API_KEY, options=_options(orchestrator_command=SLEEPER, early_exit_s=0.05))
    assert _post(server, "/control/orchestrator/start").status_code == 202
    second = _post(server, "/control/orchestrator/start")
    assert second.status_code == 409
    assert "already running" in second.json()["detail"]


def test_stop_with_no_loop_running_is_409(api_server: Callable[..., RunningApi]) -> None:
    server = api_server(API_KEY=API_KEY, options=_options())
    response = _post(server, "/control/orchestrator/stop")
    assert response.status_code == 409
    assert response.json()["detail"] == "no orchestrator is running"


@pytest.fixture
def external_loop(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A trading loop started outside the API, on the data directory the API will use."""
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME", "LANG")}
    env.update(SIM_OVERRIDES)
    env.update(
        {"DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(free_port()), "METRICS_HOST": "127.0.0.1"}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.orchestrator"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = tmp_path / "data" / "orchestrator.lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip() == str(process.pid)):
        assert process.poll() is None, "the external orchestrator exited"
        assert time.monotonic() < deadline, "the external orchestrator did not take the lock"
        time.sleep(0.05)
    yield process
    process.terminate()
    process.wait(timeout=30)


def test_a_loop_started_elsewhere_is_reported_and_never_duplicated(
    api_server: Callable[..., RunningApi], external_loop: subprocess.Popen[bytes]
) -> None:
    server = api_server(API_KEY=API_KEY, options=_options())
    status = _get(server, "/control/orchestrator").json()
    assert (status["state"], status["pid"], status["supervised"]) == ("external", external_loop.pid, False)
    refused = _post(server, "/control/orchestrator/start")
    assert refused.status_code == 409
    assert "will not start a second trading loop" in refused.json()["detail"]
    assert _post(server, "/control/orchestrator/stop").status_code == 409
    assert external_loop.poll() is None  # left alone


def test_overrides_that_are_not_plain_settings_are_refused_naming_each_key(
    api_server: Callable[..., RunningApi],
) -> None:
    server = api_server(API_KEY=API_KEY, options=_options())
    body = {"overrides": {"NO_SUCH_SETTING": "1", "ICE_API_SECRET": "x", "DATA_DIR": "/elsewhere"}}
    response = _post(server, "/control/orchestrator/start", body)
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert [p.split()[0] for p in problems] == ["NO_SUCH_SETTING", "ICE_API_SECRET", "DATA_DIR"]
    assert _get(server, "/control/orchestrator").json()["state"] == "stopped"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRADING_ENABLED", "1"),
        ("MAX_DAILY_LOSS_GBP", "100000000"),
        ("LOAN_LIMIT_GBP", "100000000"),
        ("MAX_POSITION_MWH", "100000"),
        ("BOT_NAME", "someone-else"),
    ],
)
def test_overrides_never_resume_a_paused_bot_nor_loosen_its_limits(
    api_server: Callable[..., RunningApi], key: str, value: str
) -> None:
    # given a bot its configuration pauses, with default limits
    server = api_server(API_KEY=API_KEY, options=_options(), TRADING_ENABLED="0")
    # when a key holder asks the control plane to resume it or to loosen a limit
    response = _post(server, "/control/orchestrator/start", {"overrides": {key: value}})
    # then it is refused naming the key, and no loop starts
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0].startswith(f"{key} cannot be overridden from the control plane")
    assert _get(server, "/control/orchestrator").json()["state"] == "stopped"


def test_an_invalid_override_value_is_refused_with_the_settings_own_message(
    api_server: Callable[..., RunningApi],
) -> None:
    server = api_server(API_KEY=API_KEY, options=_options())
    response = _post(
        server, "/control/orchestrator/start", {"overrides": {"TRADING_WINDOW_UTC": "25:00-26:00"}}
    )
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith("TRADING_WINDOW_UTC")


def test_a_loop_that_ignores_sigterm_is_killed_after_the_grace_period(
    api_server: Callable[..., RunningApi],
) -> None:
    stubborn = (
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
    )
    server = api_server(API_KEY=API_KEY, options=_options(orchestrator_command=stubborn, stop_grace_s=0.5))
    assert _post(server, "/control/orchestrator/start").status_code == 202
    stopped = _post(server, "/control/orchestrator/stop").json()
    assert (stopped["state"], stopped["exit_code"]) == ("exited", -9)


def test_a_loop_that_exits_at_once_is_reported_with_its_code_and_output(
    api_server: Callable[..., RunningApi],
) -> None:
    failing = (sys.executable, "-c", "print('cannot start: journal unavailable'); raise SystemExit(4)")
    server = api_server(API_KEY=API_KEY, options=_options(orchestrator_command=failing, early_exit_s=5.0))
    response = _post(server, "/control/orchestrator/start")
    assert response.status_code == 409
    assert "exit code 4" in response.json()["detail"]
    assert "cannot start: journal unavailable" in response.json()["problems"]


def test_the_log_tail_masks_secrets(api_server: Callable[..., RunningApi]) -> None:
    leaky = (sys.executable, "-c", f"print('key is {API_KEY}', flush=True); import time; time.sleep(60)")
    server = api_server(API_KEY=API_KEY, options=_options(orchestrator_command=leaky, early_exit_s=1.0))
    _post(server, "/control/orchestrator/start")
    tail = _get(server, "/control/orchestrator").json()["log_tail"]
    assert tail == ["key is ***"]


def test_readiness_fails_when_the_loop_started_here_crashed(api_server: Callable[..., RunningApi]) -> None:
    crashing = (sys.executable, "-c", "import time; time.sleep(0.3); raise SystemExit(1)")
    server = api_server(API_KEY=API_KEY, options=_options(orchestrator_command=crashing, early_exit_s=0.01))
    assert _post(server, "/control/orchestrator/start").status_code == 202
    deadline = time.monotonic() + 10
    while _get(server, "/control/orchestrator").json()["state"] != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 503
    assert {"name": "orchestrator", "status": "fail", "detail": "exited with code 1"} in ready.json()[
        "checks"
    ]


def test_a_server_started_with_the_loop_stops_it_at_shutdown(api_server: Callable[..., RunningApi]) -> None:
    server = api_server(
        API_KEY=API_KEY,
        start_orchestrator=True,
        options=_options(orchestrator_command=SLEEPER, early_exit_s=0.05),
    )
    status = _get(server, "/control/orchestrator").json()
    assert status["state"] == "running"
    server.stop()
    assert not _alive(status["pid"])


# -- the test runner ---------------------------------------------------------------------------------


SAMPLE_SUITE = """
    import os
    import time

    def test_passes():
        assert True

    def test_fails():
        assert 1 == 2

    def test_slow():
        time.sleep(float(os.environ.get("SAMPLE_SLEEP", "1.5")))

    def test_chatty():
        print("x" * 200_000)
        assert False

    def test_sees_no_bot_settings():
        assert "API_KEY" not in os.environ and "DATA_DIR" not in os.environ
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server whose test runner runs a tiny suite (output capped at 16 KiB).

    Its environment skips pytest's plugin autoload, which costs about 5 s per run on this machine.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    patch.setenv("SAMPLE_SLEEP", "1.5")
    root = tmp_path_factory.mktemp("repo")
    (root / "tests").mkdir()
    (root / "tests" / "test_sample.py").write_text(textwrap.dedent(SAMPLE_SUITE))
    settings = make_settings(root / "data", API_KEY=API_KEY)
    server = start_api(settings, options=_options(suite_root=root, suite_output_cap=16384))
    yield server
    server.stop()
    patch.undo()


def test_a_test_run_returns_its_result_and_output(runner: RunningApi) -> None:
    run = _post(runner, "/control/tests", {"k": "passes", "flags": ["-q"]}).json()
    assert (run["state"], run["exit_code"]) == ("passed", 0)
    assert "1 passed" in run["output"]
    assert run["args"][-3:] == ["-k", "passes", "tests"]


def test_a_failing_selection_is_reported_as_failed(runner: RunningApi) -> None:
    run = _post(runner, "/control/tests", {"k": "fails"}).json()
    assert (run["state"], run["exit_code"]) == ("failed", 1)
    assert "assert 1 == 2" in run["output"]


def test_tests_run_without_the_servers_bot_settings(
    runner: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_KEY", "from-the-server-environment")
    assert _post(runner, "/control/tests", {"k": "sees_no_bot_settings"}).json()["state"] == "passed"


def test_flags_outside_the_allowlist_are_refused(runner: RunningApi) -> None:
    response = _post(runner, "/control/tests", {"flags": ["--rootdir=/", "-p", "evil"]})
    assert response.status_code == 422
    assert len(response.json()["problems"]) == 3


def test_only_one_test_run_at_a_time(runner: RunningApi) -> None:
    first: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: first.update(_post(runner, "/control/tests", {"k": "slow"}).json())
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not _get(runner, "/control/tests").json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = _post(runner, "/control/tests", {"k": "passes"})
    worker.join(timeout=60)
    assert second.status_code == 409
    assert first["state"] == "passed"


def test_a_run_past_its_timeout_is_stopped(runner: RunningApi) -> None:
    run = _post(runner, "/control/tests", {"k": "slow", "timeout_s": 1}).json()
    assert run["state"] == "timed_out"
    assert "stopped after the 1 s timeout" in run["output"]


def test_long_output_is_capped_with_a_marker_saying_how_much_was_cut(runner: RunningApi) -> None:
    run = _post(runner, "/control/tests", {"k": "chatty"}).json()
    assert run["cut_bytes"] > 180_000
    assert f"[... {run['cut_bytes']} bytes of output cut ...]" in run["output"]
    assert len(run["output"].encode()) < 16384 + 100
