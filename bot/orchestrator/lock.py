"""One trading loop per data directory: an exclusive lock file holding the owner's pid.

`holder_pid` tells who holds it without guessing from the pid alone (the lock, not the file's
text, decides), and `EXIT_ALREADY_RUNNING` is the orchestrator's exit code when it is held, so a
supervisor can tell that refusal from any other failure.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_NAME = "orchestrator.lock"
EXIT_ALREADY_RUNNING = 3  # `python -m bot.orchestrator` exits with this when another one holds the lock
# `holder_pid` takes a shared lock for a few microseconds to probe; an orchestrator starting at
# that moment tries again briefly instead of reporting a running one that does not exist.
_ACQUIRE_ATTEMPTS = 5
_ACQUIRE_RETRY_S = 0.01


class AlreadyRunning(RuntimeError):
    """Another orchestrator holds the lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"an orchestrator is already running ({who}, lock {path}); stop it first")
        self.pid = pid


class PidLock:
    """`flock` on `{data_dir}/orchestrator.lock`; released when the process exits, even on SIGKILL."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _lock_exclusive(fd):
            os.close(fd)
            raise AlreadyRunning(self.path, holder_pid(self.path.parent))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _lock_exclusive(fd: int) -> bool:
    """Take the exclusive lock without waiting for a holder; a `holder_pid` probe is waited out."""
    for attempt in range(_ACQUIRE_ATTEMPTS):
        if attempt:
            time.sleep(_ACQUIRE_RETRY_S)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


def holder_pid(data_dir: Path) -> int | None:
    """The pid of the running orchestrator for this data directory, or None when none runs.

    None also when the lock file cannot be opened, or is held but names no pid yet (its holder
    is between taking the lock and writing its pid).
    """
    path = Path(data_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no file (no orchestrator ever ran here), or not ours to read
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # we could lock it: nobody holds it
    finally:
        os.close(fd)
