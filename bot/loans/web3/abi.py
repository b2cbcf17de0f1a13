"""Encoding calls and decoding results straight from the artifacts' ABIs.

web3's contract objects map every argument and result through generic formatters, which measured
(bench_loan) as about half the time of a `draw`. The adapter calls four functions; each is
encoded here once from its ABI entry (selector and types taken from the committed artifact, so
they cannot drift from the contract) and sent as plain `eth_call` / transaction data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from bot.loans.web3.artifacts import Artifact


def canonical_type(item: dict[str, Any]) -> str:
    """The ABI type of a parameter as it appears in a signature (tuples spelled out)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(component) for component in item["components"])
        return f"({inner}){kind.removeprefix('tuple')}"
    return kind


@dataclass(frozen=True, slots=True)
class Function:
    """One function of a contract: its selector and its input and output types."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def call_data(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.inputs), list(args))

    def result(self, data: bytes) -> tuple[Any, ...]:
        return tuple(decode(list(self.outputs), data))


def function(artifact: Artifact, name: str) -> Function:
    """The function `name` of `artifact` (the only one of that name: none of ours is overloaded)."""
    entries = [item for item in artifact.abi if item.get("type") == "function" and item["name"] == name]
    if len(entries) != 1:
        raise LookupError(f"{artifact.name} has {len(entries)} functions named {name}")
    entry = entries[0]
    inputs = tuple(canonical_type(arg) for arg in entry["inputs"])
    return Function(
        name=name,
        selector=keccak(text=f"{name}({','.join(inputs)})")[:4],
        inputs=inputs,
        outputs=tuple(canonical_type(arg) for arg in entry["outputs"]),
    )
