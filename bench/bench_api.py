"""API throughput and tail latency: `/healthz` and `/pnl` against a trivial async JSON endpoint.

The API is served by uvicorn with the production settings of `bot.web.serve` (one worker, uvloop,
httptools, access log off) in a process pinned to one CPU, and driven by `wrk` (one thread, 50
connections) pinned to another; five interleaved rounds of each target, the best of each kept
(other load on a shared machine only ever slows a run down).

The ceiling is a trivial `async def` route returning a small JSON object, mounted (for the
benchmark only) in the same app, so it is served by the same server with the same settings and
middleware. For context the run also measures the same route in a bare FastAPI app, served the
same way. `/pnl` is called with the API key as a bearer token on a journal holding a thousand
trades over the last days. Budget (DESIGN.md): `/pnl` at least half the ceiling's requests/s, and
its p99 at most twice the ceiling's.

Run alone: `python -m bench.bench_api`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import httpx

from bench.figures import figure

WRK = "/usr/bin/wrk"
CONNECTIONS = 50
DURATION_S = 2
WARMUP_S = 1
ROUNDS = 5
TRADES = 1000
KEY = "bench-api-key-0123456789"

# The API with a benchmark-only ceiling route, and a bare FastAPI app with the same route; both
# served with bot.web.server_options.
SERVE_APP = """
import uvicorn
from bot.config import Settings
from bot.web import create_app, server_options

settings = Settings()
app = create_app(settings)

@app.get("/bench/ceiling", include_in_schema=False)
async def ceiling() -> dict[str, str]:
    return {"status": "ok"}

# First in the route table, as /pnl is: this FastAPI matches routes one by one, a few µs each.
app.router.routes.insert(0, app.router.routes.pop())
uvicorn.run(app, **server_options(settings))
"""
SERVE_BARE = """
import uvicorn
from fastapi import FastAPI
from bot.config import Settings
from bot.web import server_options

app = FastAPI()

@app.get("/bench/ceiling")
async def ceiling() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(app, **server_options(Settings()))
"""


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _journal_trades(url: str, count: int) -> None:
    """A journal holding `count` traded cycles over the last days (what /pnl summarises)."""
    from bot.domain.market import OrderStatus, Side
    from bot.journal import CostBreakdown, CycleRecord, CycleStatus, Journal, OrderRecord, TradeRecord

    journal = Journal.open(url, migrate=True)
    now = datetime.now(UTC)
    try:
        for i in range(count):
            at = now - timedelta(minutes=7 * (count - i))
            cycle_id = f"bench-{i:06d}"
            power, futures, qty = D("41.10") + D(i % 9), D("43.35") + D(i % 9), D("2.5")
            costs = CostBreakdown(D("0.05"), D("0.02"), D("0.09"), D("0.50"), D("0"))
            gross = (futures - power) * qty
            orders = tuple(
                OrderRecord(
                    f"{cycle_id}-{leg}-{purpose}",
                    cycle_id,
                    leg,
                    f"sim-{leg}",
                    side,
                    purpose,
                    qty,
                    price,
                    OrderStatus.FILLED,
                    qty,
                    price,
                    None,
                    at,
                    at,
                )
                for leg, side, purpose, price in (
                    ("power", Side.BUY, "entry", power),
                    ("futures", Side.SELL, "exit", futures),
                )
            )
            net = gross - costs.total_gbp
            trade = TradeRecord(cycle_id, at, qty, power, futures, power * qty, gross, costs, net)
            cycle = CycleRecord(
                cycle_id,
                i + 1,
                at,
                at,
                CycleStatus.TRADED,
                None,
                power,
                futures,
                futures - power,
                qty,
                gross,
                net,
                orders,
                trade,
            )
            journal.begin_cycle(cycle)
            journal.finish_cycle(cycle)
    finally:
        journal.close()


def _env(data_dir: Path, port: int) -> dict[str, str]:
    from bot.config import catalog

    names = {row.env for row in catalog()}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "API_KEY": KEY,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _pinned(cpu: int, command: list[str]) -> list[str]:
    """On a machine with two or more CPUs, the server gets one and wrk another."""
    taskset = shutil.which("taskset")
    if taskset and (os.cpu_count() or 1) >= 2:
        return [taskset, "-c", str(cpu), *command]
    return command


def _start(code: str, env: dict[str, str], cwd: Path, probe: str) -> subprocess.Popen[bytes]:
    command = _pinned(0, [sys.executable, "-c", code])
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(probe, headers={"Authorization": f"Bearer {KEY}"}, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Requests/s, p50, p99 and error count from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(rps, p50, p99, errors)


def _wrk(url: str, *, authorised: bool, seconds: int) -> Load:
    command = [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if authorised:
        command += ["-H", f"Authorization: Bearer {KEY}"]
    result = subprocess.run(
        _pinned(1, [*command, url]), capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    return parse_wrk(result.stdout)


def best(loads: list[Load]) -> Load:
    """The run least disturbed by anything else on the machine: highest req/s, lowest p99."""
    return Load(
        rps=max(load.rps for load in loads),
        p50_ms=min(load.p50_ms for load in loads),
        p99_ms=min(load.p99_ms for load in loads),
        errors=sum(load.errors for load in loads),
    )


def run() -> list[dict[str, object]]:
    """Measure the ceiling, /healthz and /pnl; return the figures for bench/results.json."""
    if not Path(WRK).exists() and not shutil.which("wrk"):
        print("bench_api: wrk is not installed (Debian package wrk); figures left out", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _journal_trades(f"sqlite:///{(work / 'data' / 'journal.db').as_posix()}", TRADES)
        app_port, bare_port = _free_port(), _free_port()
        app_url, bare_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        servers = [
            _start(SERVE_APP, _env(work / "data", app_port), work, f"{app_url}/pnl"),
            _start(SERVE_BARE, _env(work / "data", bare_port), work, f"{bare_url}/bench/ceiling"),
        ]
        targets = {
            "ceiling": (f"{app_url}/bench/ceiling", False),
            "healthz": (f"{app_url}/healthz", False),
            "pnl": (f"{app_url}/pnl", True),
            "bare": (f"{bare_url}/bench/ceiling", False),
        }
        rounds: dict[str, list[Load]] = {name: [] for name in targets}
        try:
            for url, authorised in targets.values():
                _wrk(url, authorised=authorised, seconds=WARMUP_S)
            for _ in range(ROUNDS):
                for name, (url, authorised) in targets.items():
                    rounds[name].append(_wrk(url, authorised=authorised, seconds=DURATION_S))
        finally:
            for server in servers:
                _stop(server)
    ceiling, health, pnl, bare = (best(rounds[name]) for name in targets)
    rows = (
        ("ceiling (same server)", ceiling),
        ("/healthz", health),
        ("/pnl (bearer key)", pnl),
        ("bare FastAPI (context)", bare),
    )
    for name, load in rows:
        print(
            f"{name:24s} {load.rps:8.0f} req/s  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  "
            f"rps ratio {load.rps / ceiling.rps:5.2f}  p99 ratio {load.p99_ms / ceiling.p99_ms:5.2f}"
            + (f"  errors {load.errors}" if load.errors else "")
        )
    print(
        f"budget: /pnl rps ratio >= 0.5 (got {pnl.rps / ceiling.rps:.2f}), p99 ratio <= 2.0 "
        f"(got {pnl.p99_ms / ceiling.p99_ms:.2f}); against a bare FastAPI app: rps ratio "
        f"{pnl.rps / bare.rps:.2f}, p99 ratio {pnl.p99_ms / bare.p99_ms:.2f}; "
        f"{CONNECTIONS} connections, one worker"
    )
    return [
        figure("api_ceiling_rps", ceiling.rps, "req/s", ceiling.rps),
        figure("api_healthz_rps", health.rps, "req/s", ceiling.rps),
        figure("api_pnl_rps", pnl.rps, "req/s", ceiling.rps),
        figure("api_pnl_p99_ms", pnl.p99_ms, "ms", ceiling.p99_ms),
        figure("api_bare_fastapi_rps", bare.rps, "req/s", ceiling.rps),
        # The budget's two ratios as figures of their own (floor 1: the ceiling itself).
        figure("api_pnl_rps_ratio", pnl.rps / ceiling.rps, "ratio", 1.0),
        figure("api_pnl_p99_ratio", pnl.p99_ms / ceiling.p99_ms, "ratio", 1.0),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
