"""Building the ccxt exchange object: class, credentials, options, sandbox and endpoint rewrites.

One object serves REST and, when streaming, websockets: a `ccxt.pro` class is a `ccxt.async_support`
class with `watch_*` methods, so markets are loaded once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from bot.venues.ccxt.errors import annotate_http_error


@dataclass(frozen=True, slots=True)
class ClientIdParams:
    """How an exchange takes our client order id: when placing, and to find an order by it."""

    place: str = "clientOrderId"  # ccxt's unified parameter
    lookup: str = "clientOrderId"


# Exchanges whose native parameter names we use (ccxt maps the unified name for many, not all).
CLIENT_ID_PARAMS: dict[str, ClientIdParams] = {
    "binance": ClientIdParams(place="newClientOrderId", lookup="origClientOrderId"),
}


def exchange_options(exchange_id: str, symbol: str) -> dict[str, Any]:
    """ccxt options that keep market loading to what one symbol needs.

    Binance loads spot, linear and inverse markets (three `exchangeInfo` calls) and, with keys,
    its currencies (a signed `sapi` call) by default; a spot symbol needs one `exchangeInfo`.
    """
    if exchange_id == "binance" and ":" not in symbol:  # a unified spot symbol has no settle part
        return {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    return {}


def _with_http_tags(base: type[Any]) -> type[Any]:
    """`base` with every HTTP error tagged by status, Retry-After and the exchange's code (see errors)."""

    class Tagged(base):
        def handle_errors(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            headers: Any,
            body: str,
            response: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            try:
                if code < 400 and response is None and body and body.strip():  # ccxt passes non-JSON on
                    raise ccxt.BadResponse(f"{self.id} {method} answered with a body that is not JSON")
                result = super().handle_errors(
                    code, reason, url, method, headers, body, response, request_headers, request_body
                )
                if code >= 400:  # ccxt's own status mapping, raised here so it carries the tags too
                    self.handle_http_status_code(code, reason, url, method, body)
            except ccxt.BaseError as exc:
                annotate_http_error(exc, code, headers, response)
                raise
            return result

    Tagged.__name__ = Tagged.__qualname__ = base.__name__
    return Tagged


def exchange_class(exchange_id: str, *, streaming: bool) -> type[Any]:
    """The ccxt class for `exchange_id`: ccxt.pro's when streaming and it can watch books."""
    if streaming and exchange_id in ccxt_pro.exchanges:
        pro = getattr(ccxt_pro, exchange_id)
        if pro().has.get("watchOrderBook"):
            return _with_http_tags(pro)
    if exchange_id not in ccxt_async.exchanges:
        raise ValueError(f"LIVE_EXCHANGE={exchange_id!r} is not a ccxt exchange id (e.g. binance, kraken)")
    return _with_http_tags(getattr(ccxt_async, exchange_id))


def rewrite_endpoints(api: Any, base_url: str, *, websocket: bool) -> Any:
    """`api` (an exchange's `urls['api']`) with each REST (or websocket) URL moved under `base_url`.

    The URL's scheme, host and port become `base_url`'s; its path is kept after `base_url`'s path,
    so `https://api.binance.com/api/v3` under `http://127.0.0.1:8080` is
    `http://127.0.0.1:8080/api/v3`. Nested sections are rewritten too. ccxt merges a constructor's
    `urls` per section, so every section must be rewritten after construction, never passed in.
    """
    schemes = ("ws://", "wss://") if websocket else ("http://", "https://")
    prefix = base_url.rstrip("/")
    if isinstance(api, dict):
        return {key: rewrite_endpoints(value, base_url, websocket=websocket) for key, value in api.items()}
    if isinstance(api, str) and api.startswith(schemes):
        return prefix + urlsplit(api).path
    return api


def build_exchange(
    exchange_id: str,
    symbol: str,
    *,
    api_key: str | None,
    api_secret: str | None,
    api_url: str | None,
    sandbox: bool,
    streaming: bool,
    stream_url: str | None = None,
    timeout_ms: int = 10_000,
) -> Any:
    """A configured ccxt exchange (nothing is sent until it is used)."""
    if sandbox and api_url:
        raise ValueError(
            "LIVE_SANDBOX=1 and LIVE_API_URL are exclusive: the sandbox switches the exchange's "
            "endpoints, LIVE_API_URL replaces them; unset one"
        )
    cls = exchange_class(exchange_id, streaming=streaming)
    exchange = cls(
        {
            "apiKey": api_key or "",
            "secret": api_secret or "",
            "enableRateLimit": True,  # ccxt spaces requests by the exchange's published weights
            "timeout": timeout_ms,
            "options": exchange_options(exchange_id, symbol),
        }
    )
    if sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ValueError(
                f"LIVE_SANDBOX=1 but ccxt has no sandbox for {exchange_id}; unset LIVE_SANDBOX or "
                "point LIVE_API_URL at the exchange's test endpoint"
            ) from None
    api = exchange.urls.get("api")
    if api_url:
        exchange.urls["api"] = rewrite_endpoints(api, api_url, websocket=False)
    if stream_url and isinstance(exchange.urls["api"], dict) and "ws" in exchange.urls["api"]:
        exchange.urls["api"]["ws"] = rewrite_endpoints(exchange.urls["api"]["ws"], stream_url, websocket=True)
    return exchange
