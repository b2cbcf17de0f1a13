"""Operator cost: CPU time of the operator process per reconciled bot, against an empty handler.

Two runs, each against a fresh kmock (the Kubernetes API emulator) on loopback, each with the
same N ArbitrageBots (the staging example, its API-key Secret present):

- the floor: kopf with one empty `@kopf.on.create` handler for ArbitrageBots; a bot is done when
  kopf has recorded it as handled (its last-handled-configuration annotation);
- the operator, `python -m arbitrage_operator`; a bot is done when its status is written, which
  happens only after its ConfigMap, PersistentVolumeClaim, Service and Deployment were applied.

Only the operator process is measured (user + system CPU from /proc/<pid>/stat, between the
first bot created and the last one done; startup excluded), because kmock's own cost grows
faster than linearly with the number of objects and dominates wall time. Peak memory is the
process's VmHWM. Budget (DESIGN.md): at most 1.5x the empty handler's CPU per bot.

Run alone: `python -m bench.bench_operator --bots 200`.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.figures import figure
from tests.fixtures.kube import BOTS, KubeEmulator, OperatorProcess, create_peering

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BOTS = 200
NAMESPACE = "bench"
BUDGET = 1.5
KOPF_HANDLED = "kopf.zalando.org/last-handled-configuration"

EMPTY_OPERATOR = """
import kopf


@kopf.on.create("arbitrage.flashgreen.dev", "v1alpha1", "arbitragebots")
async def created(**_):
    return None
"""


@dataclass(frozen=True)
class Run:
    """One operator's figures."""

    label: str
    bots: int
    cpu_s: float
    wall_s: float
    peak_rss_mib: float

    @property
    def cpu_ms_per_bot(self) -> float:
        return self.cpu_s / self.bots * 1000


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def staging_spec() -> dict[str, Any]:
    """The staging example's spec (the bot every run creates N times)."""
    document = yaml.safe_load((ROOT / "examples" / "staging-bot.yaml").read_text())
    return dict(document["spec"])


def _bot(index: int, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": f"bot-{index:04d}", "namespace": NAMESPACE},
        "spec": dict(spec),
    }


def _measure(
    label: str,
    bots: int,
    workdir: Path,
    *,
    module: str,
    args: list[str],
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
) -> Run:
    spec = staging_spec()
    with KubeEmulator() as kube:
        create_peering(kube)
        kube.create(
            "v1/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": spec["apiKeySecretRef"]["name"], "namespace": NAMESPACE},
                "data": {"API_KEY": "YmVuY2gta2V5"},
            },
        )
        operator = OperatorProcess(kube, workdir, module=module, args=args).start()
        try:
            operator.wait_watching(timeout=60)
            time.sleep(1.0)  # let the startup settle before the clock starts
            cpu0, wall0 = _cpu_seconds(operator.pid), time.monotonic()
            for index in range(bots):
                kube.create(BOTS, _bot(index, spec))
            deadline = wall0 + timeout
            while True:
                finished = sum(1 for bot in kube.list(BOTS, NAMESPACE) if done(bot))
                if finished == bots:
                    break
                operator.assert_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label}: {finished}/{bots} bots done after {timeout:.0f} s")
                time.sleep(0.25)
            cpu1, wall1 = _cpu_seconds(operator.pid), time.monotonic()
            peak = _peak_rss_mib(operator.pid)
        finally:
            operator.stop()
    return Run(label, bots, cpu1 - cpu0, wall1 - wall0, peak)


def _handled_by_kopf(bot: dict[str, Any]) -> bool:
    return KOPF_HANDLED in (bot.get("metadata", {}).get("annotations") or {})


def _reconciled(bot: dict[str, Any]) -> bool:
    return bot.get("status", {}).get("observedGeneration") == bot["metadata"].get("generation")


def measure(bots: int, *, timeout: float = 900.0) -> tuple[Run, Run]:
    """The empty handler's run and the operator's run, in that order."""
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        work = Path(tmp)
        empty_script = work / "empty_operator.py"
        empty_script.write_text(EMPTY_OPERATOR)
        (work / "empty").mkdir()
        (work / "operator").mkdir()
        liveness = ["--liveness", f"http://127.0.0.1:{_free_port()}/healthz"]
        floor = _measure(
            "empty handler",
            bots,
            work / "empty",
            module="kopf",
            args=["run", "--all-namespaces", "--peering=flash-green", *liveness, str(empty_script)],
            done=_handled_by_kopf,
            timeout=timeout,
        )
        ours = _measure(
            "operator",
            bots,
            work / "operator",
            module="arbitrage_operator",
            args=[f"--liveness=http://127.0.0.1:{_free_port()}/healthz"],
            done=_reconciled,
            timeout=timeout,
        )
    return floor, ours


def figures(floor: Run, ours: Run) -> list[dict[str, object]]:
    """The entries of bench/results.json."""
    return [
        figure("operator_cpu_ratio", ours.cpu_ms_per_bot, "ms CPU per bot", floor.cpu_ms_per_bot),
        figure("operator_wall_s", ours.wall_s, "s", floor.wall_s),
        figure("operator_peak_rss_mib", ours.peak_rss_mib, "MiB", floor.peak_rss_mib),
    ]


def report(floor: Run, ours: Run) -> str:
    """The printed summary."""
    ratio = ours.cpu_ms_per_bot / floor.cpu_ms_per_bot if floor.cpu_ms_per_bot else float("inf")
    lines = [f"{ours.bots} ArbitrageBots against kmock; CPU of the operator process only"]
    for run in (floor, ours):
        lines.append(
            f"  {run.label:<14} {run.cpu_ms_per_bot:7.2f} ms CPU/bot  ({run.cpu_s:6.2f} s CPU, "
            f"{run.wall_s:6.1f} s wall, peak RSS {run.peak_rss_mib:6.1f} MiB)"
        )
    verdict = "within" if ratio <= BUDGET else "over"
    lines.append(f"  ratio {ratio:.2f}x the empty handler ({verdict} the {BUDGET}x budget)")
    return "\n".join(lines)


def run(n: int = DEFAULT_BOTS) -> list[dict[str, object]]:
    """Measure both operators with `n` bots; print the summary; return the figures."""
    floor, ours = measure(n)
    print(report(floor, ours), flush=True)
    return figures(floor, ours)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.bench_operator --bots N`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_operator", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--bots", type=int, default=DEFAULT_BOTS, help=f"ArbitrageBots to create (default {DEFAULT_BOTS})"
    )
    options = parser.parse_args(argv)
    for entry in run(options.bots):
        print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
