"""Nothing unauthenticated reaches the disk: the control plane is judged before its body is read,
every body is capped (413 past 64 KiB, counted as it streams), and audit records are bounded.

Raw sockets show what an HTTP client library would hide: that an answer comes back while the
declared body has not been sent at all.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.web.context import ApiOptions
from bot.web.intake import MAX_BODY_BYTES
from tests.fixtures.api_server import API_KEY, RunningApi, free_port, make_settings, start_api

CONTROL_WRITES = ["/control/orchestrator/start", "/control/tests"]
MIB = 1024 * 1024


def _options(**kw: object) -> ApiOptions:
    base: dict[str, object] = {"echo_orchestrator_output": False, "stop_grace_s": 10.0}
    base.update(kw)
    return ApiOptions(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server with API_KEY set and limits loose enough for a module of calls."""
    settings = make_settings(tmp_path_factory.mktemp("intake"), API_KEY=API_KEY)
    running = start_api(
        settings, options=_options(auth_failure_limit="1000/minute", control_plane_limit="1000/minute")
    )
    yield running
    running.stop()


def _raw(server: RunningApi, head: str, body: bytes = b"", wait_s: float = 10.0) -> tuple[int, bytes]:
    """Send `head` and `body` on a fresh connection and read the answer, without sending anything more.

    Returns the status code and what followed the status line; (0, b"") if no answer came within
    `wait_s` (the server is still waiting for the rest of the body).
    """
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head.encode("latin-1") + body)
        try:
            answer = sock.recv(65536)
        except TimeoutError:
            return 0, b""
    if not answer:
        return 0, b""
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest


def _head(path: str, length: int | None, *, key: str | None = None, chunked: bool = False) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    if key:
        lines.append(f"X-API-Key: {key}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n\r\n"


def _audit(server: RunningApi) -> list[dict]:
    response = httpx.get(f"{server.base_url}/audit?limit=5", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# -- the gate and the cap ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONTROL_WRITES)
def test_an_unauthenticated_control_call_is_answered_before_its_body_is_sent(
    keyed: RunningApi, path: str
) -> None:
    # given a caller without a credential declaring a 5 MB body and sending none of it
    status, _ = _raw(keyed, _head(path, 5 * MIB))
    # then the refusal comes back at once: the server never waited for (nor read) the body
    assert status == 401


def test_a_body_declared_over_the_cap_is_refused_with_413_before_it_is_sent(keyed: RunningApi) -> None:
    # given a key holder declaring a body one byte over the cap
    status, rest = _raw(keyed, _head("/control/tests", MAX_BODY_BYTES + 1, key=API_KEY))
    # then 413, naming the cap, without the body having been sent
    assert status == 413
    assert f"larger than {MAX_BODY_BYTES} bytes".encode() in rest
    # and the audit records its declared size and the reason, nothing of its content
    entry = _audit(keyed)[0]
    assert (entry["action"], entry["outcome"]) == ("tests.run", "refused:413")
    assert entry["parameters"] == {"reason": "body_too_large", "body_bytes": str(MAX_BODY_BYTES + 1)}


def test_a_chunked_body_is_refused_with_413_as_soon_as_it_streams_past_the_cap(keyed: RunningApi) -> None:
    # given a key holder streaming a body in chunks, with no declared length and no end
    chunk = b"x" * 16384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY_BYTES // len(chunk) + 1))
    # when a little more than the cap has been sent
    status, _ = _raw(keyed, _head("/control/tests", None, key=API_KEY, chunked=True), chunks)
    # then 413 comes back while the stream is still open
    assert status == 413


def test_a_body_at_the_cap_is_read(keyed: RunningApi) -> None:
    # given a JSON body exactly as long as the cap
    body = b'{"k": "' + b"a" * (MAX_BODY_BYTES - 9) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    # when a key holder sends it
    response = httpx.post(
        f"{keyed.base_url}/control/tests",
        content=body,
        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
    )
    # then it was read and judged on its content (too long a selection), not on its size
    assert response.status_code == 422


def test_audit_records_are_capped_parameter_names_included(keyed: RunningApi) -> None:
    # given a key holder whose body has a 20,000-character key and 80 keys in all
    body = {"overrides": {"A" * 20_000: "1", **{f"K{i}": "v" * 300 for i in range(79)}}}
    response = httpx.post(
        f"{keyed.base_url}/control/orchestrator/start", json=body, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code == 422
    # then its audit record keeps at most 50 parameters, names cut to 64 and values to 200 characters
    parameters = _audit(keyed)[0]["parameters"]
    assert len(parameters) <= 51  # and one line saying how many were left out
    assert max(len(name) for name in parameters) <= 64 + 3
    assert max(len(value) for value in parameters.values()) <= 200 + 3
    assert len(json.dumps(parameters)) < 16_384


# -- the flood -----------------------------------------------------------------------------------------


ALWAYS_OPEN = {"TRADING_WINDOW_UTC": "00:00-24:00", "ALLOW_WEEKEND_TRADING": "1"}


def _journal_bytes(path: Path) -> tuple[int, int]:
    """The journal's size (pages in use, WAL content included) and its audit table's share, in bytes."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        pages, page_size = (
            db.execute("PRAGMA page_count").fetchone()[0],
            db.execute("PRAGMA page_size").fetchone()[0],
        )
        (audit,) = db.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE '%audit%'"
        ).fetchone()
    return pages * page_size, int(audit)


def _cycles_journalled(server: RunningApi) -> int:
    """Cycles the loop has journalled: its trades, and today's cycles that did not trade.

    Whether a simulated second pays is up to the market model (a few percent of seconds do), so
    the loop's journalling of every cycle, traded or not, is what shows it is still trading.
    """
    headers = {"X-API-Key": API_KEY}
    trades = httpx.get(f"{server.base_url}/trades?limit=1", headers=headers).json()["total"]
    state = httpx.get(f"{server.base_url}/state", headers=headers).json()
    assert state["orchestrator"]["state"] == "running"
    return int(trades) + sum(int(entry["count"]) for entry in state["blocked_today"])


def _wait_for_cycles_past(server: RunningApi, count: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (now := _cycles_journalled(server)) <= count:
        assert time.monotonic() < deadline, f"no cycle journalled past {count} in {timeout_s} s"
        time.sleep(0.1)
    return now


def test_a_thousand_unauthenticated_megabyte_posts_leave_the_journal_and_the_trading_alone(
    api_server: Callable[..., RunningApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # given the API with a simulated trading loop beside it, journalling into the same file
    server = api_server(API_KEY=API_KEY, options=_options(), **ALWAYS_OPEN)
    overrides = {"EXEC_LATENCY_MS": "0", "CYCLE_INTERVAL_SECS": "0.25", "METRICS_PORT": str(free_port())}
    started = httpx.post(
        f"{server.base_url}/control/orchestrator/start",
        json={"overrides": overrides},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    assert started.status_code == 202, started.text
    journal = Path(server.settings.journal_url.removeprefix("sqlite:///"))
    cycles = _wait_for_cycles_past(server, 0)
    size_before, audit_before = _journal_bytes(journal)
    # when 1,000 POSTs of 1 MB each, with no credential, hit the control plane
    # (one 1 MB key: today's audit cuts values, not names)
    payload = b'{"' + b"A" * (MIB - 10) + b'": "1"}'
    statuses: dict[int, int] = {}
    began = time.monotonic()  # reported, never asserted
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        for i in range(1000):
            response = client.post(
                CONTROL_WRITES[i % 2], content=payload, headers={"Content-Type": "application/json"}
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    flood_s = time.monotonic() - began
    cycles_during = _cycles_journalled(server)
    size_after, audit_after = _journal_bytes(journal)
    # then every one was refused, the journal grew by under 1 MB (trades included) ...
    assert set(statuses) <= {401, 429}, statuses
    growth = size_after - size_before
    assert growth < MIB
    # ... and the loop is still running, journalling new cycles after it
    cycles_after = _wait_for_cycles_past(server, cycles_during)
    audit_kib = (audit_after - audit_before) / 1024
    with capsys.disabled():
        print(
            f"\n1,000 x 1 MB unauthenticated POSTs: statuses {statuses}; journal +{growth / 1024:.0f} KiB "
            f"(audit table +{audit_kib:.0f} KiB); cycles journalled {cycles} -> {cycles_during} -> "
            f"{cycles_after}; flood took {flood_s:.1f} s"
        )
