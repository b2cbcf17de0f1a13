"""A small async client of the Kubernetes API: the few calls the operator makes itself.

kopf watches, patches the ArbitrageBots and posts events through its own client. The children,
the Secrets' key names and the status written from the Deployment watcher go through this one,
built on the credentials kopf logged in with (`kopf.ConnectionInfo`), so both use the same
identity. Calls are plain JSON over one aiohttp session; every non-2xx answer raises `ApiError`
(a 404 on a read returns None), which the handlers turn into `kopf.TemporaryError` retries.

Children are applied by `arbitrage_operator.children` through this client. Names and namespaces
are quoted into the request path (`object_path`), so no name can reach another namespace's objects.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

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
    "Event": "events",
}


class ApiError(Exception):
    """A non-2xx answer of the API server."""

    def __init__(self, status: int, reason: str, message: str, *, method: str, path: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{method} {path}: {status} {reason}: {message}")


def _segment(value: str) -> str:
    """One path segment: quoted whole, so a name can never add segments ("/") or climb ("..")."""
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not an object name")
    return quote(value, safe="")


def object_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """The API path of a namespaced collection (no name) or object; namespace and name are quoted."""
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    plural = PLURALS[kind]
    path = f"{prefix}/namespaces/{_segment(namespace)}/{plural}" if namespace else f"{prefix}/{plural}"
    return f"{path}/{_segment(name)}" if name else path


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


def applied_by(obj: Mapping[str, Any], manager: str) -> bool:
    """True when `manager` owns fields of `obj` through server-side apply."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return any(e.get("manager") == manager and e.get("operation") == "Apply" for e in entries)


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
