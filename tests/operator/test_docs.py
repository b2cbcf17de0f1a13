"""docs/operator.md: its reference tables are the code's, and it covers every condition reason."""

from __future__ import annotations

from pathlib import Path

from arbitrage_operator.reference import SECTIONS, generated_sections
from arbitrage_operator.status import REASONS
from bot.config import catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "operator.md"


def test_the_generated_tables_are_current() -> None:
    # given docs/operator.md; then each generated table equals what the code generates now
    found = generated_sections(DOC.read_text())
    assert set(found) == set(SECTIONS)
    for name, build in SECTIONS.items():
        assert found[name] == build(), (
            f"docs/operator.md section {name!r} is stale: run `python -m arbitrage_operator.reference "
            "--write docs/operator.md`"
        )


def test_every_environment_variable_is_in_the_mapping_table() -> None:
    text = DOC.read_text()
    assert all(f"| `{row.env}` |" in text for row in catalog())


def test_every_condition_and_reason_is_documented() -> None:
    text = DOC.read_text()
    for condition, reasons in REASONS.items():
        for reason in reasons:
            assert f"| `{condition}` | `{reason}` |" in text


def test_the_debugging_guide_is_there() -> None:
    assert "## Debugging a bot that does not start" in DOC.read_text()
