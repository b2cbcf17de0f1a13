"""Each ready bot's own report on its resource: read its API on a period and on change, write what changed.

One task for the whole operator (like the trading clock) rather than a kopf timer per bot: a
timer puts a finalizer and an extra write on every bot. What the task needs of each bot comes
from a kopf index kept from the watch stream, so a period with nothing new costs one read of
each ready bot's API and no call to the Kubernetes API at all.

- Only bots whose Ready condition is True are read: a pod that is not ready has no endpoint
  behind its Service, and a fleet of starting bots costs nothing. A bot that leaves Ready gets
  `botApi.reachable: false` once.
- The read is `bot.status.api_reader.read_bot`, the same reader `flash-green status` uses, with a
  short timeout, in a worker thread, a few bots at a time.
- A bot whose API cannot be read is tried again with backoff (the period doubling, at most five
  minutes), so an unreachable fleet costs little.
- The API key is read from the Secret the spec names once and kept in memory (never logged); a
  refused key is read again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from arbitrage_operator import crd, live_status, story
from arbitrage_operator.events import EventRecorder, ObjectRef
from arbitrage_operator.kube import ApiError, KubeApi, object_path, patch_status
from arbitrage_operator.runtime import OperatorSettings
from arbitrage_operator.secret_refs import secret_backend
from arbitrage_operator.spec import API_PORT
from arbitrage_operator.spec_fields import API_KEY_REF, CREDENTIALS_PATH, DATABASE_URL_REF, get_path
from arbitrage_operator.state import state_of
from bot.redaction import redact_url
from bot.status.api_reader import EXIT_UNREACHABLE, EXIT_USAGE, StatusError, read_bot

READ_TIMEOUT_S = 3.0  # each request; a bot slower than this is reported unreachable
CONCURRENT_READS = 8
MAX_BACKOFF_S = 300.0
BotKey = tuple[str, str]


@kopf.index(*crd.RESOURCE)
async def live_inputs(
    namespace: str | None,
    name: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    meta: Mapping[str, Any],
    memo: kopf.Memo,
    **_: Any,
) -> dict[tuple[str | None, str], dict[str, Any]]:
    """What the reader needs of each bot, from the watch stream; a bot becoming ready is read at once."""
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    inputs = {
        "uid": meta.get("uid"),
        "ready": ready,
        "spec": {
            API_KEY_REF.path: spec.get(API_KEY_REF.path),
            "secrets": spec.get("secrets"),
            "journal": {DATABASE_URL_REF.path.split(".", 1)[1]: get_path(spec, DATABASE_URL_REF.path)},
        },
        "status": {key: status[key] for key in live_status.FIELDS if key in status},
    }
    state = state_of(memo)
    if state is not None and state.live is not None and namespace is not None:
        state.live.noticed((namespace, name), inputs)
    return {(namespace, name): inputs}


@dataclass
class LiveStatus:
    """The reader's memory: when each bot may be read next, its key, and who asked to be read now."""

    api: KubeApi
    events: EventRecorder
    config: OperatorSettings
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    urgent: set[BotKey] = field(default_factory=set)
    failures: dict[BotKey, int] = field(default_factory=dict)
    not_before: dict[BotKey, float] = field(default_factory=dict)
    seen: dict[BotKey, tuple[bool, Any]] = field(default_factory=dict)
    keys: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)
    reads: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONCURRENT_READS))

    def noticed(self, key: BotKey, inputs: Mapping[str, Any]) -> None:
        """Read the bot at once when it became ready or its key's Secret reference changed."""
        now = (bool(inputs["ready"]), inputs["spec"])
        before = self.seen.get(key)
        self.seen[key] = now
        if before != now and (now[0] or (before is not None and before[0])):
            self.failures.pop(key, None)
            self.not_before.pop(key, None)
            self.urgent.add(key)
            self.wake.set()

    def backoff(self, key: BotKey, now: float) -> None:
        failures = self.failures.get(key, 0) + 1
        self.failures[key] = failures
        self.not_before[key] = now + min(
            MAX_BACKOFF_S, self.config.bot_status_period * 2 ** min(failures - 1, 10)
        )

    def succeeded(self, key: BotKey) -> None:
        self.failures.pop(key, None)
        self.not_before.pop(key, None)


async def run(live: LiveStatus, index: kopf.Index[Any, Any], logger: kopf.Logger) -> None:
    """Every period (or when a bot asks), read each ready bot's API and write what changed."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            await asyncio.wait_for(live.wake.wait(), timeout=live.config.bot_status_period)
        except TimeoutError:
            pass
        live.wake.clear()
        urgent, live.urgent = live.urgent, set()
        moment = loop.time()
        due = []
        for (namespace, name), store in list(index.items()):
            if namespace is None:
                continue
            key = (namespace, name)
            if key not in urgent and moment < live.not_before.get(key, 0.0):
                continue
            due += [(key, inputs) for inputs in list(store)]
        live.seen = {key: value for key, value in live.seen.items() if key in index}
        results = await asyncio.gather(
            *(refresh(live, key, inputs) for key, inputs in due), return_exceptions=True
        )
        for (key, _), result in zip(due, results, strict=True):
            if isinstance(result, BaseException):  # one bot's failure must not stop the others
                logger.warning(f"Could not refresh the report of bot {key[0]}/{key[1]}: {result}")


async def refresh(live: LiveStatus, key: BotKey, inputs: Mapping[str, Any]) -> None:
    """Read one bot's API (when it is ready) and write the fields that changed, with their Events."""
    namespace, name = key
    existing: Mapping[str, Any] = inputs["status"]
    spec: Mapping[str, Any] = inputs["spec"]
    now = datetime.datetime.now(datetime.UTC)
    if not inputs["ready"]:
        if (existing.get("botApi") or {}).get("reachable") is not True:
            return  # never read, or already reported unreachable: nothing to say
        fields = live_status.unreachable(existing, spec, live_status.NOT_READY, now=now)
    else:
        fields = await _read(live, key, existing, spec, now)
    patch = live_status.changed_fields(existing, fields)
    if not patch:
        return
    path = object_path(crd.API_VERSION, crd.KIND, namespace, name)
    await patch_status(live.api, path, {}, patch)
    about = ObjectRef(crd.API_VERSION, crd.KIND, namespace, name, inputs.get("uid"))
    await live.events.announce(about, story.announcements(existing, fields))


async def _read(
    live: LiveStatus,
    key: BotKey,
    existing: Mapping[str, Any],
    spec: Mapping[str, Any],
    now: datetime.datetime,
) -> dict[str, Any]:
    namespace, name = key
    clock = asyncio.get_running_loop().time
    url = live.config.bot_url(namespace, name, API_PORT)
    try:
        api_key = await _api_key(live, namespace, spec)
        async with live.reads:
            answers = await asyncio.to_thread(read_bot, url, api_key, timeout=READ_TIMEOUT_S)
    except StatusError as exc:
        if exc.http_status in (401, 403):  # the key was refused: read the Secret again next time
            live.keys = {k: v for k, v in live.keys.items() if k[0] != namespace}
        live.backoff(key, clock())
        return live_status.unreachable(existing, spec, _problem(exc, url), now=now)
    live.succeeded(key)
    return live_status.from_answers(answers, spec)


def _problem(exc: StatusError, url: str) -> str:
    """The reader's problem in the operator's words (its own messages speak to a command line)."""
    if exc.cause is not None:
        return f"cannot reach the bot's API at {redact_url(url)} ({exc.cause})"
    if exc.http_status in (401, 403):
        return (
            f"the bot's API refused the key of spec.{API_KEY_REF.path} ({exc.http_status}): the Secret must "
            "hold the key the bot runs with"
        )
    return exc.message


async def _api_key(live: LiveStatus, namespace: str, spec: Mapping[str, Any]) -> str:
    """The bot's API key from the Secret its spec names (kept in memory, never logged)."""
    ref = get_path(spec, API_KEY_REF.path)
    if isinstance(ref, Mapping) and ref.get("name"):
        secret, item = str(ref["name"]), str(ref.get("key") or API_KEY_REF.default_key)
    elif secret_backend(spec) == "kubernetes" and get_path(spec, CREDENTIALS_PATH):
        secret, item = str(get_path(spec, CREDENTIALS_PATH)), "API_KEY"
    else:
        raise StatusError(
            "the operator reads a bot's API with the key in spec.apiKeySecretRef; this spec names none "
            "(its key lives in Vault or AWS): set spec.apiKeySecretRef",
            EXIT_USAGE,
        )
    cached = live.keys.get((namespace, secret, item))
    if cached is not None:
        return cached
    try:
        found = await live.api.get(object_path("v1", "Secret", namespace, secret))
    except ApiError as exc:
        raise StatusError(
            f"cannot read the Secret {secret!r} holding the API key: {exc.status} {exc.reason}",
            EXIT_UNREACHABLE,
        ) from None
    value = _secret_value(found, item)
    if value is None:
        raise StatusError(
            f"the Secret {secret!r} holds no key {item!r} (the bot's API key)", EXIT_UNREACHABLE
        )
    live.keys[(namespace, secret, item)] = value
    return value


def _secret_value(secret: Mapping[str, Any] | None, item: str) -> str | None:
    if secret is None:
        return None
    encoded = (secret.get("data") or {}).get(item)
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True).decode().strip() or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    plain = (secret.get("stringData") or {}).get(item)
    return str(plain).strip() or None if plain is not None else None
