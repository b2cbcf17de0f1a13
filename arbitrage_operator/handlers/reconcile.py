"""Reconciliation of an ArbitrageBot (create, update, resume): spec → children → status.

Validate the spec with the bot's own `Settings` and check that the referenced Secrets hold the
required keys (their values are never copied) → apply the children, owned by the ArbitrageBot
→ write the status. An invalid configuration touches no child: it sets ConfigValid=False naming
every problem and posts a Warning Event, and the existing Deployment is left exactly as it was.
A child's name held by someone else's object touches no child either: Ready=False (NameConflict)
and a Warning Event naming the object, retried with backoff.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import kopf

from arbitrage_operator import crd, manifests, story
from arbitrage_operator import status as bot_status
from arbitrage_operator.children import NameConflict, delete_owned, ensure_children, owned_by
from arbitrage_operator.events import ObjectRef
from arbitrage_operator.kube import ApiError, KubeApi, object_path, secret_keys
from arbitrage_operator.secret_refs import referenced_secrets
from arbitrage_operator.spec import BotConfig, build_config
from arbitrage_operator.spec_fields import get_path
from arbitrage_operator.state import OperatorState

MAX_RETRY_DELAY = 300.0


def retry_delay(retry: int) -> float:
    """Exponential backoff between attempts: 5 s, 10 s, 20 s, ... at most five minutes."""
    return float(min(MAX_RETRY_DELAY, 5.0 * 2 ** min(retry, 10)))


@kopf.on.resume(*crd.RESOURCE)
@kopf.on.create(*crd.RESOURCE)
@kopf.on.update(*crd.RESOURCE)
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
    **_: Any,
) -> None:
    """Validate, then apply the children, then write the status."""
    assert namespace is not None, "ArbitrageBot is a namespaced resource"
    state: OperatorState = memo.state
    desired = dict(spec)
    now = datetime.datetime.now(datetime.UTC)
    try:
        keys = await secret_keys(state.api, namespace, referenced_secrets(desired))
    except ApiError as exc:
        state.metrics.reconciliations.labels(result="api_error").inc()
        raise kopf.TemporaryError(
            f"cannot read the referenced Secrets: {exc}", delay=retry_delay(retry)
        ) from exc
    config = build_config(name, desired, keys, state.allowlist)
    valid = bot_status.config_valid_condition(config)

    def status_with(
        deployment: dict[str, Any] | None, ready: bot_status.Condition | None = None
    ) -> dict[str, Any]:
        generation = meta.get("generation")
        return bot_status.bot_status(
            desired,
            generation=generation,
            existing=status,
            valid=valid,
            deployment=deployment,
            now=now,
            ready=ready,
        )

    if not config.valid:
        deployment = await _get_or_none(state.api, object_path("apps/v1", "Deployment", namespace, name))
        if deployment is not None and not owned_by(deployment, body.metadata.uid):
            deployment = None  # someone else's Deployment of that name says nothing about this bot
        new_status = status_with(deployment)
        _write_status(state, patch, namespace, name, status, new_status)
        await _announce(state, body, status, new_status)
        logger.warning(f"Configuration refused, no child touched: {valid.message}")
        if not config.spec_problems:
            # Only Secrets are missing or incomplete: look again until they are fixed.
            state.metrics.reconciliations.labels(result="waiting_for_secrets").inc()
            raise kopf.TemporaryError(f"waiting for Secrets: {valid.reason}", delay=retry_delay(retry))
        state.metrics.reconciliations.labels(result="invalid").inc()
        return

    try:
        deployment = await _apply_children(state, name, namespace, desired, config, body)
        await _reconcile_servicemonitor(state, desired, status, patch, body, namespace, name)
    except NameConflict as exc:
        # Someone else's object holds a child's name: nothing was written; look again later.
        conflict = bot_status.name_conflict_condition([c.describe() for c in exc.conflicts])
        conflicted = status_with(None, ready=conflict)
        _write_status(state, patch, namespace, name, status, conflicted)
        _announce_conflict(body, status, conflict, logger)
        await _announce(state, body, status, conflicted)
        state.metrics.reconciliations.labels(result="name_conflict").inc()
        raise kopf.TemporaryError(f"name conflict: {exc}", delay=retry_delay(retry)) from exc
    except ApiError as exc:
        state.metrics.reconciliations.labels(result="api_error").inc()
        raise kopf.TemporaryError(f"applying the children failed: {exc}", delay=retry_delay(retry)) from exc
    new_status = status_with(deployment)
    new_status["configHash"] = manifests.config_hash(name, desired, config, state.defaults)
    _write_status(state, patch, namespace, name, status, new_status)
    await _announce(state, body, status, new_status)
    state.metrics.reconciliations.labels(result="applied").inc()
    logger.info(f"Reconciled: phase {new_status['phase']}, configuration {new_status['configHash']}.")


async def _apply_children(
    state: OperatorState,
    name: str,
    namespace: str,
    desired: Mapping[str, Any],
    config: BotConfig,
    body: kopf.Body,
) -> dict[str, Any] | None:
    """Apply every child, owned by the bot; returns the Deployment as applied.

    Raises `NameConflict` (writing nothing) when a child's name is held by an object that is not
    this bot's.
    """
    servicemonitor_api = manifests.wants_servicemonitor(desired) and await state.serves_servicemonitors()
    children = manifests.build_children(
        name, namespace, desired, config, state.defaults, servicemonitor_api=servicemonitor_api
    )
    retain_journal = get_path(desired, "journal.retain") is True
    for child in children:
        if not (retain_journal and child["kind"] == "PersistentVolumeClaim"):
            kopf.adopt(child, owner=body)
    results = await ensure_children(state.api, children, owner_uid=body.metadata.uid)
    applied = {child["kind"]: result for child, result in zip(children, results, strict=True)}
    deployment = applied.get("Deployment")
    return deployment if isinstance(deployment, dict) else None


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
        path = object_path("monitoring.coreos.com/v1", "ServiceMonitor", namespace, monitor)
        await delete_owned(state.api, path, body.metadata.uid)  # never another's object of that name
        patch.status["serviceMonitor"] = None


async def _announce(
    state: OperatorState, body: kopf.Body, status: Mapping[str, Any], new_status: Mapping[str, Any]
) -> None:
    # One Event per transition (a refusal once, not once per retry), counted when repeated.
    await state.recorder().announce(ObjectRef.of(body), story.announcements(status, new_status))


def _announce_conflict(
    body: kopf.Body, status: Mapping[str, Any], ready: bot_status.Condition, logger: kopf.Logger
) -> None:
    # One Warning event per new conflict (not one per retry), naming each object by kind and name.
    previous = bot_status.condition_of(status.get("conditions"), "Ready")
    if previous is None or (previous.get("reason"), previous.get("message")) != (ready.reason, ready.message):
        kopf.event(body, type="Warning", reason=ready.reason, message=ready.message)
    logger.warning(f"Name conflict, no child touched: {ready.message}")


async def _get_or_none(api: KubeApi, path: str) -> dict[str, Any] | None:
    try:
        return await api.get(path)
    except ApiError:
        return None  # only used to describe readiness; the next event corrects it


def _write_status(
    state: OperatorState,
    patch: kopf.Patch,
    namespace: str,
    name: str,
    current: Mapping[str, Any],
    fields: Mapping[str, Any],
) -> None:
    # Only what changed: a resumed, unchanged bot costs no write at all.
    for key, value in fields.items():
        if current.get(key) != value:
            patch.status[key] = value
    # Remember the Ready written, so the Deployment watcher skips events that do not change it.
    ready = bot_status.condition_of(fields.get("conditions"), "Ready")
    if ready is not None:
        state.ready_seen[(namespace, name)] = (
            str(ready.get("status")),
            str(ready.get("reason")),
            str(ready.get("message")),
        )
