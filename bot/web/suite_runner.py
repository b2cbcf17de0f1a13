"""The control plane's test runner: `python -m pytest` on the project's suite, guarded.

`-k`/`-m` expressions and an allowlist of harmless flags only (nothing that changes what code
pytest loads), one run at a time, with a timeout that kills the whole process tree and capped
output (head and tail kept, the cut counted), secrets masked.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import catalog
from bot.redaction import SecretMask
from bot.web.supervisor import signal_group

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
        self._redact = SecretMask(secrets)
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
            signal_group(self._process.pid, signal.SIGKILL)

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
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
            state = "timed_out"
            output.feed(f"\n[test run stopped after the {timeout:.0f} s timeout]\n".encode())
        except asyncio.CancelledError:
            # The request went away (server shutdown): the run must not outlive it.
            signal_group(process.pid, signal.SIGKILL)
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
