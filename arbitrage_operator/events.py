"""Kubernetes Events on an ArbitrageBot, counted instead of repeated (no Event storm).

kopf's `kopf.event()` posts a new Event on every call. A bot whose venue flaps, or a refusal
retried with backoff, would then bury `kubectl describe arb` under copies of one line. The
Events API has its own answer: an Event carries `count`, `firstTimestamp` and `lastTimestamp`,
and a recorder that sees the same reason about the same object again bumps the existing Event
rather than posting a new one. The API server's own recorder does this; kopf's does not, so this
module does it for the operator's Events:

- `next_write()` is the pure decision: a new Event, or the existing one counted once more;
- `EventRecorder` keeps the last Event of each (object, reason) for a minute and makes the call.

An Event is best effort: a failed post is logged and never fails a reconciliation.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from arbitrage_operator.kube import ApiError, KubeApi, object_path

COMPONENT = "flash-green-operator"
DEDUPE_WINDOW = datetime.timedelta(minutes=1)
MAX_MESSAGE = 1024  # the API server refuses longer Event messages
NORMAL, WARNING = "Normal", "Warning"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Announcement:
    """Something that happened to a bot, worth one Event: a CamelCase reason and a sentence."""

    reason: str
    message: str
    type: str = NORMAL


@dataclass(frozen=True)
class ObjectRef:
    """The Event's `involvedObject`: the bot it is about."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str | None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        """The reference of an object as read from the API (or a kopf Body)."""
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion")),
            str(obj.get("kind")),
            str(meta.get("namespace")),
            str(meta.get("name")),
            meta.get("uid"),
        )

    def as_involved(self) -> dict[str, Any]:
        ref = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        if self.uid:
            ref["uid"] = self.uid
        return ref


@dataclass(frozen=True)
class Posted:
    """The last Event of one (object, reason), as written."""

    name: str
    count: int
    first: datetime.datetime
    last: datetime.datetime


@dataclass(frozen=True)
class Write:
    """One call to make: `create` a new Event (`body`), or `count` the existing one (`body` is the patch)."""

    verb: str  # "create" | "count"
    event_name: str
    body: dict[str, Any]
    posted: Posted


def timestamp(moment: datetime.datetime) -> str:
    """A UTC timestamp as Kubernetes writes it."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_write(
    previous: Posted | None,
    about: ObjectRef,
    announcement: Announcement,
    *,
    now: datetime.datetime,
    new_name: str,
) -> Write:
    """What to write for `announcement` given the last Event of its reason about the same object.

    Within `DEDUPE_WINDOW` of that Event's last occurrence: count it once more (count, lastTimestamp
    and the latest message). Otherwise: a new Event named `new_name`.
    """
    message = announcement.message[:MAX_MESSAGE]
    if previous is not None and now - previous.last < DEDUPE_WINDOW:
        posted = replace(previous, count=previous.count + 1, last=now)
        patch = {"count": posted.count, "lastTimestamp": timestamp(now), "message": message}
        return Write("count", previous.name, patch, posted)
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": new_name, "namespace": about.namespace},
        "involvedObject": about.as_involved(),
        "reason": announcement.reason,
        "message": message,
        "type": announcement.type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": timestamp(now),
        "lastTimestamp": timestamp(now),
        "count": 1,
    }
    return Write("create", new_name, body, Posted(new_name, 1, now, now))


def event_name(about: ObjectRef) -> str:
    """`<bot>.<random hex>`, the shape the API server's recorders use."""
    return f"{about.name}.{uuid.uuid4().hex[:16]}"


class EventRecorder:
    """Posts Events about bots, counting a reason repeated within a minute on the Event already posted."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self._posted: dict[tuple[str, str, str, str], Posted] = {}

    async def announce(
        self, about: ObjectRef, announcements: Iterable[Announcement], *, now: datetime.datetime | None = None
    ) -> None:
        """Post (or count) one Event per announcement; failures are logged, never raised."""
        for announcement in announcements:
            try:
                await self._record(about, announcement, now or datetime.datetime.now(datetime.UTC))
            except (ApiError, OSError, RuntimeError) as exc:
                log.warning(
                    f"Could not post the Event {announcement.reason} on {about.namespace}/{about.name}: {exc}"
                )

    async def _record(self, about: ObjectRef, announcement: Announcement, now: datetime.datetime) -> None:
        self._forget_older_than(now - DEDUPE_WINDOW)
        key = (about.namespace, about.kind, about.name, announcement.reason)
        write = next_write(self._posted.get(key), about, announcement, now=now, new_name=event_name(about))
        if write.verb == "count":
            path = object_path("v1", "Event", about.namespace, write.event_name)
            try:
                await self._api.patch(path, write.body)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                # The Event was deleted (or expired) meanwhile: start a new one.
                write = next_write(None, about, announcement, now=now, new_name=event_name(about))
        if write.verb == "create":
            await self._api.create(write.body)
        self._posted[key] = write.posted

    def _forget_older_than(self, cutoff: datetime.datetime) -> None:
        stale = [key for key, posted in self._posted.items() if posted.last < cutoff]
        for key in stale:
            del self._posted[key]
