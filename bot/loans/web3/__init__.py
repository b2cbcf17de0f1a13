"""The on-chain flash loan (USE_WEB3_LOAN): ERC-3156 contracts reached over JSON-RPC with web3.py.

Modules, one job each: `artifacts` (the committed compiled contracts), `units` (GBP <-> pennies,
gwei <-> wei), `errors` (revert data -> blocked reason), `signer` (the key, never printed),
`nonces`, `fees`, `node` (the connection), `sender` (one transaction, its replacement and its
outcome), `lender` (the `FlashLoan` adapter), `deploy` (a development chain) and `probe`
(preflight). See docs/chain.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.loans.web3.lender import Web3FlashLoan, cycle_ref

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.venues.base import VenueObserver

__all__ = ["Web3FlashLoan", "build_web3_loan", "cycle_ref"]


def build_web3_loan(settings: Settings, observer: VenueObserver | None = None) -> Web3FlashLoan:
    """The on-chain lender configured by `settings` (HARDHAT_RPC, CHAIN_ID, FLASH_LOAN_CONTRACT,
    FLASH_LOAN_RECEIVER, LENDER_KEY, LOAN_LIMIT_GBP and the CHAIN_* caps)."""
    missing = [
        name
        for name, value in (
            ("HARDHAT_RPC", settings.hardhat_rpc),
            ("CHAIN_ID", settings.chain_id),
            ("FLASH_LOAN_CONTRACT", settings.flash_loan_contract),
            ("FLASH_LOAN_RECEIVER", settings.flash_loan_receiver),
            ("LENDER_KEY", settings.lender_key),
        )
        if value is None
    ]
    if missing:
        raise ValueError(f"USE_WEB3_LOAN=1 needs {', '.join(missing)}")
    assert settings.hardhat_rpc is not None and settings.chain_id is not None  # narrowed above
    assert settings.flash_loan_contract and settings.flash_loan_receiver and settings.lender_key
    return Web3FlashLoan(
        rpc_url=settings.hardhat_rpc,
        chain_id=settings.chain_id,
        lender=settings.flash_loan_contract.get_secret_value(),
        receiver=settings.flash_loan_receiver.get_secret_value(),
        private_key=settings.lender_key.get_secret_value(),
        limit_gbp=settings.loan_limit_gbp,
        max_fee_gwei=settings.chain_max_fee_gwei,
        gas_limit=settings.chain_gas_limit,
        receipt_timeout_secs=settings.chain_receipt_timeout_secs,
        observer=observer,
    )
