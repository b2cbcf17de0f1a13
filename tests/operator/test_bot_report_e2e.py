"""A trading bot's own report on its resource, and the Events that tell its story, end to end.

A real bot (`flash-green run --simulated`: API and orchestrator, trading the simulated markets)
runs on loopback; the operator (`python -m arbitrage_operator`) runs against kmock with its bot
URL pointed at that API. The operator reads the API with the key from the bot's Secret and
writes PnL, trades and health into the ArbitrageBot's status; real `kubectl get arb` prints them.
"""

from __future__ import annotations

import base64
import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.bot_env import simulated_bot_env
from tests.fixtures.bot_process import PAYING, paying_seed
from tests.fixtures.chart import TOOLS_BIN, find_or_fetch_helm
from tests.fixtures.kube import BOTS, KubeEmulator, OperatorProcess, free_port, running_operator, wait_for

NS = "desk-r"
KEY = "report-e2e-key-0123456789"
EVENTS = "v1/events"
SPEC: dict[str, Any] = {
    "tradingWindow": {"utc": "00:00-24:00", "allowWeekends": True},
    "apiKeySecretRef": {"name": "trader-api", "key": "API_KEY"},
}


def bot(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": NS},
        "spec": copy.deepcopy(spec),
    }


def status_of(kube: KubeEmulator, name: str) -> dict[str, Any]:
    return dict((kube.get(BOTS, NS, name) or {}).get("status") or {})


def events_of(kube: KubeEmulator, name: str) -> dict[str, dict[str, Any]]:
    """The bot's Events by reason (each reason is one Event, counted)."""
    return {e["reason"]: e for e in kube.list(EVENTS, NS) if e.get("involvedObject", {}).get("name") == name}


def table_row(output: str) -> dict[str, str]:
    """kubectl's first row by column: each cell starts where its header starts."""
    header, row = output.splitlines()[:2]
    found = list(re.finditer(r"\S+(?: \S+)*", header))  # names hold single spaces, columns 2+ apart
    starts = [m.start() for m in found] + [len(row) + 1]
    return {m.group(): row[starts[i] : starts[i + 1]].strip() for i, m in enumerate(found)}


class RunningBot:
    """`flash-green run --simulated` on loopback: the API on `port`, the orchestrator beside it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = simulated_bot_env(
            workdir,
            API_KEY=KEY,
            API_HOST="127.0.0.1",
            API_PORT=str(self.port),
            METRICS_PORT=str(free_port()),
            BOT_NAME="trader",
            CYCLE_INTERVAL_SECS="0.02",
            SIM_SEED=str(paying_seed(60)),
            **PAYING,
        )
        self.log = workdir / "bot.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--simulated"],
                cwd=workdir,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=10)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return dict(response.json())

    def reads_of(self, route: str) -> float:
        """How many GET requests the API has served on `route` (its own request counter)."""
        text = self.client.get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "api_requests_total"
            and sample.labels.get("route") == route
            and sample.labels.get("method") == "GET"
        )

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def trader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    running = RunningBot(tmp_path_factory.mktemp("trader"))
    try:
        wait_for(lambda: _answers(running), timeout=30, what="the bot's API to answer")
        yield running
    except BaseException:
        sys.stderr.write(f"--- bot log ---\n{running.log.read_text(errors='replace')[-4000:]}\n")
        raise
    finally:
        running.stop()


def _answers(running: RunningBot) -> bool:
    try:
        return running.client.get("/readyz").status_code in (200, 503)
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def reporting_operator(
    kube: KubeEmulator, trader: RunningBot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator, reading every ready bot's API at the trader's address twice a second."""
    workdir = tmp_path_factory.mktemp("reporting-operator")
    env = {"FLASH_GREEN_BOT_URL_TEMPLATE": trader.url, "FLASH_GREEN_BOT_STATUS_PERIOD": "0.5"}
    with running_operator(
        kube, workdir, args=[f"--liveness=http://127.0.0.1:{free_port()}/healthz"], env=env
    ) as op:
        yield op


@pytest.fixture(scope="module")
def settled(kube: KubeEmulator, trader: RunningBot, reporting_operator: OperatorProcess) -> dict[str, Any]:
    """The trader's resource once it traded, its loop was stopped and the status caught up with it."""
    kube.create(
        "v1/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "trader-api", "namespace": NS},
            "data": {"API_KEY": base64.b64encode(KEY.encode()).decode()},
        },
    )
    kube.create(BOTS, bot("trader", SPEC))
    wait_for(lambda: kube.get("apps/v1/deployments", NS, "trader"), what="the trader's Deployment")
    kube.set_deployment_available(NS, "trader")  # what the Deployment controller would write
    wait_for(lambda: (status_of(kube, "trader").get("tradesToday") or 0) >= 1, timeout=40, what="a trade")
    trader.client.post("/control/orchestrator/stop").raise_for_status()
    today = trader.get("/pnl", days=1)["today"]

    def caught_up() -> dict[str, Any] | None:
        status = status_of(kube, "trader")
        fresh = trader.get("/pnl", days=1)["today"]
        if (status.get("pnlTodayGBP"), status.get("tradesToday")) == (fresh["realised_gbp"], fresh["trades"]):
            return status
        return None

    status = wait_for(caught_up, timeout=20, what="the status to show the stopped bot's PnL")
    return {"status": status, "today": trader.get("/pnl", days=1)["today"], "first": today}


def test_a_trading_bots_pnl_and_trades_land_on_its_resource(settled: dict[str, Any]) -> None:
    # given a bot that traded, read by the operator through its API
    status, today = settled["status"], settled["today"]
    # then its status carries today's PnL and trades as the bot reports them, and its health
    assert status["pnlTodayGBP"] == today["realised_gbp"]
    assert status["tradesToday"] == today["trades"] >= 1
    assert status["pnlDay"] == today["day"]
    assert status["lastTradeAt"].endswith("Z")
    assert status["botApi"] == {"reachable": True}
    assert status["journal"] == {"engine": "sqlite", "reachable": True}
    assert [(v["leg"], v["up"]) for v in status["venues"]] == [("power", True), ("futures", True)]
    assert KEY not in str(status)


def test_real_kubectl_get_shows_the_pnl_trades_and_last_trade_columns(
    kube: KubeEmulator, settled: dict[str, Any], tmp_path: Path
) -> None:
    # given the real kubectl and a kubeconfig for the emulator
    if isinstance(found := find_or_fetch_helm(), str):
        pytest.skip(found)
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    # when a user lists the bots
    result = subprocess.run(
        [str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(kubeconfig), "get", "arb", "trader", "-n", NS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # then the PNL and TRADES columns hold the bot's figures
    cells = table_row(result.stdout)
    assert cells["NAME"] == "trader"
    assert cells["PNL"] == settled["today"]["realised_gbp"]
    assert cells["TRADES"] == str(settled["today"]["trades"])
    assert "LAST TRADE" in cells


def test_a_refresh_with_nothing_new_writes_nothing(
    kube: KubeEmulator, trader: RunningBot, settled: dict[str, Any]
) -> None:
    # given the stopped bot's figures already on its resource
    status_path = f"/apis/arbitrage.flashgreen.dev/v1alpha1/namespaces/{NS}/arbitragebots/trader/status"

    def patches() -> int:
        return sum(1 for method, path in kube.requests_made() if method == "PATCH" and path == status_path)

    before_patches, before_reads = patches(), trader.reads_of("/pnl")
    # when the operator reads the bot's API twice more
    wait_for(lambda: trader.reads_of("/pnl") >= before_reads + 2, timeout=10, what="two more reads")
    # then it wrote nothing to the resource
    assert patches() == before_patches


def test_pause_resume_and_an_invalid_spec_are_events_counted_not_repeated(
    kube: KubeEmulator, reporting_operator: OperatorProcess
) -> None:
    # given a reconciled bot
    kube.create(BOTS, bot("story", {"tradingWindow": SPEC["tradingWindow"]}))
    wait_for(lambda: status_of(kube, "story").get("conditions"), what="story reconciled")
    # when it is paused, resumed and paused again within a minute
    for paused, reason in ((True, "Paused"), (False, "Resumed"), (True, "Paused")):
        kube.patch_spec(NS, "story", {"paused": paused})
        generation = kube.get(BOTS, NS, "story")["metadata"]["generation"]
        wait_for(
            lambda g=generation: status_of(kube, "story").get("observedGeneration") == g, what="reconciled"
        )
        wait_for(lambda r=reason: r in events_of(kube, "story"), what=f"a {reason} Event")
    # and its spec turns invalid
    kube.patch_spec(NS, "story", {"risk": {"loanLimitGBP": "-5"}})
    found = wait_for(lambda: events_of(kube, "story").get("ConfigInvalid"), what="a ConfigInvalid Event")
    # then each is one Event with a CamelCase reason, the repeated pause counted on the first one
    events = events_of(kube, "story")
    assert events["Paused"]["count"] == 2
    assert events["Resumed"]["count"] == 1
    assert found["type"] == "Warning"
    assert "spec.risk.loanLimitGBP" in found["message"]
    assert len([e for e in kube.list(EVENTS, NS) if e.get("reason") == "Paused"]) == 1


def test_a_ready_bot_that_started_trading_says_so_in_events(
    settled: dict[str, Any], kube: KubeEmulator
) -> None:
    # given the trader, which became ready and traded
    events = events_of(kube, "trader")
    # then its Events tell it
    assert events["BecameReady"]["type"] == "Normal"
    assert "TradingStarted" in events


def test_a_bot_that_stops_answering_is_reported_unreachable_keeping_todays_pnl(
    kube: KubeEmulator, trader: RunningBot, settled: dict[str, Any]
) -> None:
    # given the trader's figures on its resource (this test runs last: it stops the module's bot)
    # when the bot's process goes away
    trader.stop()
    # then the status says its API cannot be read, keeps today's PnL and drops the venues' health
    status = wait_for(
        lambda: (s := status_of(kube, "trader")).get("botApi", {}).get("reachable") is False and s,
        what="the bot reported unreachable",
    )
    assert status["botApi"]["message"].startswith(f"cannot reach the bot's API at {trader.url} (")
    assert status["pnlTodayGBP"] == settled["today"]["realised_gbp"]
    assert "venues" not in status
    assert status["journal"] == {"engine": "sqlite"}
    assert KEY not in str(status)
