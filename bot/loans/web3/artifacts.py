"""The compiled contracts the adapter talks to, read from `contracts/artifacts/`.

The artifacts are committed beside their Solidity sources (one home for the compiled truth, kept
honest by the freshness test in tests/chain). From a checkout (the editable install) they are read
where they are committed; an installed wheel carries the same files as data under
`<prefix>/share/flash-green/contracts/artifacts`. Nothing is read until an adapter, a deployment
or a verification asks for it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "contracts" / "artifacts"
INSTALLED_DIR = Path(sys.prefix) / "share" / "flash-green" / "contracts" / "artifacts"

# The contracts the bot deploys and verifies, by artifact name.
SETTLEMENT_ASSET = "SettlementToken"
LENDER = "FlashLender"
TEST_RECEIVER = "TestReceiver"
SETTLEMENT_RECEIVER = "SettlementReceiver"
NON_REPAYING_RECEIVER = "NonRepayingReceiver"


class ArtifactMissing(RuntimeError):
    """A compiled artifact is not where the adapter expects it."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract: its ABI, creation code and runtime code.

    `immutable_ranges` are the (start, length) byte ranges of the runtime code that the
    constructor fills in (immutables such as the lender's token): they differ per deployment, so
    verification masks them before comparing code.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    immutable_ranges: tuple[tuple[int, int], ...]
    compiler: str


def _ranges(references: dict[str, list[dict[str, int]]]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((ref["start"], ref["length"]) for refs in references.values() for ref in refs))


def artifacts_dir() -> Path:
    """Where the artifacts are: the checkout's `contracts/artifacts`, else the installed copy."""
    for directory in (CHECKOUT_DIR, INSTALLED_DIR):
        if directory.is_dir():
            return directory
    raise ArtifactMissing(
        f"contract artifacts not found in {CHECKOUT_DIR} nor {INSTALLED_DIR}: compile them with "
        "`npm --prefix contracts ci && npm --prefix contracts run compile`, and ship contracts/artifacts "
        "with the package"
    )


@cache
def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """The artifact `name` (e.g. "FlashLender"); `ArtifactMissing` says how to produce it."""
    path = (directory or artifacts_dir()) / f"{name}.json"
    if not path.is_file():
        raise ArtifactMissing(
            f"contract artifact {path} is missing: compile the contracts with "
            "`npm --prefix contracts ci && npm --prefix contracts run compile`"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Artifact(
        name=raw["contractName"],
        abi=raw["abi"],
        bytecode=bytes.fromhex(raw["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(raw["deployedBytecode"].removeprefix("0x")),
        immutable_ranges=_ranges(raw.get("immutableReferences", {})),
        compiler=raw["compiler"]["version"],
    )


def all_artifacts(directory: Path | None = None) -> tuple[Artifact, ...]:
    """Every committed artifact (for the revert decoder: any of them may have reverted)."""
    where = directory or artifacts_dir()
    return tuple(load_artifact(path.stem, where) for path in sorted(where.glob("*.json")))


def mask_immutables(code: bytes, ranges: tuple[tuple[int, int], ...]) -> bytes:
    """`code` with the immutable byte ranges zeroed, so two deployments compare equal."""
    masked = bytearray(code)
    for start, length in ranges:
        masked[start : start + length] = bytes(length)
    return bytes(masked)
