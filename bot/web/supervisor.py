"""The trading loop the API supervises: start it, watch it, stop it.

One trading loop at a time. The orchestrator holds `{DATA_DIR}/orchestrator.lock`
(`bot.orchestrator.lock`); the supervisor starts one only when nobody holds that lock, reports an
orchestrator started elsewhere as `external` (never starts a second), and stops only the one it
started: SIGTERM, so the loop finishes or unwinds its cycle, then SIGKILL after a grace period.
What the loop may be started with is decided in `bot.web.overrides`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.domain.shutdown import ShutdownBudget
from bot.logs import log_secrets
from bot.orchestrator.lock import holder_pid
from bot.redaction import SecretMask
from bot.web.overrides import child_environment, validate_overrides

log = logging.getLogger(__name__)


def orchestrator_command() -> list[str]:
    """`python -m bot.orchestrator` with this interpreter."""
    return [sys.executable, "-m", "bot.orchestrator"]


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `pid` (a child started in a new session), if it still exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that has the child get SIGTERM if the API dies (no orphaned loop)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl  # resolved before fork: nothing is loaded in the child
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return hook


class OrchestratorConflict(Exception):
    """The request cannot be honoured in the loop's current state (a 409)."""


class OverrideRejected(Exception):
    """Overrides that are unknown, secret, protected or invalid (a 422)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """The trading loop as the control plane reports it (the defaults describe no loop of ours)."""

    state: str  # stopped | running | stopping | exited | external
    pid: int | None = None
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    supervised: bool = False
    stop_requested: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    log_tail: tuple[str, ...] = ()
    metrics_port: int | None = None


@dataclass(slots=True)
class _Run:
    process: asyncio.subprocess.Process
    overrides: dict[str, str]
    settings: Settings  # the API's settings with the overrides applied
    metrics_port: int
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    stop_requested: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self, state: str, log_tail: tuple[str, ...], metrics_port: int | None) -> LoopStatus:
        return LoopStatus(
            state=state,
            pid=self.process.pid,
            exit_code=self.exit_code,
            started_at=self.started_at,
            finished_at=self.finished_at,
            supervised=True,
            stop_requested=self.stop_requested,
            overrides=dict(self.overrides),
            log_tail=log_tail,
            metrics_port=metrics_port,
        )


class OrchestratorSupervisor:
    """Starts, watches and stops the one trading loop this API is responsible for."""

    def __init__(
        self,
        settings: Settings,
        *,
        command: Sequence[str] | None = None,
        grace_s: float | None = None,
        early_exit_s: float = 0.5,
        tail_lines: int = 200,
        echo: bool = True,
    ) -> None:
        self._settings = settings
        self._command = list(command) if command else orchestrator_command()
        # Long enough for the loop to time out its orders and unwind the cycle in flight.
        self._grace_s = (
            grace_s
            if grace_s is not None
            else float(ShutdownBudget.for_timeout(settings.order_timeout_secs).loop_stop_s)
        )
        self._early_exit_s = early_exit_s
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._echo = echo
        self._redact = SecretMask(log_secrets(settings))
        self._run: _Run | None = None
        self._lock = asyncio.Lock()

    # -- reading -----------------------------------------------------------------------
    def status(self, *, with_tail: bool = False) -> LoopStatus:
        """The loop's state now: the one supervised here, else one holding the lock, else stopped."""
        run = self._run
        tail = tuple(self._tail) if with_tail else ()
        if run is not None and run.exit_code is None:
            return run.status("stopping" if run.stop_requested else "running", tail, run.metrics_port)
        external = holder_pid(self._settings.data_dir)
        if external is not None:
            return LoopStatus(
                state="external", pid=external, log_tail=tail, metrics_port=self._settings.metrics_port
            )
        if run is not None:
            return run.status("exited", tail, None)
        return LoopStatus(state="stopped", log_tail=tail)

    @property
    def effective_settings(self) -> Settings:
        """The running loop's settings (the API's with its overrides), else the API's own."""
        run = self._run
        if run is not None and run.exit_code is None:
            return run.settings
        return self._settings

    @property
    def metrics_port(self) -> int:
        """Where the running loop's exporter listens (its override, or METRICS_PORT)."""
        run = self._run
        if run is not None and run.exit_code is None:
            return run.metrics_port
        return self._settings.metrics_port

    @property
    def failed(self) -> bool:
        """The loop started here ended on its own with an error (not stopped on request)."""
        run = self._run
        return run is not None and run.exit_code not in (None, 0) and not run.stop_requested

    # -- acting ------------------------------------------------------------------------
    async def start(self, overrides: Mapping[str, str]) -> LoopStatus:
        """Start `python -m bot.orchestrator` with `overrides`; raises on conflict or bad overrides."""
        effective, problems = validate_overrides(self._settings, overrides)
        if effective is None:
            raise OverrideRejected(problems)
        async with self._lock:
            current = self.status()
            if current.state in ("running", "stopping", "external"):
                raise OrchestratorConflict(
                    f"an orchestrator is already {current.state} (pid {current.pid}); stop it first"
                    if current.state != "external"
                    else f"an orchestrator started elsewhere holds the lock (pid {current.pid}); "
                    "this API will not start a second trading loop"
                )
            env = child_environment(self._settings, overrides, os.environ)
            self._tail.clear()
            process = await asyncio.create_subprocess_exec(
                *self._command,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C to the API reaches the loop as our SIGTERM, not a SIGINT
                preexec_fn=_parent_death_signal(),  # only prctl runs between fork and exec
            )
            run = _Run(
                process=process,
                overrides=dict(overrides),
                settings=effective,
                metrics_port=effective.metrics_port,
                started_at=datetime.now(UTC),
            )
            self._run = run
            run.tasks.append(asyncio.create_task(self._pump_output(process)))
            run.tasks.append(asyncio.create_task(self._watch(run)))
            log.info(
                "orchestrator started", extra={"fields": {"pid": process.pid, "overrides": sorted(overrides)}}
            )
            # An orchestrator that fails at once (bad configuration, lock held) is reported by this call.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.exited.wait(), timeout=self._early_exit_s)
            return self.status(with_tail=True)

    async def stop(self) -> LoopStatus:
        """SIGTERM the loop started here, SIGKILL it after the grace period; its final status."""
        async with self._lock:
            run = self._run
            if run is None or run.exit_code is not None:
                external = holder_pid(self._settings.data_dir)
                if external is not None:
                    raise OrchestratorConflict(
                        f"the running orchestrator (pid {external}) was not started by this API; "
                        "stop it where it was started"
                    )
                raise OrchestratorConflict("no orchestrator is running")
            await self._terminate(run)
            return self.status(with_tail=True)

    async def close(self) -> None:
        """Stop the loop started here, if any (server shutdown)."""
        async with self._lock:
            run = self._run
            if run is not None and run.exit_code is None:
                await self._terminate(run)

    async def _terminate(self, run: _Run) -> None:
        run.stop_requested = True
        signal_group(run.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(run.exited.wait(), timeout=self._grace_s)
        except TimeoutError:
            log.warning("orchestrator did not stop within %.0f s; killing it", self._grace_s)
            signal_group(run.process.pid, signal.SIGKILL)
            await run.exited.wait()

    async def _watch(self, run: _Run) -> None:
        code = await run.process.wait()
        # Let the output pump drain the last lines before the status says "exited".
        if run.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(run.tasks[0]), timeout=2.0)
        run.exit_code = code
        run.finished_at = datetime.now(UTC)
        run.exited.set()
        if code != 0 and not run.stop_requested:
            log.warning("orchestrator exited with code %s", code)
        else:
            log.info("orchestrator exited with code %s", code)

    async def _pump_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        pending = b""
        while True:
            chunk = await process.stdout.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._keep(raw)
            if len(pending) > 65536:  # a runaway line: keep it, cut
                self._keep(pending)
                pending = b""
        if pending:
            self._keep(pending)

    def _keep(self, raw: bytes) -> None:
        line = self._redact(raw.decode("utf-8", errors="replace").rstrip("\r"))
        self._tail.append(line[:2000])
        if self._echo:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(line + "\n")
