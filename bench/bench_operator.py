"""Operator cost: CPU time of the operator process per reconciled bot, against two floors.

Three runs, each against a fresh kmock (the Kubernetes API emulator) on loopback, each with the
same N ArbitrageBots (the staging example, its API-key Secret present):

- the empty handler: kopf with one empty `@kopf.on.create` handler for ArbitrageBots; a bot is
  done when kopf has recorded it as handled (its last-handled-configuration annotation);
- the API floor: kopf, tuned as the operator tunes it, with a handler that makes the operator's
  API calls per bot (read the Secret, read the four children's names, create them, write the
  status in kopf's own write) with bodies built once, and an empty Deployment watcher: the cost
  of the framework and of the calls, with none of the operator's own work;
- the operator, `python -m arbitrage_operator`; a bot is done when its status is written, which
  happens only after its ConfigMap, PersistentVolumeClaim, Service and Deployment were applied.

Only the operator process is measured (user + system CPU from /proc/<pid>/stat, between the
first bot created and the last one done; startup excluded), because kmock's own cost grows
faster than linearly with the number of objects and dominates wall time. Peak memory is the
process's VmHWM. Budget: at most 1.3x the API floor's CPU per bot (`operator_overhead_ratio`);
the ratio to the empty handler is printed beside it.

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
BUDGET = 1.3
KOPF_HANDLED = "kopf.zalando.org/last-handled-configuration"

EMPTY_OPERATOR = """
import kopf


@kopf.on.create("arbitrage.flashgreen.dev", "v1alpha1", "arbitragebots")
async def created(**_):
    return None
"""


# The operator's API calls per bot with bodies built once: a Secret read, a read of each child's
# name, their creation and the status in kopf's write. Tuned as the operator tunes kopf.
FLOOR_OPERATOR = """
import copy
import logging

import kopf
import yaml

from arbitrage_operator.kube import KubeApi, object_path, path_of
from arbitrage_operator.manifests import OperatorDefaults, build_children
from arbitrage_operator.spec import build_config

RESOURCE = ("arbitrage.flashgreen.dev", "v1alpha1", "arbitragebots")
API = KubeApi()
TEMPLATE = []
STATUS = {"phase": "Starting", "observedGeneration": 1}


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_):
    settings.scanning.disabled = True
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(name="kopf")
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name="kopf")
    settings.posting.level = logging.WARNING
    spec = yaml.safe_load(open("examples/staging-bot.yaml"))["spec"]
    keys = {spec["apiKeySecretRef"]["name"]: frozenset({"API_KEY"})}
    config = build_config("tmpl", spec, keys)
    defaults = OperatorDefaults()
    TEMPLATE.extend(build_children("tmpl", "tmpl", spec, config, defaults, servicemonitor_api=False))


@kopf.on.login()
async def login(logger, **kwargs):
    info = kopf.login_via_client(logger=logger, **kwargs)
    API.use(info)
    return info


@kopf.on.create(*RESOURCE)
async def created(name, namespace, spec, body, patch, **_):
    await API.get(object_path("v1", "Secret", namespace, spec["apiKeySecretRef"]["name"]))
    children = []
    for template in TEMPLATE:
        child = copy.deepcopy(template)
        child["metadata"]["name"] = child["metadata"]["name"].replace("tmpl", name, 1)
        child["metadata"]["namespace"] = namespace
        kopf.adopt(child, owner=body)
        children.append(child)
    for child in children:
        await API.get(path_of(child))
    for child in children:
        await API.create(child)
    patch.status.update(STATUS)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_changed(**_):
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


def _floor_done(bot: dict[str, Any]) -> bool:
    return bot.get("status", {}).get("observedGeneration") == 1


def measure(bots: int, *, timeout: float = 900.0) -> tuple[Run, Run, Run]:
    """The empty handler's, the API floor's and the operator's runs, in that order."""
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        work = Path(tmp)
        empty_script = work / "empty_operator.py"
        empty_script.write_text(EMPTY_OPERATOR)
        floor_script = work / "floor_operator.py"
        floor_script.write_text(FLOOR_OPERATOR)
        for label in ("empty", "floor", "operator"):
            (work / label).mkdir()
        liveness = ["--liveness", f"http://127.0.0.1:{_free_port()}/healthz"]
        empty = _measure(
            "empty handler",
            bots,
            work / "empty",
            module="kopf",
            args=["run", "--all-namespaces", "--peering=flash-green", *liveness, str(empty_script)],
            done=_handled_by_kopf,
            timeout=timeout,
        )
        floor = _measure(
            "API floor",
            bots,
            work / "floor",
            module="kopf",
            args=[
                "run",
                "--all-namespaces",
                "--peering=flash-green",
                f"--liveness=http://127.0.0.1:{_free_port()}/healthz",
                str(floor_script),
            ],
            done=_floor_done,
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
    return empty, floor, ours


def _ratio(value: float, floor: float) -> float:
    return value / floor if floor else float("inf")


def figures(empty: Run, floor: Run, ours: Run) -> list[dict[str, object]]:
    """The entries of bench/results.json."""
    return [
        figure("operator_overhead_ratio", ours.cpu_ms_per_bot, "ms CPU per bot", floor.cpu_ms_per_bot),
        figure("operator_cpu_ratio", ours.cpu_ms_per_bot, "ms CPU per bot", empty.cpu_ms_per_bot),
        figure("operator_wall_s", ours.wall_s, "s", floor.wall_s),
        figure("operator_peak_rss_mib", ours.peak_rss_mib, "MiB", floor.peak_rss_mib),
    ]


def report(empty: Run, floor: Run, ours: Run) -> str:
    """The printed summary."""
    overhead = _ratio(ours.cpu_ms_per_bot, floor.cpu_ms_per_bot)
    lines = [f"{ours.bots} ArbitrageBots against kmock; CPU of the operator process only"]
    for run in (empty, floor, ours):
        lines.append(
            f"  {run.label:<14} {run.cpu_ms_per_bot:7.2f} ms CPU/bot  ({run.cpu_s:6.2f} s CPU, "
            f"{run.wall_s:6.1f} s wall, peak RSS {run.peak_rss_mib:6.1f} MiB)"
        )
    verdict = "within" if overhead <= BUDGET else "over"
    lines.append(f"  ratio {overhead:.2f}x the API floor ({verdict} the {BUDGET}x budget)")
    lines.append(f"  ratio {_ratio(ours.cpu_ms_per_bot, empty.cpu_ms_per_bot):.2f}x the empty handler")
    return "\n".join(lines)


def run(n: int = DEFAULT_BOTS) -> list[dict[str, object]]:
    """Measure the three with `n` bots; print the summary; return the figures."""
    empty, floor, ours = measure(n)
    print(report(empty, floor, ours), flush=True)
    return figures(empty, floor, ours)


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
