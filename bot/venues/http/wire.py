"""Reading venue replies exactly: JSON numbers as Decimal, pydantic models, no float anywhere.

Every venue speaks decimal strings for prices and quantities and may send JSON numbers instead;
both reach a pydantic `Decimal` field unrounded because the text is decoded with
`parse_float=Decimal`. A reply that does not fit its model is a `VenueError` of kind `malformed`
whose message names the fields, never their values (a body may echo what we sent).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from bot.domain.market import Level, OrderState, OrderStatus
from bot.venues.base import VenueError

# Statuses of the three REST venues, upper-cased: Powerledger and the repo venue send them in
# lower case (`partially_filled`), ICE in upper case with `NEW` for an accepted, unfilled order.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,
    "OPEN": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
}
_MS_EPOCH_FROM = 10**11  # a numeric timestamp above this is in milliseconds


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a venue may send")


def decode_json(text: str) -> Any:
    """The JSON `text` with every fractional number a Decimal; NaN and Infinity refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def wire_decimal(value: Decimal) -> str:
    """A Decimal as the plain decimal string venues expect (`100`, never `1E+2`)."""
    return format(value, "f")


def _timestamp(value: Any) -> Any:
    """Epoch seconds or milliseconds to an aware datetime; naive ISO times are taken as UTC."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        seconds = Decimal(value) / 1000 if value > _MS_EPOCH_FROM else Decimal(value)
        return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(seconds % 1 * 10**6))
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


class WireModel(BaseModel):
    """A venue reply: unknown fields ignored, numeric ids read as strings."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class WireLevel(WireModel):
    """One book level; a venue's subclass renames the fields with aliases."""

    price: Decimal
    quantity: Decimal


class WireBook(WireModel):
    """An order book reply: `bids` and `asks` of levels (subclasses narrow the level type)."""

    bids: Sequence[WireLevel]
    asks: Sequence[WireLevel]
    timestamp: Timestamp | None = None

    def sides(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """Bids best (highest) first and asks best (lowest) first; empty levels dropped."""
        bids = sorted((Level(b.price, b.quantity) for b in self.bids if b.quantity > 0), reverse=True)
        asks = sorted(Level(a.price, a.quantity) for a in self.asks if a.quantity > 0)
        return tuple(bids), tuple(asks)


class WireOrder(WireModel):
    """An order reply; a venue's subclass names `filled` and `average` with aliases."""

    order_id: str
    client_order_id: str | None = None
    status: str
    filled: Decimal = Decimal(0)
    average: Decimal | None = None

    def state(self, client_order_id: str) -> OrderState:
        """The domain state of this reply, for the order we asked about (`client_order_id`)."""
        status = ORDER_STATUSES.get(self.status.strip().upper())
        if status is None:
            raise VenueError(
                f"order {self.order_id} has a status this adapter does not know", kind="malformed"
            )
        if self.client_order_id not in (None, client_order_id):
            raise VenueError(
                f"order {self.order_id} belongs to another client order id, not {client_order_id}",
                kind="malformed",
            )
        return OrderState(client_order_id, status, self.filled, self.average, self.order_id)


class ErrorBody(WireModel):
    """An error reply: `{"error": code, "message": ...}`, `{"code": ..., "message": ...}` or
    `{"error": {"code": ..., "message": ...}}`; `order_id` names the existing order of a duplicate."""

    error: str | dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None
    order_id: str | None = None

    @property
    def error_code(self) -> str:
        """The venue's error code, or "" when it gave none."""
        if isinstance(self.error, dict):
            return str(self.error.get("code") or "")
        return self.code or self.error or ""

    @property
    def existing_order_id(self) -> str | None:
        """The venue order id a duplicate-order error points at, when it names one."""
        nested = self.error.get("order_id") if isinstance(self.error, dict) else None
        return self.order_id or (str(nested) if nested is not None else None)


M = TypeVar("M", bound=WireModel)


def parse_reply(model: type[M], body: Any, what: str) -> M:
    """`body` read as `model`; `VenueError(kind="malformed")` naming the bad fields otherwise."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) or "(body)" for error in exc.errors()})
        raise VenueError(
            f"{what}: unreadable reply (fields: {', '.join(fields)})", kind="malformed"
        ) from None


def error_body(body: Any) -> ErrorBody:
    """The error reply's code and message, or an empty one when the body is not one."""
    try:
        return ErrorBody.model_validate(body) if isinstance(body, dict) else ErrorBody()
    except ValidationError:
        return ErrorBody()


class WirePrice(WireModel):
    """A last-price reply, the fallback of a venue without an order book endpoint."""

    timestamp: Timestamp | None = None

    @abstractmethod
    def sides(self, size: Decimal) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """A one-level book of `size` MWh per side (BOOK_SIZE_MWH); each venue's price model says how."""
