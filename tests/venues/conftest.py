"""Fixtures of tests/venues: the REST venues' loopback servers (`rest_fixtures.py`).

Re-exported here so pytest finds them; the CCXT tests in this folder do not use them.
"""

from tests.venues.rest_fixtures import fmt, http_server, loopback, make_venue  # noqa: F401
