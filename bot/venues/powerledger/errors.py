"""Powerledger's error replies: `{"error": "<code>", "message": "...", "order_id"?: "..."}`.

HTTP statuses map to `VenueError` kinds in `bot.venues.http.transport` (401/403 unauthorized,
429 rate_limited, 5xx server_error, other 4xx rejected). A `POST /orders` answered 409, or 400/422
with one of these codes, means the client order id is already taken: the adapter reads the order
named by `order_id` instead of sending another.
"""

DUPLICATE_CODES = frozenset({"DUPLICATE_CLIENT_ORDER_ID", "DUPLICATE_ORDER"})
