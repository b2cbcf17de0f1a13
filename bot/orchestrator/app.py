"""Composition root of the trading loop: settings → logs → lock → journal → metrics → adapters → loop."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading

from bot import __version__
from bot.config import ConfigError, Settings
from bot.logs import configure, log_secrets
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator, utc_now
from bot.orchestrator.lock import EXIT_ALREADY_RUNNING, AlreadyRunning, PidLock
from bot.orchestrator.recovery import Recovery
from bot.orchestrator.trigger import CycleLoop, CycleTrigger, book_streams
from bot.orchestrator.wiring import Adapters, AdapterUnavailable, build_adapters

log = logging.getLogger("bot.orchestrator")

EXIT_CONFIG = 2
EXIT_JOURNAL = 4  # EXIT_ALREADY_RUNNING (3): this DATA_DIR's lock, or this bot's journal writer lock


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Run the loop until SIGTERM/SIGINT; the cycle in flight finishes or unwinds; exit 0."""
    # a signal during start-up (migrations, the lock) must still end in a clean exit 0
    early_stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: early_stop.set())
    try:
        settings = settings or Settings()
    except ConfigError as exc:
        print(f"flash-green orchestrator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure(settings.log_level, settings.log_format, log_secrets(settings))
    metrics = BotMetrics()
    try:
        adapters = build_adapters(settings, observer=metrics.venue_observer())
    except AdapterUnavailable as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    lock = PidLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        log.error("%s", exc)
        return EXIT_ALREADY_RUNNING
    try:
        from bot.journal import Journal, JournalError, WriterBusy

        try:
            # the bot's rows only (bots may share a database); its writer lock held until close
            journal = Journal.open(settings.journal_url, bot=settings.bot_name, migrate=True, writer=True)
        except WriterBusy as exc:
            log.error("%s", exc)
            return EXIT_ALREADY_RUNNING
        except JournalError as exc:
            log.error("journal unavailable at %s: %s", settings.journal_url_redacted, exc)
            return EXIT_JOURNAL
        try:
            metrics.info.labels(bot=settings.bot_name, mode=adapters.mode, version=__version__).set(1)
            if settings.metrics_port:
                from prometheus_client import start_http_server

                start_http_server(
                    settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry
                )
            orchestrator = Orchestrator.from_settings(
                settings,
                journal=journal,
                metrics=metrics,
                power=adapters.power,
                futures=adapters.futures,
                loan=adapters.loan,
                paper=adapters.paper,
                # a venue that cannot say what a dead cycle's orders became blocks trading until it does
                recovery=Recovery(
                    journal, {"power": adapters.power, "futures": adapters.futures}, utc_now, metrics
                ),
            )
            log.info(
                "orchestrator starting",
                extra={
                    "fields": {
                        "bot": settings.bot_name,
                        "mode": adapters.mode,
                        "window_utc": str(settings.trading_window),
                        "weekends": settings.allow_weekend_trading,
                        "trading_enabled": settings.trading_enabled,
                        "journal": settings.journal_url_redacted,
                        "metrics": f"{settings.metrics_host}:{settings.metrics_port}",
                    }
                },
            )
            if early_stop.is_set():
                orchestrator.stopping.set()
            trigger = CycleTrigger.from_settings(settings)
            asyncio.run(_serve(orchestrator, adapters, trigger, early_stop))
        finally:
            journal.close()
    finally:
        lock.release()
    log.info("orchestrator stopped")
    return 0


async def _serve(
    orchestrator: Orchestrator, adapters: Adapters, trigger: CycleTrigger, early_stop: threading.Event
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, orchestrator, sig)
    if early_stop.is_set():
        orchestrator.stopping.set()
    try:
        # the first attempt before any cycle; while it waits for a venue, the cycle gate retries it
        if orchestrator.recovery is not None:
            await orchestrator.recovery.attempt()
        orchestrator.load_state()
        # a streamed book change starts a cycle at once; legs that only poll wait for the interval
        streams = book_streams((adapters.power, adapters.futures))
        await CycleLoop(orchestrator, trigger, streams).run()
    finally:
        await adapters.close()


def _on_signal(orchestrator: Orchestrator, sig: signal.Signals) -> None:
    log.info("%s received: finishing the cycle in flight, then stopping", sig.name)
    orchestrator.stopping.set()
