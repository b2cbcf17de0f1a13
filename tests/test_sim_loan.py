"""The simulated flash loan: a limit, a fee rounded to the penny, one loan per cycle, faults."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.config import Settings
from bot.loans.base import FlashLoan, LoanError
from bot.loans.simulated import SimulatedFlashLoan, build_simulated_loan


def lender(**env: str) -> SimulatedFlashLoan:
    return build_simulated_loan(Settings.from_mapping(env))


async def test_the_simulated_lender_is_a_flash_loan() -> None:
    loan = lender()
    assert isinstance(loan, FlashLoan) and loan.name == "sim-loan"
    await loan.ping()


async def test_a_draw_charges_the_fee_in_basis_points_of_the_amount() -> None:
    loan = lender()  # LOAN_FEE_BP defaults to 9
    handle = await loan.draw("c1", Decimal("10000"))
    assert (handle.cycle_id, handle.amount, handle.fee) == ("c1", Decimal("10000"), Decimal("9.00"))
    assert handle.reference


async def test_the_fee_is_rounded_to_the_penny_half_up() -> None:
    loan = lender(LOAN_FEE_BP="10")
    half_penny = await loan.draw("c1", Decimal("5.00"))  # 0.005 GBP
    below_half = await loan.draw("c2", Decimal("4.99"))  # 0.00499 GBP
    assert half_penny.fee == Decimal("0.01")  # half up, where banker's rounding would give 0.00
    assert below_half.fee == Decimal("0.00")


async def test_drawing_more_than_the_limit_is_refused() -> None:
    loan = lender(LOAN_LIMIT_GBP="5000", MAX_NOTIONAL_PER_TRADE="5000")
    with pytest.raises(LoanError, match=r"^refused: amount exceeds limit"):
        await loan.draw("c1", Decimal("5000.01"))
    assert loan.outstanding() == {}
    assert (await loan.draw("c2", Decimal("5000"))).amount == Decimal("5000")  # the limit itself is fine


async def test_a_non_positive_amount_is_refused() -> None:
    loan = lender()
    with pytest.raises(LoanError, match="refused: amount must be positive"):
        await loan.draw("c1", Decimal(0))


async def test_a_float_amount_is_a_programming_error() -> None:
    loan = lender()
    with pytest.raises(TypeError, match="Decimal"):
        await loan.draw("c1", 100.0)  # type: ignore[arg-type]


async def test_one_cycle_holds_at_most_one_outstanding_loan() -> None:
    loan = lender()
    first = await loan.draw("c1", Decimal("100"))
    with pytest.raises(LoanError, match="c1 already has an outstanding loan"):
        await loan.draw("c1", Decimal("100"))
    await loan.draw("c2", Decimal("100"))
    assert set(loan.outstanding()) == {"c1", "c2"}
    assert loan.outstanding()["c1"] == first


async def test_repaying_amount_plus_fee_closes_the_loan() -> None:
    loan = lender()
    handle = await loan.draw("c1", Decimal("2500"))
    await loan.repay(handle)
    assert loan.outstanding() == {}
    assert loan.fees_earned == handle.fee == Decimal("2.25")


async def test_a_repayment_that_does_not_match_amount_plus_fee_fails() -> None:
    loan = lender()
    handle = await loan.draw("c1", Decimal("2500"))
    with pytest.raises(LoanError, match=r"repay failed: 2501.25 GBP offered, 2502.25 GBP due"):
        await loan.repay(replace(handle, fee=Decimal("1.25")))
    assert "c1" in loan.outstanding()  # still owed


async def test_repaying_a_loan_never_drawn_fails() -> None:
    loan = lender()
    handle = await loan.draw("c1", Decimal("10"))
    await loan.repay(handle)
    with pytest.raises(LoanError, match="repay failed: no outstanding loan"):
        await loan.repay(handle)


async def test_a_forced_refusal_refuses_one_draw() -> None:
    loan = lender()
    loan.faults.force("refuse")
    with pytest.raises(LoanError, match=r"refused: .*loan_refuse"):
        await loan.draw("c1", Decimal("100"))
    assert loan.outstanding() == {}
    assert (await loan.draw("c1", Decimal("100"))).amount == 100


async def test_a_forced_repay_failure_keeps_the_loan_outstanding_and_a_retry_repays_it() -> None:
    loan = lender()
    loan.faults.force("repay_fail")
    handle = await loan.draw("c1", Decimal("100"))
    with pytest.raises(LoanError, match=r"repay failed: .*repay_fail"):
        await loan.repay(handle)
    assert "c1" in loan.outstanding()
    await loan.repay(handle)
    assert loan.outstanding() == {}


async def test_sim_faults_set_how_often_the_loan_fails() -> None:
    loan = lender(SIM_FAULTS="loan_refuse=1,power_reject=1")
    for i in range(5):
        with pytest.raises(LoanError, match="refused"):
            await loan.draw(f"c{i}", Decimal("100"))

    repays = lender(SIM_FAULTS="repay_fail=1")
    handle = await repays.draw("c1", Decimal("100"))
    with pytest.raises(LoanError, match="repay failed"):
        await repays.repay(handle)


async def test_a_venue_fault_cannot_be_forced_on_the_loan() -> None:
    with pytest.raises(ValueError, match="does not apply to the loan side"):
        lender().faults.force("partial_fill")


async def test_a_closed_lender_lends_nothing() -> None:
    loan = lender()
    await loan.close()
    with pytest.raises(LoanError, match="closed"):
        await loan.draw("c1", Decimal("1"))


def test_the_lender_reads_its_limit_and_fee_from_the_settings() -> None:
    loan = lender(LOAN_LIMIT_GBP="250000", LOAN_FEE_BP="4.5")
    assert (loan.limit_gbp, loan.fee_bp) == (Decimal("250000"), Decimal("4.5"))
    assert "250000" in repr(loan)
