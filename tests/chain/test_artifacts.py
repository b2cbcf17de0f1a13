"""The committed contract artifacts are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.chain.conftest import CONTRACTS, INSTALL_HINT


@pytest.mark.slow  # solc compiles to wasm-less JS: a few seconds on a busy core
def test_a_fresh_compile_of_the_sources_equals_the_committed_artifacts(tmp_path: Path) -> None:
    # given node and the pinned solc package
    node = shutil.which("node")
    if node is None or not (CONTRACTS / "node_modules" / "solc").is_dir():
        pytest.skip(f"node or the npm solc package is missing: {INSTALL_HINT}")
    # when the sources are compiled afresh into an empty directory
    subprocess.run(
        [node, "compile.mjs", "--out", str(tmp_path)], cwd=CONTRACTS, check=True, capture_output=True
    )
    # then the same contracts come out, byte for byte in ABI, bytecode and settings
    committed = {p.name: json.loads(p.read_text()) for p in (CONTRACTS / "artifacts").glob("*.json")}
    fresh = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert sorted(fresh) == sorted(committed), "artifacts differ: run `npm --prefix contracts run compile`"
    for name, artifact in fresh.items():
        assert artifact == committed[name], f"{name} is stale: run `npm --prefix contracts run compile`"
    # and the compiler and settings are the pinned, explicit ones
    lender = committed["FlashLender.json"]
    assert lender["compiler"]["version"].startswith("0.8.30+")
    assert lender["settings"]["evmVersion"] == "cancun"
    assert lender["settings"]["optimizer"] == {"enabled": True, "runs": 200}
