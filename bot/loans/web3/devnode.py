"""A local anvil node for development, tests and the bench (never used in production).

anvil comes from the npm package `@foundry-rs/anvil` pinned in contracts/package-lock.json
(`npm --prefix contracts ci`). The package installs a native binary per platform and a Node
wrapper; the native binary is started directly when present (no Node process in between, and a
signal reaches anvil itself), the wrapper otherwise.
"""

from __future__ import annotations

import platform
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
INSTALL_HINT = (
    "run `npm --prefix contracts ci` (needs Node.js 18+ and npm; Debian: apt-get install nodejs npm)"
)
DEV_CHAIN_ID = 31337

# anvil's well-known development accounts (its default mnemonic): public, worthless off a dev chain.
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
)


def find_anvil(contracts_dir: Path = CONTRACTS_DIR) -> Path | None:
    """The anvil the npm package installed: its native binary for this platform, else its wrapper."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    modules = contracts_dir / "node_modules"
    native = modules / "@foundry-rs" / f"anvil-{platform.system().lower()}-{arch}" / "bin" / "anvil"
    if arch and native.is_file():
        return native
    wrapper = modules / ".bin" / "anvil"
    return wrapper if wrapper.is_file() else None


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevNode:
    """A running anvil; `stop()` ends it."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]  # anvil's stderr: a file, so a chatty node can never block on a full pipe

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-500:]


def start_anvil(*, chain_id: int = DEV_CHAIN_ID, startup_secs: float = 30.0) -> DevNode:
    """Start anvil on a free loopback port and wait until it answers; `RuntimeError` saying what
    to install when the npm package is missing."""
    binary = find_anvil()
    if binary is None:
        raise RuntimeError(f"anvil is not installed: {INSTALL_HINT}")
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    node = DevNode(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + startup_secs
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while True:
        try:
            httpx.post(node.url, json=payload, timeout=2).raise_for_status()
            return node
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = node.stderr_tail()
                node.stop()
                raise RuntimeError(f"anvil did not start: {tail}") from None
            time.sleep(0.02)
