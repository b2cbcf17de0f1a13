"""Ready follows the owned Deployments: each availability change is written on its bot."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import kopf

from arbitrage_operator import crd, manifests, story
from arbitrage_operator import status as bot_status
from arbitrage_operator.children import owned_by
from arbitrage_operator.events import ObjectRef
from arbitrage_operator.kube import ApiError, object_path, patch_status
from arbitrage_operator.state import OperatorState

OWNED = {"app.kubernetes.io/managed-by": manifests.MANAGED_BY}


@kopf.on.event("apps", "v1", "deployments", labels=OWNED)
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
    ready = bot_status.ready_condition(deployment)
    key = (namespace, bot)
    if state.ready_seen.get(key) == (ready.status, ready.reason, ready.message):
        return
    bot_path = object_path(crd.API_VERSION, crd.KIND, namespace, bot)
    try:
        owner = await state.api.get(bot_path)
        if owner is None:
            state.ready_seen.pop(key, None)
            return
        if deployment is not None and not owned_by(deployment, (owner.get("metadata") or {}).get("uid")):
            return  # labelled like the bot's but not its own: it says nothing about the bot
        fields = bot_status.refreshed_ready(
            owner.get("spec") or {}, owner.get("status"), deployment, now=datetime.datetime.now(datetime.UTC)
        )
        if fields is not None:
            await patch_status(state.api, bot_path, owner, fields)
            announced = story.announcements(owner.get("status"), fields)
            await state.recorder().announce(ObjectRef.of(owner), announced)
            logger.info(f"Bot {namespace}/{bot}: Ready is {ready.status} ({ready.reason}).")
        state.ready_seen[key] = (ready.status, ready.reason, ready.message)
    except ApiError as exc:
        # Event handlers are not retried; the next Deployment event or reconciliation corrects it.
        logger.warning(f"Could not write Ready of bot {namespace}/{bot}: {exc}")
