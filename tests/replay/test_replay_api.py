"""The control plane's replay over a real server: start, busy, cancel, report; DATA_DIR only; audited."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.api_server import API_KEY, RunningApi, make_settings, start_api

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "replay" / "sim-1day.csv"
HEADERS = {"X-API-Key": API_KEY}


def write_long_file(path: Path, changes: int = 500_000) -> None:
    """A Parquet tick file that takes seconds to replay (books that never pay): one to cancel."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bot.replay.ticks import parquet_schema

    start = 1_767_614_400_000_000  # 2026-01-05T12:00:00Z
    stamps = pa.array([start + (i // 4) * 1_000_000 for i in range(changes * 4)], pa.int64())
    table = pa.table(
        [
            stamps.cast(pa.timestamp("us", tz="UTC")),
            pa.array(["power", "power", "futures", "futures"] * changes),
            pa.array(["bid", "ask", "bid", "ask"] * changes),
            pa.array([0, 0, 0, 0] * changes, pa.int16()),
            pa.array(["70.00", "70.10", "69.00", "69.10"] * changes),
            pa.array(["50", "50", "50", "50"] * changes),
        ],
        schema=parquet_schema(),
    )
    pq.write_table(table, str(path), row_group_size=65_536)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    data_dir = tmp_path_factory.mktemp("bot-data")
    shutil.copy(SAMPLE, data_dir / "sample.csv")
    write_long_file(data_dir / "long.parquet")
    (tmp_path_factory.mktemp("elsewhere") / "secret.csv").write_text("not the bot's\n")
    running = start_api(make_settings(data_dir, API_KEY=API_KEY))
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30) as c:
        yield c


def wait_until_finished(client: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get("/control/replay").json()
        if status["state"] != "running":
            return status
        time.sleep(0.05)
    raise AssertionError("the replay did not finish")


def test_a_replay_of_a_data_dir_file_runs_and_its_report_is_served(
    client: httpx.Client, server: RunningApi
) -> None:
    # given a tick file in the bot's data directory; when a replay of it is started
    started = client.post("/control/replay", json={"file": "sample.csv", "set": ["MIN_PROFIT_GBP=1"]})
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running"
    # then it finishes and its report is served as JSON and as the HTML page
    assert wait_until_finished(client)["state"] == "done"
    report = client.get("/control/replay/report")
    assert report.status_code == 200 and report.json()["summary"]["trades"] > 0
    assert report.json()["settings"] == {"MIN_PROFIT_GBP": "1"}
    page = client.get("/control/replay/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "uPlot" in page.text and "<script src" not in page.text
    # and the call is in the audit trail with its parameters
    audit = client.get("/audit", params={"limit": 20}).json()["items"]
    assert any(
        a["action"] == "POST /control/replay" and a["parameters"].get("file") == "sample.csv" for a in audit
    )


def test_one_replay_at_a_time_and_a_cancelled_one_leaves_nothing(
    client: httpx.Client, server: RunningApi
) -> None:
    # given a long replay running
    assert client.post("/control/replay", json={"file": "long.parquet"}).status_code == 202
    # when a second is asked for, then it is refused while the first runs
    busy = client.post("/control/replay", json={"file": "sample.csv"})
    assert busy.status_code == 409 and "is running" in busy.json()["detail"]
    # when the first is cancelled, then it stops and no output of it remains
    cancelled = client.post("/control/replay/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    replays = server.settings.data_dir / "replays"
    assert sorted(p.name for p in replays.iterdir() if cancelled.json()["replay_id"] in p.name) == []
    assert client.post("/control/replay/cancel").status_code == 409  # nothing runs now


@pytest.mark.parametrize(
    "name", ["../elsewhere/secret.csv", "/etc/hostname", "replays/../../x.csv", "a\u0000b"]
)
def test_a_file_outside_the_data_directory_is_refused(client: httpx.Client, name: str) -> None:
    refused = client.post("/control/replay", json={"file": name})
    assert refused.status_code == 403 and "data directory" in refused.json()["detail"]


def test_a_missing_file_and_a_bad_setting_are_refused_plainly(client: httpx.Client) -> None:
    missing = client.post("/control/replay", json={"file": "missing.csv"})
    assert missing.status_code == 404 and "missing.csv: no such file" in missing.json()["detail"]
    bad = client.post("/control/replay", json={"file": "sample.csv", "set": ["SLIPPAGE_BP=lots"]})
    assert bad.status_code == 422 and "SLIPPAGE_BP" in bad.json()["detail"]


def test_replay_needs_a_control_plane_credential(server: RunningApi) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as anonymous:
        assert anonymous.post("/control/replay", json={"file": "sample.csv"}).status_code == 401
        assert anonymous.get("/control/replay/report").status_code == 401
