"""Loopback venues for the REST adapters: a real HTTP server speaking each venue's wire format.

`LoopbackVenue` is a tiny in-memory exchange behind a pytest-httpserver (threaded, so a slow
reply does not hold the next request): it checks the credentials, keeps orders by venue and
client order id, refuses a duplicate client order id with the venue's own error reply, and
fills, part-fills, rests or rejects each new order as the test sets `mode`. Faults are one-shot
handlers registered in front of it (`fault`), so the next matching request meets the fault and
the ones after it meet the venue again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.config import Settings
from bot.domain.market import OrderStatus
from bot.venues.base import Venue
from bot.venues.fnality import build_fnality_venue
from bot.venues.http import HttpPolicy, VenueOptions
from bot.venues.ice import build_ice_venue
from bot.venues.powerledger import build_powerledger_venue

STAMP = "2025-03-01T10:00:00Z"
# Every fractional digit must survive: a float would round this.
EXACT = "0.1234567890123456789"


@dataclass(frozen=True)
class ServerFormat:
    """One venue's dialect as its server speaks it."""

    name: str  # the adapter's venue name
    leg: str
    book_path: str
    price_path: str | None
    level: Callable[[str, str], dict[str, str]]
    book_extra: dict[str, str]
    price_reply: dict[str, str] | None
    statuses: dict[OrderStatus, str]
    filled_key: str
    average_key: str
    quantity_key: str
    price_key: Callable[[dict[str, Any]], str]  # the limit price's field in a POST body
    duplicate_reply: Callable[[str], dict[str, Any]]  # the error body naming the existing order
    settings: Callable[[str], dict[str, str]]  # the adapter's settings for a base URL
    secrets: tuple[str, ...]
    authorised: Callable[[Any], bool]
    build: Callable[[Settings, VenueOptions], Venue]
    lookup: bool  # the venue answers GET /orders?client_order_id=


_LOWER = {
    OrderStatus.OPEN: "open",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
}
_UPPER = {status: "NEW" if status is OrderStatus.OPEN else status.value for status in _LOWER}

PL_TOKEN = "pl-Token-5ecret-0123456789"
ICE_KEY = "ice-Key-abcdef-0123456789"
ICE_SECRET = "ice-Secret-fedcba-9876543210"
FN_TOKEN = "fn-Token-hqlax-0123456789"

POWERLEDGER = ServerFormat(
    name="powerledger",
    leg="power",
    book_path="/markets/uk-grid-24h-ahead/orderbook",
    price_path="/markets/uk-grid-24h-ahead/price",
    level=lambda price, qty: {"price_mwh": price, "quantity_mwh": qty},
    book_extra={"market": "uk-grid-24h-ahead"},
    price_reply={"market": "uk-grid-24h-ahead", "price_mwh": "-5.25", "timestamp": STAMP},
    statuses=_LOWER,
    filled_key="filled_mwh",
    average_key="avg_price_mwh",
    quantity_key="quantity_mwh",
    price_key=lambda body: "max_price" if body["side"] == "BUY" else "min_price",
    duplicate_reply=lambda oid: {"error": "duplicate_client_order_id", "message": "taken", "order_id": oid},
    settings=lambda url: {
        "powerledger_api_url": url,
        "powerledger_api_token": PL_TOKEN,
        "powerledger_org": "desk-7",
        "powerledger_market": "uk-grid-24h-ahead",
    },
    secrets=(PL_TOKEN,),
    authorised=lambda h: h.get("Authorization") == f"Bearer {PL_TOKEN}" and h.get("X-PL-Org") == "desk-7",
    build=build_powerledger_venue,
    lookup=False,
)
ICE = ServerFormat(
    name="ice",
    leg="futures",
    book_path="/marketdata/UK-BASE-Q3-26/orderbook",
    price_path="/marketdata/UK-BASE-Q3-26/price",
    level=lambda price, qty: {"price": price, "quantity": qty},
    book_extra={"symbol": "UK-BASE-Q3-26"},
    price_reply={"symbol": "UK-BASE-Q3-26", "bid": "81.40", "ask": "81.60", "timestamp": STAMP},
    statuses=_UPPER,
    filled_key="filled_qty",
    average_key="avg_price",
    quantity_key="quantity",
    price_key=lambda body: "price",
    duplicate_reply=lambda oid: {"code": "DUPLICATE_CLIENT_ORDER_ID", "message": "taken", "order_id": oid},
    settings=lambda url: {
        "ice_api_url": url,
        "ice_api_key": ICE_KEY,
        "ice_api_secret": ICE_SECRET,
        "ice_symbol": "UK-BASE-Q3-26",
    },
    secrets=(ICE_KEY, ICE_SECRET),
    authorised=lambda h: h.get("X-API-KEY") == ICE_KEY and h.get("X-API-SECRET") == ICE_SECRET,
    build=build_ice_venue,
    lookup=True,
)
FNALITY = ServerFormat(
    name="fnality-repo",
    leg="futures",
    book_path="/markets/GB-POWER-REPO/orderbook",
    price_path=None,
    level=lambda price, qty: {"price": price, "quantity_mwh": qty},
    book_extra={},
    price_reply=None,
    statuses=_LOWER,
    filled_key="filled_mwh",
    average_key="avg_price",
    quantity_key="quantity_mwh",
    price_key=lambda body: "price",
    duplicate_reply=lambda oid: {"error": {"code": "duplicate_client_order_id", "order_id": oid}},
    settings=lambda url: {
        "fnality_repo_api_url": url,
        "fnality_repo_api_token": FN_TOKEN,
        "fnality_repo_market": "GB-POWER-REPO",
    },
    secrets=(FN_TOKEN,),
    authorised=lambda h: h.get("Authorization") == f"Bearer {FN_TOKEN}",
    build=build_fnality_venue,
    lookup=False,
)
FORMATS = (POWERLEDGER, ICE, FNALITY)


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


@dataclass
class LoopbackVenue:
    """An in-memory venue speaking `fmt` over a real loopback HTTP server."""

    fmt: ServerFormat
    server: HTTPServer
    mode: str = "fill"  # fill | partial | rest | reject: what a new order does
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by venue order id
    posts: list[dict[str, Any]] = field(default_factory=list)  # every POST /orders body it acted on
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request, faults too
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def settings(self, url: str | None = None) -> Settings:
        return Settings(_env_file=None, **self.fmt.settings(url or self.url))

    def venue(self, policy: HttpPolicy | None = None, clock: FakeTime | None = None, **options: Any) -> Venue:
        """The adapter under test, built from settings, with tiny timeouts and fake time."""
        time_ = clock or FakeTime()
        options.setdefault("policy", policy or fast_policy())
        return self.fmt.build(
            self.settings(), VenueOptions(clock=time_.monotonic, sleep=time_.sleep, **options)
        )

    def fault(self, path: str, method: str, reply: Response | Callable[[Request], Response]) -> None:
        """The next `method path` request meets `reply` instead of the venue."""

        def answer(request: Request) -> Response:
            self.seen.append((request.method, request.path))
            return reply if isinstance(reply, Response) else reply(request)

        self.server.expect_oneshot_request(path, method=method).respond_with_handler(answer)

    def slow(self, seconds: float) -> Callable[[Request], Response]:
        """A handler that lets the venue act on the request, then answers `seconds` late."""

        def answer(request: Request) -> Response:
            response = self._answer(request)
            time.sleep(seconds)
            return response

        return answer

    def book_json(self) -> dict[str, Any]:
        level = self.fmt.level
        return {
            **self.fmt.book_extra,
            "bids": [level("80.10", "12.5"), level("80.25", "7")],  # unsorted on purpose
            "asks": [level(EXACT, "3"), level("-1.50", "4")],  # zero and negative prices are real
            "timestamp": STAMP,
        }

    # -- the venue ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.path))
        return self._answer(request)

    def _answer(self, request: Request) -> Response:
        if not self.fmt.authorised(request.headers):
            # A careless venue echoes the credential it refused: the adapter must not repeat it.
            sent = request.headers.get("Authorization") or request.headers.get("X-API-KEY") or ""
            return json_reply({"error": "unauthorized", "message": f"bad credential {sent}"}, 401)
        path = request.path
        if request.method == "GET" and path == self.fmt.book_path:
            text = json.dumps(self.book_json()).replace(f'"{EXACT}"', EXACT)  # a JSON number
            return Response(text, content_type="application/json")
        if request.method == "GET" and path == self.fmt.price_path:
            return json_reply(self.fmt.price_reply)
        with self._lock:
            if path == "/orders" and request.method == "POST":
                return self._place(request.get_json())
            if path == "/orders" and request.method == "GET":
                return self._lookup(request.args.get("client_order_id", ""))
            order = self.orders.get(path.removeprefix("/orders/"))
            if order is None:
                return json_reply({"error": "not_found", "message": "no such order"}, 404)
            if request.method == "DELETE":
                return self._cancel(order)
            return json_reply(self._reply(order))

    def _place(self, body: dict[str, Any]) -> Response:
        self.posts.append(body)
        cid = body["client_order_id"]
        existing = next((o for o in self.orders.values() if o["client_order_id"] == cid), None)
        if existing is not None:
            return json_reply(self.fmt.duplicate_reply(existing["order_id"]), 409)
        quantity = Decimal(body[self.fmt.quantity_key])
        price = body[self.fmt.price_key(body)]
        status, filled = {
            "fill": (OrderStatus.FILLED, quantity),
            "partial": (OrderStatus.PARTIALLY_FILLED, quantity / 2),
            "rest": (OrderStatus.OPEN, Decimal(0)),
            "reject": (OrderStatus.REJECTED, Decimal(0)),
        }[self.mode]
        order_id = f"{self.fmt.name}-{len(self.orders) + 1}"
        self.orders[order_id] = {
            "order_id": order_id,
            "client_order_id": cid,
            "status": status,
            "filled": filled,
            "average": price if filled else None,
        }
        return json_reply(self._reply(self.orders[order_id]), 201)

    def _lookup(self, cid: str) -> Response:
        found = [o for o in self.orders.values() if o["client_order_id"] == cid]
        if not self.fmt.lookup or not found:
            return json_reply({"error": "not_found"}, 404)
        return json_reply(self._reply(found[0]))

    def _cancel(self, order: dict[str, Any]) -> Response:
        if order["status"] not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            return json_reply({"error": "order_final", "message": "order is final"}, 409)
        order["status"] = OrderStatus.CANCELLED
        return json_reply(self._reply(order))

    def _reply(self, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": order["order_id"],
            "client_order_id": order["client_order_id"],
            "status": self.fmt.statuses[order["status"]],
            self.fmt.filled_key: str(order["filled"]),
            self.fmt.average_key: order["average"],
        }


class FakeTime:
    """A monotonic clock that moves only when the adapter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fast_policy(**changes: Any) -> HttpPolicy:
    """Tiny timeouts and backoffs (the sleeps are fake anyway), a breaker that rarely opens."""
    values: dict[str, Any] = {
        "connect_timeout_s": 0.5,
        "read_timeout_s": 0.2,
        "read_attempts": 3,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "backoff_jitter_s": 0.01,
        "breaker_failures": 50,
    }
    values.update(changes)
    return HttpPolicy(**values)
