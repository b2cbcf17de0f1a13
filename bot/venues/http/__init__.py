"""What the REST venues share: transport (timeouts, read retries, 429, breaker), wire reading, `RestVenue`.

Each venue package (`powerledger`, `ice`, `fnality`) only declares its auth headers, wire models,
error codes and order body, as a `Dialect`; everything else is written once here.
"""

from bot.venues.http.breaker import CircuitBreaker
from bot.venues.http.transport import AmbiguousWrite, HttpPolicy, Reply, RestTransport
from bot.venues.http.venue import (
    Dialect,
    RestVenue,
    VenueOptions,
    WireFormat,
    open_rest_venue,
    order_fields,
    required,
)

__all__ = [
    "AmbiguousWrite",
    "CircuitBreaker",
    "Dialect",
    "HttpPolicy",
    "Reply",
    "RestTransport",
    "RestVenue",
    "VenueOptions",
    "WireFormat",
    "open_rest_venue",
    "order_fields",
    "required",
]
