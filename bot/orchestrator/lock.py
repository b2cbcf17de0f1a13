"""One trading loop per data directory: an exclusive lock file holding the owner's pid."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "orchestrator.lock"


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
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self.path, holder_pid(self.path.parent)) from None
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


def holder_pid(data_dir: Path) -> int | None:
    """The pid of the running orchestrator for this data directory, or None when none runs."""
    path = Path(data_dir) / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # we could lock it: nobody holds it
    finally:
        os.close(fd)
