"""Configuration problems as records, and the one error that carries them all.

A problem names the variable it is about (`env`), says what to do (`message`) and who issues the
value (`issuer`), so the operator, the webhook, preflight and the API read fields instead of
parsing text back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One actionable problem: `env` is the variable's name ("" when it is about no one variable)."""

    env: str
    message: str
    issuer: str | None = None

    def __str__(self) -> str:
        return self.message


class ConfigError(ValueError):
    """Invalid configuration: `problems` lists every bad or missing variable at once."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        lines = "\n".join(f"  - {p.message}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")

    @property
    def messages(self) -> list[str]:
        """The problems' lines, in order."""
        return [p.message for p in self.problems]


def placeholder(env: str, issuer: str | None) -> str:
    """The text the env templates hold for a value someone must fill: the error's own words."""
    return f"set {env} ({issuer})" if issuer else f"set {env}"


# A value standing in for a secret that exists but cannot be seen where the settings are validated
# (the operator and its webhook validate a spec whose secrets the pod receives by reference): it
# satisfies "required", and the shape of the real value is checked where it is read.
BY_REFERENCE = "set-by-reference"


def is_placeholder(env: str, value: Any) -> bool:
    """True for a template placeholder left unfilled (`set VAR ...`)."""
    return str(value).strip().startswith(f"set {env}")
