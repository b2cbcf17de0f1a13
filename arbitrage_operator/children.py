"""A bot's children brought to what its spec says: whose object holds each name, then apply.

`ensure()` first reads the object holding the child's name: one that the bot does not own (no
owner reference carrying the bot's uid) raises `NameConflict` and is never written, so a bot
named like someone else's Service can neither take it over nor, later, have it
garbage-collected with itself. `ensure_children()` reads every child first and writes none when
any name is taken (a Deployment must never start against someone else's ConfigMap).

The bot's own child is applied with server-side apply as the field manager
`flash-green-operator` (forcing ownership of the fields it sets): the API server merges, drops
what the operator no longer sets, and writes nothing when nothing changed, so replayed events and
restarts are idempotent. A server without server-side apply (the kmock emulator the tests run
against) gets the fallback: create when absent (on 409 read it and check again); otherwise, only
when an owned field differs, a JSON patch of those fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arbitrage_operator.kube import JSON_PATCH, ApiError, KubeApi, path_of

# The fields of each kind the operator owns (JSON pointers); everything else is left alone.
OWNED_FIELDS: dict[str, tuple[str, ...]] = {
    "ConfigMap": ("/data",),
    "Service": ("/spec/type", "/spec/selector", "/spec/ports"),
    "Deployment": ("/spec",),
    "ServiceMonitor": ("/spec",),
    "PersistentVolumeClaim": (),  # created once; its storage is never rewritten by the operator
}
# Kinds whose spec is written only when created (a journal's size may not shrink or move).
CREATED_ONCE = frozenset({"PersistentVolumeClaim"})
# Owned fields compared exactly (stale keys must go); others as subsets (the server adds defaults).
EXACT_FIELDS = frozenset({"/data", "/spec/selector"})


# --------------------------------------------------------------------------------------------
# Apply, or create-or-patch where the server has no server-side apply


def is_subset(desired: Any, actual: Any) -> bool:
    """True when everything in `desired` is in `actual` (dicts by key, lists item by item)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and is_subset(v, actual[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return bool(desired == actual)


def _pointer_get(obj: Mapping[str, Any], pointer: str) -> Any:
    node: Any = obj
    for part in pointer.strip("/").split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def patch_operations(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON patch operations bringing the owned parts of `current` to `desired` (empty if equal)."""
    ops: list[dict[str, Any]] = []
    current_meta = current.get("metadata") or {}
    for section in ("labels", "annotations"):
        wanted = (desired.get("metadata") or {}).get(section) or {}
        have = current_meta.get(section)
        if not wanted:
            continue
        if not isinstance(have, Mapping):
            ops.append({"op": "add", "path": f"/metadata/{section}", "value": dict(wanted)})
            continue
        for key, value in wanted.items():
            if have.get(key) != value:
                ops.append({"op": "add", "path": f"/metadata/{section}/{_escape(key)}", "value": value})
    owners = (desired.get("metadata") or {}).get("ownerReferences")
    if owners and not is_subset(owners, current_meta.get("ownerReferences")):
        ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": owners})
    for pointer in OWNED_FIELDS.get(desired["kind"], ()):
        wanted_value = _pointer_get(desired, pointer)
        have_value = _pointer_get(current, pointer)
        same = wanted_value == have_value if pointer in EXACT_FIELDS else is_subset(wanted_value, have_value)
        if not same:
            ops.append({"op": "add", "path": pointer, "value": wanted_value})
    return ops


def _metadata_only(desired: Mapping[str, Any]) -> dict[str, Any]:
    meta = desired["metadata"]
    keep = ("name", "namespace", "labels", "annotations", "ownerReferences")
    return {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        "metadata": {k: meta[k] for k in keep if k in meta},
    }


# --------------------------------------------------------------------------------------------
# Never adopt what is not ours: a child's name may already be taken by someone else's object


@dataclass(frozen=True)
class Conflict:
    """An object holding a child's name that this bot does not own (it is left untouched)."""

    kind: str
    name: str
    holder: str  # who holds it, for the message: "is controlled by Deployment 'x'"

    def describe(self) -> str:
        """`Service 'payments' already exists and ...`."""
        return f"{self.kind} {self.name!r} already exists and {self.holder}"


class NameConflict(Exception):
    """One or more children's names are taken by objects this bot does not own; nothing was written."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__("; ".join(c.describe() for c in self.conflicts))


def _owner_refs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [ref for ref in refs if isinstance(ref, Mapping)]


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the controlling owner named in `obj`'s ownerReferences, if any."""
    return next(
        (str(ref.get("uid")) for ref in _owner_refs(obj) if ref.get("controller") and ref.get("uid")), None
    )


def owned_by(obj: Mapping[str, Any], owner_uid: str | None) -> bool:
    """Whether one of `obj`'s owner references carries `owner_uid`."""
    return bool(owner_uid) and any(ref.get("uid") == owner_uid for ref in _owner_refs(obj))


def conflict_of(
    desired: Mapping[str, Any], current: Mapping[str, Any] | None, owner_uid: str | None
) -> Conflict | None:
    """None when `current`, the object holding `desired`'s name, is the bot's own child (or absent).

    Ours: one of its owner references carries the bot's uid. A child the bot keeps without an
    owner reference (a retained journal) is also ours when nothing controls it and it carries
    the bot's labels. Anything else belongs to someone else, whatever its labels say.
    """
    if current is None or owned_by(current, owner_uid):
        return None
    controller = next((ref for ref in _owner_refs(current) if ref.get("controller")), None)
    wanted_labels = (desired.get("metadata") or {}).get("labels") or {}
    have_labels = (current.get("metadata") or {}).get("labels") or {}
    if (
        not _owner_refs(desired)
        and controller is None
        and wanted_labels
        and is_subset(wanted_labels, have_labels)
    ):
        return None
    if controller is not None:
        holder = f"is controlled by {controller.get('kind')} {controller.get('name')!r}"
    else:
        holder = "is not owned by this bot"
    return Conflict(str(desired["kind"]), str(desired["metadata"]["name"]), holder)


def _check(desired: Mapping[str, Any], current: Mapping[str, Any] | None, owner_uid: str | None) -> None:
    conflict = conflict_of(desired, current, owner_uid)
    if conflict is not None:
        raise NameConflict([conflict])


_UNREAD: Any = object()


async def ensure(
    api: KubeApi, desired: Mapping[str, Any], *, current: Any = _UNREAD, owner_uid: str | None = None
) -> dict[str, Any]:
    """Bring a child to `desired` (creating it if absent); returns the object as the server holds it.

    The object holding the name is read first (or passed in as `current`): one that is not the
    bot's own raises `NameConflict` and is never written. `owner_uid` is the bot's uid (default:
    the controlling owner `desired` names).
    """
    path = path_of(desired)
    owner_uid = owner_uid or controller_uid(desired)
    if current is _UNREAD:
        current = await api.get(path)
    _check(desired, current, owner_uid)
    if not await api.applies(desired["metadata"].get("namespace")):
        return await _create_or_patch(api, desired, current, owner_uid)
    if desired["kind"] in CREATED_ONCE:
        if current is None:
            try:
                return await api.create(desired)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            _check(desired, await api.get(path), owner_uid)
        return await api.apply(_metadata_only(desired))  # it exists: its spec stays as created
    # Apply creates what is absent. (POST would make the fields owned by an Update entry that later
    # applies could not drop.) The read above is what keeps it off another's object.
    return await api.apply(desired)


async def _create_or_patch(
    api: KubeApi, desired: Mapping[str, Any], current: Mapping[str, Any] | None, owner_uid: str | None
) -> dict[str, Any]:
    """The fallback without server-side apply, kept for the kmock emulator the tests run against.

    An absent child is created (POST never overwrites); an existing one, already found to be the
    bot's own, gets a JSON patch of the owned fields that differ, or no write at all.
    """
    path = path_of(desired)
    if current is None:
        try:
            return await api.create(desired)
        except ApiError as exc:
            if exc.status != 409:
                raise
        current = await api.get(path)  # created by someone in between: whose is it?
        if current is None:  # deleted between the two calls
            return await api.create(desired)
        _check(desired, current, owner_uid)
    ops = patch_operations(desired, current)
    if not ops:
        return dict(current)
    return await api.patch(path, ops, content_type=JSON_PATCH)


async def ensure_children(
    api: KubeApi, children: Sequence[Mapping[str, Any]], owner_uid: str | None
) -> list[dict[str, Any]]:
    """Ensure every child of one bot, or none: when any name is taken by another's object, raise
    `NameConflict` naming each such object before anything is written (a Deployment must never
    start against someone else's ConfigMap)."""
    currents = await asyncio.gather(*(api.get(path_of(child)) for child in children))
    conflicts = [
        conflict
        for child, current in zip(children, currents, strict=True)
        if (conflict := conflict_of(child, current, owner_uid)) is not None
    ]
    if conflicts:
        raise NameConflict(conflicts)
    results = await asyncio.gather(
        *(
            ensure(api, child, current=current, owner_uid=owner_uid)
            for child, current in zip(children, currents, strict=True)
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if isinstance(result, dict)]


async def delete_owned(api: KubeApi, path: str, owner_uid: str | None) -> bool:
    """Delete the object at `path` only when it is owned by `owner_uid`; True when it is gone."""
    current = await api.get(path)
    if current is None:
        return True
    if not owned_by(current, owner_uid):
        return False
    await api.delete(path)
    return True
