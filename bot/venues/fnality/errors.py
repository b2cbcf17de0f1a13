"""The repo venue's error replies: `{"error": {"code": "<code>", "message": "...", "order_id"?: "..."}}`
(a flat `{"error": "<code>", ...}` is read too).

HTTP statuses map to `VenueError` kinds in `bot.venues.http.transport`. A `POST /orders` answered
409, or 400/422 with one of these codes, means the client order id is already taken: the adapter
reads the order named by `order_id` instead of sending another.
"""

DUPLICATE_CODES = frozenset({"DUPLICATE_CLIENT_ORDER_ID", "DUPLICATE_ORDER"})
