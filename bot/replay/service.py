"""Replays started by the API: one at a time, in a worker thread, cancellable, files from DATA_DIR only.

Each replay writes to `DATA_DIR/replays/<id>/` with the CLI's own code (`run_replay`: atomic
output, its own journal), so the API and `flash-green replay` cannot give different answers.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.config import ConfigError
from bot.replay.backtest import REPORT_HTML, REPORT_JSON, ReplayRequest, config_message, run_replay
from bot.replay.errors import ReplayError
from bot.replay.runner import ReplayCancelled

REPLAYS_DIR = "replays"
State = Literal["idle", "running", "done", "failed", "cancelled"]


class ReplayBusy(ReplayError):
    """A replay is running already (one at a time)."""


class ReplayRefused(ReplayError):
    """The request names a file outside the data directory (or no file name at all)."""


class ReplayFileMissing(ReplayError):
    """The request names a file inside the data directory that is not there."""


@dataclass(frozen=True)
class ReplayJob:
    """What the API says about the current (or last) replay."""

    state: State
    replay_id: str | None = None
    file: str | None = None
    rows_read: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    output: Path | None = field(default=None, repr=False)


def inside(data_dir: Path, name: str) -> Path:
    """`name` resolved inside `data_dir` (symbolic links followed); `ReplayRefused` otherwise."""
    root = data_dir.resolve()
    try:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ReplayRefused(f"{name}: only files inside the bot's data directory can be replayed")
        if not path.is_file():
            raise ReplayFileMissing(f"{name}: no such file in the bot's data directory")
    except (OSError, ValueError):  # a name no file system accepts (a NUL byte, a component too long)
        raise ReplayRefused(f"{name!r}: not a file name in the bot's data directory") from None
    return path


class ReplayService:
    """Runs one replay at a time for the API (see the module)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._job = ReplayJob("idle")
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def job(self) -> ReplayJob:
        return self._job

    def start(
        self,
        file: str,
        *,
        futures: str | None = None,
        sets: dict[str, str] | None = None,
        sweep: list[tuple[str, list[str]]] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReplayJob:
        """Start a replay in the background; `ReplayBusy`, `ReplayRefused` or `ConfigError` refuse it."""
        prices = inside(self.data_dir, file)
        futures_path = inside(self.data_dir, futures) if futures else None
        replay_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        request = ReplayRequest(
            prices=prices,
            futures=futures_path,
            out=self.data_dir / REPLAYS_DIR / replay_id,
            since=since,
            until=until,
            sets=dict(sets or {}),
            sweep=list(sweep or []),
        )
        from bot.replay.backtest import combinations, replay_settings

        for values in combinations(request):  # a bad setting is refused now, not in the thread
            replay_settings(values, self.data_dir)
        with self._lock:
            if self._job.state == "running":
                raise ReplayBusy(f"replay {self._job.replay_id} is running; cancel it or wait")
            self._cancel = threading.Event()
            self._job = ReplayJob(
                "running", replay_id, file, started_at=datetime.now(UTC), output=request.out
            )
            self._thread = threading.Thread(
                target=self._run, args=(request, self._cancel), name=f"replay-{replay_id}", daemon=True
            )
            self._thread.start()
            return self._job

    def _run(self, request: ReplayRequest, cancel: threading.Event) -> None:
        state: State = "done"
        error = None
        try:
            run_replay(request, progress=self._heard, cancel=cancel)
        except ReplayCancelled:
            state = "cancelled"
        except ConfigError as exc:
            state, error = "failed", config_message(exc)
        except ReplayError as exc:
            state, error = "failed", str(exc)
        except Exception as exc:  # reported to the caller by kind; the log has the trace
            import logging

            logging.getLogger("bot.replay").exception("replay %s crashed", self._job.replay_id)
            state, error = "failed", f"replay crashed ({type(exc).__name__})"
        with self._lock:
            self._job = replace(self._job, state=state, error=error, finished_at=datetime.now(UTC))

    def _heard(self, run: int, rows: int) -> None:
        self._job = replace(self._job, rows_read=rows)

    def cancel(self) -> ReplayJob:
        """Ask the running replay to stop (it stops at its next batch; nothing of it is kept)."""
        with self._lock:
            if self._job.state != "running" or self._cancel is None:
                raise ReplayBusy("no replay is running")
            self._cancel.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
        return self._job

    def report(self, kind: Literal["json", "html"]) -> Path | None:
        """The last finished replay's report file, or None."""
        job = self._job
        if job.state != "done" or job.output is None:
            return None
        path = job.output / (REPORT_JSON if kind == "json" else REPORT_HTML)
        return path if path.is_file() else None

    def describe(self) -> dict[str, Any]:
        job = self._job
        return {
            "state": job.state,
            "replay_id": job.replay_id,
            "file": job.file,
            "rows_read": job.rows_read,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "error": job.error,
        }
