"""How one setting is declared: its type and default plus the metadata every reader of the table uses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic_settings import NoDecode

# What the control plane may do with a setting when it starts the trading loop:
#   never    - not at all (identity, journal, venues, credentials, where secrets are sent)
#   any      - any valid value (pace, logging, the simulator's parameters)
#   lower    - a number no greater than the running value (limits)
#   higher   - a number no smaller than the running value (costs and thresholds priced in)
#   off      - a switch may be turned off, never on (trading enabled, weekends)
#   narrower - a trading window inside the running one
Override = Literal["never", "any", "lower", "higher", "off", "narrower"]

ListSetting = Annotated[list[str], NoDecode]


def setting(
    default: Any,
    description: str,
    *,
    secret: bool = False,
    crd: str | None = None,
    hydrate: bool = False,
    issuer: str | None = None,
    override: Override = "never",
    **kwargs: Any,
) -> Any:
    """A field with the catalog metadata: secrecy, CRD path, backend hydration, issuer, override rule."""
    extra: dict[str, Any] = {
        "secret": secret,
        "crd": crd,
        "hydrate": hydrate,
        "issuer": issuer,
        "override": override,
    }
    return Field(default, description=description, json_schema_extra=extra, **kwargs)
