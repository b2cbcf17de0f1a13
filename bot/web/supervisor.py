"""The control plane's processes: the trading loop the API supervises, and the guarded test runner.

One trading loop at a time. The orchestrator holds `{DATA_DIR}/orchestrator.lock` (its pid inside);
the supervisor starts one only when no live process holds that lock, reports an orchestrator
started elsewhere as `external` (never starts a second), and stops only the one it started:
SIGTERM, so the loop finishes or unwinds its cycle, then SIGKILL after a grace period.

The test runner runs `python -m pytest` in the repository with `-k`/`-m` expressions and an
allowlist of harmless flags, one run at a time, with a timeout and capped output.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, catalog

log = logging.getLogger(__name__)

EXIT_LOCK_HELD = 3  # the orchestrator's exit code when another instance holds the lock

# Settings the control plane never overrides, and why (the 422 says so).
PROTECTED_SETTINGS: dict[str, str] = {
    "DATA_DIR": "it locates the lock file that keeps one trading loop per bot",
    "DATABASE_URL": "the API and the orchestrator must share one journal",
    "METRICS_HOST": "who can reach the unauthenticated exporter is a deployment decision",
    "SECRETS_BACKEND": "it chooses where credentials come from",
    "VAULT_ADDR": "credentials are fetched from there",
    "VAULT_SECRET_PATH": "it chooses which credentials are fetched",
    "VAULT_MOUNT": "it chooses which credentials are fetched",
    "AWS_SECRETS_REGION": "it chooses which credentials are fetched",
    "AWS_SECRETS_ID": "it chooses which credentials are fetched",
    "POWERLEDGER_API_URL": "the Powerledger token is sent there",
    "ICE_API_URL": "the ICE key and secret are sent there",
    "FNALITY_REPO_API_URL": "the repo venue token is sent there",
    "LIVE_EXCHANGE": "the exchange key and secret are sent there",
    "HARDHAT_RPC": "transactions signed with the lender key are sent there",
}
_API_ONLY = (
    "API_KEY_ROLES",
    "API_HOST",
    "API_PORT",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "OIDC_JWKS_URL",
    "OIDC_ALLOWED_ALGORITHMS",
    "READER_ROLES",
    "CONTROL_PLANE_ROLES",
    "TRUSTED_PROXIES",
    "CLIENT_CERT_HEADER",
    "CLIENT_CERT_ROLES",
    "REQUIRE_HTTPS",
)
for _name in _API_ONLY:
    PROTECTED_SETTINGS[_name] = "it configures the API, not the trading loop"

_MAX_OVERRIDE_VALUE = 1000


def orchestrator_command() -> list[str]:
    """`python -m bot.orchestrator` with this interpreter."""
    return [sys.executable, "-m", "bot.orchestrator"]


def render_setting(value: Any) -> str:
    """A setting's value as its environment variable would spell it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, Decimal | Path):
        return str(value)
    return str(value)


def settings_env(settings: Settings, *, include_secrets: bool) -> dict[str, str | None]:
    """Every setting as env name -> text (None when unset); secrets only when asked for."""
    out: dict[str, str | None] = {}
    for info in catalog():
        value = getattr(settings, info.field)
        if info.secret:
            if not include_secrets:
                continue
            value = value.get_secret_value() if value is not None else None
        out[info.env] = None if value is None else render_setting(value)
    return out


def override_problems(overrides: Mapping[str, str]) -> list[str]:
    """One line per override that is not a known, non-secret, overridable setting."""
    known = {info.env: info for info in catalog()}
    problems = []
    for key, value in overrides.items():
        info = known.get(key)
        if info is None and key.strip().upper() in known:
            problems.append(f"{key} is not a setting name: use {key.strip().upper()}")
        elif info is None:
            problems.append(f"{key} is not a setting of this bot (see docs/configuration.md)")
        elif info.secret:
            problems.append(f"{key} is a secret and cannot be set from the control plane")
        elif key in PROTECTED_SETTINGS:
            problems.append(f"{key} cannot be overridden from the control plane: {PROTECTED_SETTINGS[key]}")
        elif len(value) > _MAX_OVERRIDE_VALUE or "\x00" in value:
            problems.append(f"{key}: value too long or not text")
    return problems


def validate_overrides(settings: Settings, overrides: Mapping[str, str]) -> tuple[Settings | None, list[str]]:
    """The effective settings with `overrides` applied, validated by the bot's own rules."""
    problems = override_problems(overrides)
    if problems:
        return None, problems
    merged = {k: v for k, v in settings_env(settings, include_secrets=True).items() if v is not None}
    merged.update(overrides)
    try:
        return Settings.from_mapping(merged, hydrate=False), []
    except ConfigError as exc:
        return None, list(exc.problems)


def child_environment(
    settings: Settings, overrides: Mapping[str, str], base: Mapping[str, str]
) -> dict[str, str]:
    """The orchestrator's environment: `base`, then the API's effective settings, then the overrides.

    The child runs with exactly the configuration this API validated (including values read from
    an env file or a secret backend); a setting unset here is removed, so nothing stale leaks in.
    """
    env = dict(base)
    for name, value in settings_env(settings, include_secrets=True).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / "orchestrator.lock"


def lock_holder(path: Path) -> int | None:
    """The pid of a live orchestrator named by the lock file, or None (no file, stale, unreadable)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        pid = int(text.split()[0]) if text else 0
    except (OSError, ValueError):
        return None
    if pid <= 0 or not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        try:
            command = cmdline.read_bytes()
        except OSError:
            return None
        if b"orchestrator" not in command and b"flash-green" not in command:
            return None  # the pid was reused by an unrelated process
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


class Redactor:
    """Masks every configured secret value in a line of output."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


# --------------------------------------------------------------------------------------------
# The trading loop


class OrchestratorConflict(Exception):
    """The request cannot be honoured in the loop's current state (a 409)."""


class OverrideRejected(Exception):
    """Overrides that are unknown, secret, protected or invalid (a 422)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoopStatus:
    state: str  # stopped | running | stopping | exited | external
    pid: int | None
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    supervised: bool
    stop_requested: bool
    overrides: dict[str, str]
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
        self._grace_s = grace_s if grace_s is not None else float(settings.order_timeout_secs) + 5.0
        self._early_exit_s = early_exit_s
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._echo = echo
        self._redact = Redactor(settings.secret_values())
        self._run: _Run | None = None
        self._lock = asyncio.Lock()

    # -- reading -----------------------------------------------------------------------
    def status(self, *, with_tail: bool = False) -> LoopStatus:
        """The loop's state now: the one supervised here, else one holding the lock, else stopped."""
        run = self._run
        tail = tuple(self._tail) if with_tail else ()
        if run is not None and run.exit_code is None:
            return LoopStatus(
                state="stopping" if run.stop_requested else "running",
                pid=run.process.pid,
                exit_code=None,
                started_at=run.started_at,
                finished_at=None,
                supervised=True,
                stop_requested=run.stop_requested,
                overrides=dict(run.overrides),
                log_tail=tail,
                metrics_port=run.metrics_port,
            )
        external = lock_holder(lock_path(self._settings))
        if external is not None:
            return LoopStatus(
                state="external",
                pid=external,
                exit_code=None,
                started_at=None,
                finished_at=None,
                supervised=False,
                stop_requested=False,
                overrides={},
                log_tail=tail,
                metrics_port=self._settings.metrics_port,
            )
        if run is not None:
            return LoopStatus(
                state="exited",
                pid=run.process.pid,
                exit_code=run.exit_code,
                started_at=run.started_at,
                finished_at=run.finished_at,
                supervised=True,
                stop_requested=run.stop_requested,
                overrides=dict(run.overrides),
                log_tail=tail,
                metrics_port=None,
            )
        return LoopStatus(
            state="stopped",
            pid=None,
            exit_code=None,
            started_at=None,
            finished_at=None,
            supervised=False,
            stop_requested=False,
            overrides={},
            log_tail=tail,
            metrics_port=None,
        )

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
                external = lock_holder(lock_path(self._settings))
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
        _signal_group(run.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(run.exited.wait(), timeout=self._grace_s)
        except TimeoutError:
            log.warning("orchestrator did not stop within %.0f s; killing it", self._grace_s)
            _signal_group(run.process.pid, signal.SIGKILL)
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


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# --------------------------------------------------------------------------------------------
# The test runner

# Flags that only change what pytest prints or which tests it picks, never what code it loads.
ALLOWED_FLAGS = frozenset(
    {
        "-q",
        "-qq",
        "-v",
        "-vv",
        "-x",
        "--exitfirst",
        "--lf",
        "--last-failed",
        "--ff",
        "--failed-first",
        "--nf",
        "--new-first",
        "--co",
        "--collect-only",
        "-ra",
        "-rA",
        "-rf",
        "-rs",
        "-l",
        "--showlocals",
        "--no-header",
        "--no-summary",
        "--tb=auto",
        "--tb=short",
        "--tb=long",
        "--tb=line",
        "--tb=native",
        "--tb=no",
        "--strict-markers",
        "--runxfail",
    }
)
NUMERIC_FLAG_PATTERN = r"^--(maxfail|durations)=[0-9]{1,4}$"
# -k/-m expressions: names, brackets, spaces, and/or/not; never starting like an option.
EXPRESSION_PATTERN = r"^([A-Za-z0-9_.\[\]():/,][A-Za-z0-9_ .\[\]()\-:/,]*)?$"
_NUMERIC_FLAGS = re.compile(NUMERIC_FLAG_PATTERN)
_EXPRESSION = re.compile(EXPRESSION_PATTERN)
DEFAULT_OUTPUT_CAP = 128 * 1024
_HEAD_SHARE = 16 * 1024


class SuiteBusy(Exception):
    """A test run is already in progress."""


class SuiteRejected(Exception):
    """Arguments outside the allowlist."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SuiteUnavailable(Exception):
    """This installation carries no test suite."""


@dataclass(frozen=True, slots=True)
class SuiteRun:
    state: str  # running | passed | failed | timed_out | error
    args: tuple[str, ...]
    exit_code: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    output: str
    cut_bytes: int


def suite_arguments(k: str | None, markers: str | None, flags: Sequence[str]) -> tuple[list[str], list[str]]:
    """The pytest arguments for a request, or the problems that refuse it."""
    problems = []
    args: list[str] = []
    for flag in flags:
        if flag in ALLOWED_FLAGS or _NUMERIC_FLAGS.match(flag):
            args.append(flag)
        else:
            problems.append(
                f"flag {flag!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_FLAGS))}, "
                "--maxfail=N, --durations=N)"
            )
    for option, expression in (("-k", k), ("-m", markers)):
        if expression is None or not expression.strip():
            continue
        if not _EXPRESSION.match(expression):
            problems.append(
                f"{option} expression {expression!r} may hold only letters, digits, spaces "
                "and _ . [ ] ( ) - : / , and may not start with a space or -"
            )
        else:
            args += [option, expression.strip()]
    return args, problems


class CappedOutput:
    """Keeps the head and the tail of a stream within `cap` bytes and counts what was cut between."""

    def __init__(self, cap: int) -> None:
        self._head_cap = min(_HEAD_SHARE, cap // 4)
        self._tail_cap = cap - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self.cut = 0

    def feed(self, chunk: bytes) -> None:
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        overflow = len(self._tail) - self._tail_cap
        if overflow > 0:
            del self._tail[:overflow]
            self.cut += overflow

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.cut:
            return f"{head}\n[... {self.cut} bytes of output cut ...]\n{tail}"
        return head + tail


class SuiteRunner:
    """Runs the project's test suite, one run at a time."""

    def __init__(
        self,
        repo_root: Path,
        *,
        test_path: str = "tests",
        timeout_s: float = 300.0,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        secrets: Iterable[str] = (),
    ) -> None:
        self._root = repo_root
        self._test_path = test_path
        self._timeout_s = timeout_s
        self._cap = output_cap
        self._redact = Redactor(secrets)
        self._lock = asyncio.Lock()
        self._current: SuiteRun | None = None
        self._last: SuiteRun | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def last(self) -> SuiteRun | None:
        """The run in progress, else the last finished run."""
        return self._current or self._last

    async def run(
        self, *, k: str | None, markers: str | None, flags: Sequence[str], timeout_s: float | None
    ) -> SuiteRun:
        """Run pytest; raises `SuiteBusy`, `SuiteRejected` or `SuiteUnavailable`."""
        args, problems = suite_arguments(k, markers, flags)
        if problems:
            raise SuiteRejected(problems)
        if not (self._root / self._test_path).exists():
            raise SuiteUnavailable(f"no test suite at {self._test_path}/ in this installation")
        if self._lock.locked():
            raise SuiteBusy("a test run is already in progress; wait for it to finish")
        timeout = min(timeout_s or self._timeout_s, self._timeout_s)
        async with self._lock:
            full_args = ["-p", "no:cacheprovider", "--color=no", *args, self._test_path]
            started = datetime.now(UTC)
            self._current = SuiteRun("running", tuple(full_args), None, started, None, None, "", 0)
            try:
                result = await self._execute(full_args, started, timeout)
            finally:
                self._current = None
            self._last = result
            return result

    async def close(self) -> None:
        """Kill a run in progress (server shutdown)."""
        if self._process is not None and self._process.returncode is None:
            _signal_group(self._process.pid, signal.SIGKILL)

    async def _execute(self, args: list[str], started: datetime, timeout: float) -> SuiteRun:
        output = CappedOutput(self._cap)
        clock = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pytest",
            *args,
            cwd=self._root,
            env=_suite_environment(os.environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the whole tree is killed on timeout
        )
        self._process = process
        state = "error"
        try:
            await asyncio.wait_for(_drain(process, output), timeout=timeout)
            code = await process.wait()
            state = "passed" if code == 0 else "failed"
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
            state = "timed_out"
            output.feed(f"\n[test run stopped after the {timeout:.0f} s timeout]\n".encode())
        except asyncio.CancelledError:
            # The request went away (server shutdown): the run must not outlive it.
            _signal_group(process.pid, signal.SIGKILL)
            raise
        finally:
            self._process = None
        duration = time.monotonic() - clock
        return SuiteRun(
            state=state,
            args=tuple(args),
            exit_code=process.returncode,
            started_at=started,
            finished_at=datetime.now(UTC),
            duration_s=round(duration, 3),
            output=self._redact(output.text()),
            cut_bytes=output.cut,
        )


async def _drain(process: asyncio.subprocess.Process, output: CappedOutput) -> None:
    assert process.stdout is not None
    while chunk := await process.stdout.read(65536):
        output.feed(chunk)


def _suite_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The server's environment without any bot setting: tests build their own, simulated ones."""
    names = {info.env for info in catalog()}
    env = {key: value for key, value in base.items() if key.upper() not in names}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
