"""The feature toggles: each one's required settings and the adapter factory it selects.

This table is the only list of toggles. Validation reads it (what is required, and whether the
adapter exists in this version), the wiring reads it (which factory builds which leg), preflight
and the docs read it. A toggle whose adapter is not built is refused by validation, so the operator
and the admission webhook refuse it too instead of deploying a pod that cannot start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Leg = Literal["power", "futures", "futures_feed", "loan"]


@dataclass(frozen=True)
class Route:
    """What a toggle needs and builds for one value of its selector."""

    requires: tuple[str, ...]
    # "module:function" taking Settings and returning the adapter; None: not built in this version.
    factory: str | None = None
    adapter: str = "live adapter"  # what the factory builds, in the user's words


@dataclass(frozen=True)
class Toggle:
    """One feature toggle of the original README."""

    env: str
    leg: Leg
    routes: dict[str, Route]  # keyed by the selector's value; "" when there is no selector
    selector: str | None = None  # the setting choosing a route (FUTURES_LIVE_ADAPTER)
    default_route: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def field(self) -> str:
        return self.env.lower()

    def route(self, selected: str | None) -> Route:
        """The route for `selected` (the selector's value), or the default one."""
        return self.routes.get(selected or self.default_route, self.routes[self.default_route])

    def because(self, selected: str | None) -> str:
        """The condition quoted in errors: `USE_ICE_LIVE=1 with FUTURES_LIVE_ADAPTER=fnality_repo`."""
        if self.selector and (selected or self.default_route) != self.default_route:
            return f"{self.env}=1 with {self.selector}={selected}"
        return f"{self.env}=1"


TOGGLES: tuple[Toggle, ...] = (
    Toggle(
        "USE_LIVE_FEED",
        "futures_feed",
        {
            "": Route(
                ("LIVE_EXCHANGE", "LIVE_SYMBOL", "LIVE_API_KEY", "LIVE_API_SECRET"),
                factory="bot.venues.factories:ccxt_futures",
                adapter="CCXT live feed",
            )
        },
    ),
    Toggle(
        "USE_POWERLEDGER_LIVE",
        "power",
        {
            "": Route(
                ("POWERLEDGER_API_URL", "POWERLEDGER_API_TOKEN", "POWERLEDGER_ORG", "POWERLEDGER_MARKET"),
                factory="bot.venues.factories:powerledger",
                adapter="Powerledger power-leg adapter",
            )
        },
    ),
    Toggle(
        "USE_ICE_LIVE",
        "futures",
        {
            "ice_rest": Route(
                ("ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET", "ICE_SYMBOL"),
                factory="bot.venues.factories:ice",
                adapter="ICE REST futures adapter",
            ),
            "fnality_repo": Route(
                ("FNALITY_REPO_API_URL", "FNALITY_REPO_API_TOKEN", "FNALITY_REPO_MARKET"),
                factory="bot.venues.factories:fnality",
                adapter="Fnality repo-venue futures adapter",
            ),
            "ccxt": Route(
                ("LIVE_EXCHANGE", "LIVE_SYMBOL", "LIVE_API_KEY", "LIVE_API_SECRET"),
                factory="bot.venues.factories:ccxt_futures",
                adapter="CCXT futures adapter",
            ),
        },
        selector="FUTURES_LIVE_ADAPTER",
        default_route="ice_rest",
    ),
    Toggle(
        "USE_WEB3_LOAN",
        "loan",
        {
            "": Route(
                ("FLASH_LOAN_CONTRACT", "FLASH_LOAN_RECEIVER", "LENDER_KEY", "HARDHAT_RPC", "CHAIN_ID"),
                factory="bot.loans.web3:build_web3_loan",
                adapter="on-chain flash-loan adapter",
            )
        },
    ),
)

# Secret backends and the settings each one needs before it can be asked for anything.
BACKEND_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "vault": ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_SECRET_PATH"),
    "aws": ("AWS_SECRETS_REGION", "AWS_SECRETS_ID"),
}

# Views of the table for readers that want plain names (tests, docs).
TOGGLE_REQUIREMENTS: dict[str, tuple[str, ...]] = {t.env: t.route(None).requires for t in TOGGLES}
FNALITY_REQUIREMENTS: tuple[str, ...] = TOGGLES[2].routes["fnality_repo"].requires


Mode = Literal["live", "paper", "simulated"]


def trading_mode(settings: Any) -> Mode:
    """What a bot with these settings does, in one word (metrics, `/state`, the control panel, logs).

    `simulated`: no venue toggle on. `live`: orders go to live venues, which takes both legs'
    venues (USE_POWERLEDGER_LIVE and USE_ICE_LIVE) and PAPER_TRADING=0. Any other venue toggle
    is `paper`: the live books of the legs whose toggle is on, orders filled locally, nothing
    sent (a bot never trades one leg for real against a simulated or read-only other leg).
    """
    if not any(getattr(settings, t.field) for t in TOGGLES if t.leg != "loan"):
        return "simulated"
    both_legs = settings.use_powerledger_live and settings.use_ice_live
    return "live" if both_legs and not settings.paper_trading else "paper"


def toggle_named(env: str) -> Toggle:
    """The toggle whose env name is `env`."""
    return next(t for t in TOGGLES if t.env == env)


def required_by(env: str) -> tuple[str, ...]:
    """The toggles (with their selector) and backends that make `env` required."""
    out = []
    for toggle in TOGGLES:
        for selected, route in toggle.routes.items():
            if env in route.requires:
                out.append(toggle.because(selected))
    out += [f"SECRETS_BACKEND={b}" for b, names in BACKEND_REQUIREMENTS.items() if env in names]
    return tuple(out)
