"""The kopf handlers: thin adapters around the pure spec, manifest and status functions.

Reconciliation (create, update, resume): validate the spec with the bot's own `Settings` and
check that the referenced Secrets hold the required keys (their values are never copied) →
create or patch the children, owned by the ArbitrageBot → write the status. An invalid
configuration touches no child: it sets ConfigValid=False naming every problem and posts a
Warning Event, and the existing Deployment is left exactly as it was.

Ready follows the owned Deployments, which are watched; Trading is recomputed every minute by
one clock task, since the trading window opens and closes without any change to the resource.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from arbitrage_operator import crd, manifests, runtime
from arbitrage_operator import spec as spec_module
from arbitrage_operator import status as status_module
from arbitrage_operator.kube import ApiError, KubeApi, ensure, object_path, secret_keys
from arbitrage_operator.metrics import OperatorMetrics

BOTS = (crd.GROUP, crd.VERSION, crd.PLURAL)
DEPLOYMENTS = ("apps", "v1", "deployments")
OWNED = {"app.kubernetes.io/managed-by": manifests.MANAGED_BY}
MAX_RETRY_DELAY = 300.0
WEBHOOK_ID = "validate-arbitragebot"  # kopf serves a handler at /<id>; the chart's webhook path
ReadyKey = tuple[str, str, str]  # status, reason, message


@dataclass
class OperatorState:
    """What the handlers share for the operator's life (kopf hands each handler a copy of the
    memo holding it, so everything mutable lives in here)."""

    api: KubeApi
    defaults: manifests.OperatorDefaults
    # (namespace, bot) -> the Ready last written, so unchanged Deployments cost no API call.
    ready_seen: dict[tuple[str, str], ReadyKey] = field(default_factory=dict)
    servicemonitor_api: bool = False  # remembered once found: the API does not go away
    trading_clock: asyncio.Task[None] | None = None
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)


# --------------------------------------------------------------------------------------------
# Operator lifecycle


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    logger: kopf.Logger,
    trading_inputs: kopf.Index[tuple[str, str], dict[str, Any]] | None = None,
    **_: Any,
) -> None:
    """Composition root: read the operator's environment, build the API client, tune kopf."""
    # kopf passes every index to every handler by its name; this one is declared below.
    assert trading_inputs is not None, "the trading_inputs index is not registered"
    try:
        defaults = manifests.OperatorDefaults.from_env()
        server = runtime.webhook_server()
    except ValueError as exc:  # a misconfigured operator stops with the reason instead of retrying
        raise kopf.PermanentError(str(exc)) from exc
    state = OperatorState(api=KubeApi(), defaults=defaults)
    memo.state = state
    port = os.environ.get("OPERATOR_METRICS_PORT")
    if port:
        state.metrics.serve(int(port))
        logger.info(f"Operator metrics on port {port}, path /metrics.")
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
    if server is not None:
        # Registered only with a server to answer it: kopf refuses webhook handlers without one.
        settings.admission.server = server
        kopf.on.validate(*BOTS, id=WEBHOOK_ID, operations=["CREATE", "UPDATE"])(validate)
        logger.info(f"Admission webhook: HTTPS on port {server.port}, path /{WEBHOOK_ID}.")
    state.trading_clock = asyncio.create_task(trading_clock(state.api, trading_inputs, logger))
    logger.info(f"Bots default to image {defaults.image}.")


@kopf.on.login()
async def login(memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own login (in-cluster account or kubeconfig); the operator's client reuses it."""
    info = kopf.login_via_client(logger=logger, **kwargs)
    if info is not None:
        memo.state.api.use(info)
    return info


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    """Stop the trading clock and close the API client's connections."""
    state: OperatorState | None = getattr(memo, "state", None)
    if state is None:
        return
    if state.trading_clock is not None:
        state.trading_clock.cancel()
        await asyncio.gather(state.trading_clock, return_exceptions=True)
    await state.api.close()


# --------------------------------------------------------------------------------------------
# Admission


async def validate(
    spec: Mapping[str, Any],
    body: kopf.Body,
    old: Mapping[str, Any] | None = None,
    memo: kopf.Memo | None = None,
    **_: Any,
) -> None:
    """Reject an invalid spec at `kubectl apply` time with the message the status would carry."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return  # never block a deletion (e.g. another controller removing its finalizer)
    if old is not None and old.get("spec") == body.get("spec"):
        return  # labels, annotations, finalizers: the spec was judged when it was written
    name = body.get("metadata", {}).get("name") or ""
    problems = spec_module.build_config(name or "bot", dict(spec)).problems
    if name == "":  # generateName: the API server picks the name later
        problems = tuple(p for p in problems if not p.startswith("metadata.name"))
    if problems:
        state: OperatorState | None = getattr(memo, "state", None)
        if state is not None:
            state.metrics.admission_refusals.inc()
        raise kopf.AdmissionError(status_module.format_problems(problems), code=422)


# --------------------------------------------------------------------------------------------
# Reconciliation


def retry_delay(retry: int) -> float:
    """Exponential backoff between attempts: 5 s, 10 s, 20 s, ... at most five minutes."""
    return float(min(MAX_RETRY_DELAY, 5.0 * 2 ** min(retry, 10)))


@kopf.on.resume(*BOTS)
@kopf.on.create(*BOTS)
@kopf.on.update(*BOTS)
async def reconcile(
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    retry: int,
    reason: str,
    **_: Any,
) -> None:
    """Validate, then create or patch the children, then write the status."""
    assert namespace is not None, "ArbitrageBot is a namespaced resource"
    state: OperatorState = memo.state
    desired = dict(spec)
    generation = meta.get("generation")
    now = datetime.datetime.now(datetime.UTC)
    try:
        keys = await secret_keys(state.api, namespace, spec_module.referenced_secrets(desired))
    except ApiError as exc:
        state.metrics.reconciliations.labels(result="api_error").inc()
        raise kopf.TemporaryError(
            f"cannot read the referenced Secrets: {exc}", delay=retry_delay(retry)
        ) from exc
    config = spec_module.build_config(name, desired, keys)
    valid = status_module.config_valid_condition(config)

    if not config.valid:
        deployment = await _get_or_none(state.api, object_path("apps/v1", "Deployment", namespace, name))
        new_status = status_module.bot_status(
            desired, generation=generation, existing=status, valid=valid, deployment=deployment, now=now
        )
        _write_status(patch, new_status, status)
        _remember_ready(state, namespace, name, new_status)
        _announce_refusal(body, status, valid, logger)
        if not config.spec_problems:
            # Only Secrets are missing or incomplete: look again until they are fixed.
            state.metrics.reconciliations.labels(result="waiting_for_secrets").inc()
            raise kopf.TemporaryError(f"waiting for Secrets: {valid.reason}", delay=retry_delay(retry))
        state.metrics.reconciliations.labels(result="invalid").inc()
        return

    try:
        deployment = await _apply_children(state, name, namespace, desired, config, body, reason)
        await _reconcile_servicemonitor(state, desired, status, patch, body, namespace, name)
    except ApiError as exc:
        state.metrics.reconciliations.labels(result="api_error").inc()
        raise kopf.TemporaryError(f"applying the children failed: {exc}", delay=retry_delay(retry)) from exc
    new_status = status_module.bot_status(
        desired, generation=generation, existing=status, valid=valid, deployment=deployment, now=now
    )
    new_status["configHash"] = manifests.config_hash(name, desired, config, state.defaults)
    _write_status(patch, new_status, status)
    _remember_ready(state, namespace, name, new_status)
    state.metrics.reconciliations.labels(result="applied").inc()
    logger.info(f"Reconciled: phase {new_status['phase']}, configuration {new_status['configHash']}.")


async def _apply_children(
    state: OperatorState,
    name: str,
    namespace: str,
    desired: Mapping[str, Any],
    config: spec_module.BotConfig,
    body: kopf.Body,
    reason: str,
) -> dict[str, Any] | None:
    """Create or patch every child, owned by the bot; returns the Deployment as applied."""
    servicemonitor_api = manifests.wants_servicemonitor(desired) and await _servicemonitor_api(state)
    children = manifests.build_children(
        name, namespace, desired, config, state.defaults, servicemonitor_api=servicemonitor_api
    )
    retain_journal = spec_module.get_path(desired, "journal.retain") is True
    for child in children:
        if not (retain_journal and child["kind"] == "PersistentVolumeClaim"):
            kopf.adopt(child, owner=body)
    # A new bot's children are created at once; on update or resume they are read first.
    likely_exists = reason != "create"
    results = await asyncio.gather(
        *(ensure(state.api, child, likely_exists=likely_exists) for child in children), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    applied = {child["kind"]: result for child, result in zip(children, results, strict=True)}
    deployment = applied.get("Deployment")
    return deployment if isinstance(deployment, dict) else None


def _announce_refusal(
    body: kopf.Body, status: Mapping[str, Any], valid: status_module.Condition, logger: kopf.Logger
) -> None:
    # One Warning event per new refusal (not one per retry), carrying the status message.
    previous = status_module.condition_of(status.get("conditions"), "ConfigValid")
    if previous is None or (previous.get("status"), previous.get("message")) != (valid.status, valid.message):
        kopf.event(body, type="Warning", reason=valid.reason, message=valid.message)
    logger.warning(f"Configuration refused, no child touched: {valid.message}")


async def _get_or_none(api: KubeApi, path: str) -> dict[str, Any] | None:
    try:
        return await api.get(path)
    except ApiError:
        return None  # only used to describe readiness; the next event corrects it


async def _servicemonitor_api(state: OperatorState) -> bool:
    if not state.servicemonitor_api:
        try:
            state.servicemonitor_api = await state.api.serves("monitoring.coreos.com/v1", "servicemonitors")
        except ApiError:
            return False
    return state.servicemonitor_api


async def _reconcile_servicemonitor(
    state: OperatorState,
    desired: Mapping[str, Any],
    status: Mapping[str, Any],
    patch: kopf.Patch,
    body: kopf.Body,
    namespace: str,
    name: str,
) -> None:
    """Record the ServiceMonitor created, say why none could be, or delete one no longer wanted."""
    wanted = manifests.wants_servicemonitor(desired)
    if wanted and state.servicemonitor_api:
        patch.status["serviceMonitor"] = name
    elif wanted:
        kopf.event(
            body,
            type="Warning",
            reason="ServiceMonitorUnavailable",
            message="spec.monitoring.serviceMonitor is true but the cluster does not serve "
            "monitoring.coreos.com/v1 servicemonitors (install the Prometheus Operator); no ServiceMonitor "
            "created.",
        )
    elif status.get("serviceMonitor"):
        monitor = str(status["serviceMonitor"])
        await state.api.delete(object_path("monitoring.coreos.com/v1", "ServiceMonitor", namespace, monitor))
        patch.status["serviceMonitor"] = None


def _write_status(patch: kopf.Patch, fields: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    # Only what changed: a resumed, unchanged bot costs no write at all.
    for key, value in fields.items():
        if current.get(key) != value:
            patch.status[key] = value


def _ready_key(fields: Mapping[str, Any]) -> ReadyKey | None:
    ready = status_module.condition_of(fields.get("conditions"), "Ready")
    if ready is None:
        return None
    return (str(ready.get("status")), str(ready.get("reason")), str(ready.get("message")))


def _remember_ready(state: OperatorState, namespace: str, name: str, fields: Mapping[str, Any]) -> None:
    key = _ready_key(fields)
    if key is not None:
        state.ready_seen[(namespace, name)] = key


# --------------------------------------------------------------------------------------------
# Ready follows the owned Deployments; Trading follows the clock


@kopf.on.event(*DEPLOYMENTS, labels=OWNED)
async def deployment_changed(
    event: Mapping[str, Any],
    body: kopf.Body,
    namespace: str | None,
    labels: Mapping[str, str],
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Write Ready (and Trading) on the owning bot when its Deployment's availability changes."""
    bot = labels.get(manifests.BOT_LABEL)
    if not bot or namespace is None:
        return
    state: OperatorState = memo.state
    deployment = None if event.get("type") == "DELETED" else dict(body)
    ready = status_module.ready_condition(deployment)
    key = (namespace, bot)
    if state.ready_seen.get(key) == (ready.status, ready.reason, ready.message):
        return
    bot_path = object_path(crd.API_VERSION, crd.KIND, namespace, bot)
    try:
        owner = await state.api.get(bot_path)
        if owner is None:
            state.ready_seen.pop(key, None)
            return
        fields = status_module.refreshed_ready(
            owner.get("spec") or {}, owner.get("status"), deployment, now=datetime.datetime.now(datetime.UTC)
        )
        if fields is not None:
            await _patch_status(state.api, bot_path, owner, fields)
            logger.info(f"Bot {namespace}/{bot}: Ready is {ready.status} ({ready.reason}).")
        state.ready_seen[key] = (ready.status, ready.reason, ready.message)
    except ApiError as exc:
        # Event handlers are not retried; the next Deployment event or reconciliation corrects it.
        logger.warning(f"Could not write Ready of bot {namespace}/{bot}: {exc}")


@kopf.index(*BOTS)
async def trading_inputs(
    namespace: str | None, name: str, spec: Mapping[str, Any], status: Mapping[str, Any], **_: Any
) -> dict[tuple[str | None, str], dict[str, Any]]:
    """What the trading clock needs of each bot, kept in memory from the watch stream."""
    return {
        (namespace, name): {
            "spec": {"paused": spec.get("paused"), "tradingWindow": spec.get("tradingWindow")},
            "status": {"conditions": list(status.get("conditions") or [])},
        }
    }


def seconds_to_next_minute(now: datetime.datetime) -> float:
    """Sleep until one second past the next full minute (windows are minute-precise)."""
    return 61.0 - now.second - now.microsecond / 1_000_000


async def trading_clock(api: KubeApi, index: kopf.Index[Any, Any], logger: kopf.Logger) -> None:
    """Every minute, rewrite Trading on the bots whose window opened or closed.

    One task for the whole operator rather than a kopf timer per bot: timers need a finalizer on
    every bot, an extra write and event each (measured at +8 ms of operator CPU per bot). Each
    change is computed again from a fresh read and written with its resourceVersion, so a write
    is never based on stale state.
    """
    while True:
        await asyncio.sleep(seconds_to_next_minute(datetime.datetime.now(datetime.UTC)))
        now = datetime.datetime.now(datetime.UTC)
        for (namespace, name), store in list(index.items()):
            for inputs in list(store):
                if status_module.refreshed_trading(inputs["spec"], inputs["status"], now=now) is None:
                    continue
                try:
                    await refresh_trading(api, namespace, name, now)
                except Exception:  # one bot's failure must not stop the clock for the others
                    logger.exception(f"Could not refresh Trading of bot {namespace}/{name}.")


async def refresh_trading(api: KubeApi, namespace: str, name: str, now: datetime.datetime) -> None:
    """Recompute Trading of one bot from a fresh read; write only when it changed."""
    path = object_path(crd.API_VERSION, crd.KIND, namespace, name)
    bot = await api.get(path)
    if bot is None:
        return
    fields = status_module.refreshed_trading(bot.get("spec") or {}, bot.get("status"), now=now)
    if fields is not None:
        await _patch_status(api, path, bot, fields)


async def _patch_status(api: KubeApi, path: str, bot: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    # The resourceVersion makes the API server refuse the write (409) if the bot changed since read.
    body: dict[str, Any] = {"status": dict(fields)}
    version = (bot.get("metadata") or {}).get("resourceVersion")
    if version:
        body["metadata"] = {"resourceVersion": version}
    await api.patch(f"{path}/status", body)
