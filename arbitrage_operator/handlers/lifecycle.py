"""The operator's life: startup (its composition root), kopf's login, and cleanup."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from arbitrage_operator import runtime
from arbitrage_operator.events import EventRecorder
from arbitrage_operator.handlers import live_status, trading_clock, webhook
from arbitrage_operator.kube import KubeApi
from arbitrage_operator.spec import build_config
from arbitrage_operator.state import OperatorState, state_of


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    logger: kopf.Logger,
    trading_inputs: kopf.Index[tuple[str, str], dict[str, Any]] | None = None,
    live_inputs: kopf.Index[tuple[str, str], dict[str, Any]] | None = None,
    **_: Any,
) -> None:
    """Composition root: read the operator's environment once, build the API client, tune kopf."""
    # kopf passes every index to every handler by its name; these are in trading_clock and live_status.
    assert trading_inputs is not None, "the trading_inputs index is not registered"
    assert live_inputs is not None, "the live_inputs index is not registered"
    try:
        config = runtime.load()
    except runtime.RuntimeConfigError as exc:  # a misconfigured operator stops with the reason, no retry
        raise kopf.PermanentError(str(exc)) from exc
    defaults = config.bot_defaults()
    # The first validation imports the bot's lazily loaded validators (rate limits, ...): pay it
    # here rather than in the first bot's reconciliation.
    build_config("warm-up", {})
    api = KubeApi()
    events = EventRecorder(api)
    state = OperatorState(api=api, defaults=defaults, allowlist=config.allowlist(), events=events)
    state.live = live_status.LiveStatus(api=api, events=events, config=config)
    memo.state = state
    if config.metrics_port is not None:
        state.metrics.serve(config.metrics_port)
        logger.info(f"Operator metrics on port {config.metrics_port}, path /metrics.")
    # The chart grants no list/watch on CRDs or Namespaces (least privilege): the resources are
    # known, so kopf need not scan for them.
    settings.scanning.disabled = True
    # kopf's bookkeeping (last handled spec, retries) rides in status.kopf, so one status write per
    # reconciliation carries both it and the conditions: half the writes and watch events of the
    # default annotations, measured at about 2.5 ms of operator CPU per bot.
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(name="kopf")
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name="kopf")
    # Warnings and errors become Kubernetes Events; routine handler successes stay in the log.
    settings.posting.level = logging.WARNING
    server = config.webhook_server()
    if server is not None:
        webhook.register(settings, server)
        logger.info(f"Admission webhook: HTTPS on port {server.port}, path /{webhook.WEBHOOK_ID}.")
    state.trading_clock = asyncio.create_task(trading_clock.run(state.api, events, trading_inputs, logger))
    state.live_task = asyncio.create_task(live_status.run(state.live, live_inputs, logger))
    logger.info(
        f"Bots' APIs are read every {config.bot_status_period:g} s at {config.bot_url_template} once ready."
    )
    logger.info(f"Bots default to image {defaults.image}.")
    logger.info(
        f"Bots may name the images {', '.join(state.allowlist.images)} and the ServiceAccounts "
        f"{', '.join(state.allowlist.service_accounts) or '(none)'}."
    )


@kopf.on.login()
async def login(memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own login (in-cluster account or kubeconfig); the operator's client reuses it."""
    info = kopf.login_via_client(logger=logger, **kwargs)
    state = state_of(memo)
    if info is not None and state is not None:
        state.api.use(info)
    return info


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    """Stop the trading clock and the bots' reader, and close the API client's connections."""
    state = state_of(memo)
    if state is None:
        return
    tasks = [task for task in (state.trading_clock, state.live_task) if task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await state.api.close()
