"""A small async client of the Kubernetes API: the few calls the operator makes itself.

kopf watches, patches the ArbitrageBots and posts events through its own client. The children,
the Secrets' key names and the status written from the Deployment watcher go through this one,
built on the credentials kopf logged in with (`kopf.ConnectionInfo`), so both use the same
identity. Calls are plain JSON over one aiohttp session; every non-2xx answer raises `ApiError`
(a 404 on a read returns None), which the handlers turn into `kopf.TemporaryError` retries.

`ensure()` applies a child with server-side apply as the field manager `flash-green-operator`
(forcing ownership of the fields it sets): the API server merges, drops what the operator no
longer sets, and writes nothing when nothing changed, so replayed events and restarts are
idempotent. A server without server-side apply (the kmock emulator the tests run against) gets
the fallback: create; on 409 read the object and, only when an owned field differs, send a JSON
patch of those fields.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import kopf

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
FIELD_MANAGER = "flash-green-operator"

PLURALS: dict[str, str] = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Deployment": "deployments",
    "ServiceMonitor": "servicemonitors",
    "ArbitrageBot": "arbitragebots",
}

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


class ApiError(Exception):
    """A non-2xx answer of the API server."""

    def __init__(self, status: int, reason: str, message: str, *, method: str, path: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{method} {path}: {status} {reason}: {message}")


def object_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """The API path of a namespaced collection (no name) or object."""
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}" if namespace else f"{prefix}/{PLURALS[kind]}"
    return f"{path}/{name}" if name else path


def path_of(obj: Mapping[str, Any]) -> str:
    """The API path of an object from its apiVersion, kind and metadata."""
    meta = obj["metadata"]
    return object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


class KubeApi:
    """One aiohttp session to the API server, opened lazily with kopf's credentials."""

    def __init__(self, *, timeout: float = 30.0) -> None:
        self._info: kopf.ConnectionInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._stale: list[aiohttp.ClientSession] = []
        self._applies: bool | None = None  # does the server do server-side apply? (asked once)
        self._applies_lock = asyncio.Lock()

    def use(self, info: kopf.ConnectionInfo) -> None:
        """Adopt (new) credentials; the next request opens a session with them."""
        if info == self._info:
            return
        self._info = info
        self._applies = None
        if self._session is not None:
            self._stale.append(self._session)
            self._session = None

    async def close(self) -> None:
        """Close every session."""
        sessions = [*self._stale, *([self._session] if self._session else [])]
        self._stale, self._session = [], None
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._info is None:
                raise RuntimeError("not logged in yet: kopf's login handler has not supplied credentials")
            info = self._info
            self._session = aiohttp.ClientSession(
                base_url=info.server.rstrip("/") + "/",
                connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),
                headers={**info.as_http_headers(), "User-Agent": "flash-green-operator"},
                auth=info.as_aiohttp_basic_auth(),
                timeout=self._timeout,
            )
        return self._session

    async def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = JSON
    ) -> dict[str, Any] | None:
        """One call; the decoded JSON answer (None for an empty one); ApiError on non-2xx."""
        session = self._client()
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Accept": JSON} if data is None else {"Accept": JSON, "Content-Type": content_type}
        async with session.request(method, path.lstrip("/"), data=data, headers=headers) as response:
            text = await response.text()
            if response.status >= 300:
                raise _error(response.status, text, method=method, path=path)
            return json.loads(text) if text else None

    async def get(self, path: str) -> dict[str, Any] | None:
        """The object at `path`, or None when it does not exist."""
        try:
            return await self.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST an object to its collection."""
        meta = body["metadata"]
        collection = object_path(body["apiVersion"], body["kind"], meta.get("namespace"))
        return await self.request("POST", f"{collection}?fieldManager={FIELD_MANAGER}", body) or {}

    async def apply(self, body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply of `body` as FIELD_MANAGER, taking over conflicting fields."""
        query = f"fieldManager={FIELD_MANAGER}&force=true" + ("&dryRun=All" if dry_run else "")
        return await self.request("PATCH", f"{path_of(body)}?{query}", body, content_type=APPLY_PATCH) or {}

    async def applies(self, namespace: str | None) -> bool:
        """Whether the server does server-side apply; asked once per login, writing nothing.

        A dry-run apply of a ConfigMap under a fresh name: an API server (1.22+) answers with the
        object it would create, its managedFields naming this field manager. kmock has no
        server-side apply and answers 404 for an object it does not hold (415 would be the
        answer of a server that does not know the content type): both mean the fallback.
        """
        async with self._applies_lock:
            if self._applies is None:
                probe = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": f"flash-green-apply-probe-{uuid.uuid4().hex[:12]}",
                        "namespace": namespace,
                    },
                }
                try:
                    answer = await self.apply(probe, dry_run=True)
                except ApiError as exc:
                    if exc.status not in (404, 405, 415):
                        raise  # no verdict (e.g. 403, 503): ask again next time
                    self._applies = False
                else:
                    self._applies = applied_by(answer, FIELD_MANAGER)
            return self._applies

    async def patch(self, path: str, body: Any, *, content_type: str = MERGE_PATCH) -> dict[str, Any]:
        """PATCH an object (JSON merge patch by default)."""
        return await self.request("PATCH", path, body, content_type=content_type) or {}

    async def delete(self, path: str) -> None:
        """DELETE an object; absent is fine."""
        try:
            await self.request("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise

    async def serves(self, group_version: str, plural: str) -> bool:
        """Whether the cluster serves a resource (API discovery)."""
        try:
            listing = await self.request("GET", f"/apis/{group_version}")
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.get("name") == plural for r in (listing or {}).get("resources", []))


def _error(status: int, text: str, *, method: str, path: str) -> ApiError:
    try:
        payload = json.loads(text)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    reason = str(payload.get("reason") or "")
    message = str(payload.get("message") or text[:200])
    return ApiError(status, reason, message, method=method, path=path)


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


def applied_by(obj: Mapping[str, Any], manager: str) -> bool:
    """True when `manager` owns fields of `obj` through server-side apply."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return any(e.get("manager") == manager and e.get("operation") == "Apply" for e in entries)


def _metadata_only(desired: Mapping[str, Any]) -> dict[str, Any]:
    meta = desired["metadata"]
    keep = ("name", "namespace", "labels", "annotations", "ownerReferences")
    return {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        "metadata": {k: meta[k] for k in keep if k in meta},
    }


async def ensure(api: KubeApi, desired: Mapping[str, Any], *, likely_exists: bool = False) -> dict[str, Any]:
    """Bring a child to `desired` (creating it if absent); returns the object as the server holds it."""
    if not await api.applies(desired["metadata"].get("namespace")):
        return await _create_or_patch(api, desired, likely_exists=likely_exists)
    if desired["kind"] not in CREATED_ONCE:
        return await api.apply(desired)
    try:
        return await api.create(desired)
    except ApiError as exc:
        if exc.status != 409:
            raise
    return await api.apply(_metadata_only(desired))  # it exists: its spec stays as created


async def _create_or_patch(
    api: KubeApi, desired: Mapping[str, Any], *, likely_exists: bool = False
) -> dict[str, Any]:
    """The fallback without server-side apply, kept for the kmock emulator the tests run against.

    A new bot's children are created straight away (one call each); when they likely exist
    (an update, or a resume after a restart) they are read first, so an unchanged child costs
    one read and no write.
    """
    path = path_of(desired)
    current = await api.get(path) if likely_exists else None
    if current is None:
        try:
            return await api.create(desired)
        except ApiError as exc:
            if exc.status != 409:
                raise
        current = await api.get(path)
        if current is None:  # deleted between the two calls
            return await api.create(desired)
    ops = patch_operations(desired, current)
    if not ops:
        return current
    return await api.patch(path, ops, content_type=JSON_PATCH)


async def patch_status(api: KubeApi, path: str, obj: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    """Merge `fields` into the status of the object at `path`, as read in `obj`.

    Its resourceVersion makes the API server refuse the write (409) if it changed since read.
    """
    body: dict[str, Any] = {"status": dict(fields)}
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if version:
        body["metadata"] = {"resourceVersion": version}
    await api.patch(f"{path}/status", body)


async def secret_keys(api: KubeApi, namespace: str, names: Sequence[str]) -> dict[str, frozenset[str] | None]:
    """The key names of each Secret (None when absent). Values are read by the API but never kept."""

    async def keys_of(name: str) -> frozenset[str] | None:
        secret = await api.get(object_path("v1", "Secret", namespace, name))
        if secret is None:
            return None
        return frozenset((secret.get("data") or {}).keys()) | frozenset(
            (secret.get("stringData") or {}).keys()
        )

    found = await asyncio.gather(*(keys_of(n) for n in names))
    return dict(zip(names, found, strict=True))
