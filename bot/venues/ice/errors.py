"""ICE's error replies: `{"code": "<CODE>", "message": "...", "order_id"?: "..."}`.

HTTP statuses map to `VenueError` kinds in `bot.venues.http.transport`. A `POST /orders` answered
409, or 400/422 with one of these codes, means the client order id is already taken: the adapter
reads the order named by `order_id`, or finds it with `GET /orders?client_order_id=...`.
"""

DUPLICATE_CODES = frozenset({"DUPLICATE_CLIENT_ORDER_ID", "DUPLICATE_CLORDID"})
