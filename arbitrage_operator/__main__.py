"""`python -m arbitrage_operator [kopf run flags]`: run the operator.

The flags are kopf's (`kopf run --help`), with these defaults when not given:
`--all-namespaces` (unless `-n/--namespace`), `--liveness=http://0.0.0.0:8080/healthz`, and
`--peering=flash-green` (unless `--peering`, `--standalone` or `--dev`): the peering object lets
exactly one operator be active. Without the peering CRD installed, run with `--standalone`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"
DEFAULT_PEERING = "flash-green"


def _given(args: Sequence[str], *names: str) -> bool:
    return any(
        arg in names or any(arg.startswith(f"{n}=") for n in names if n.startswith("--")) for arg in args
    )


def kopf_arguments(argv: Sequence[str]) -> list[str]:
    """The `kopf run` command line for the operator's handlers, with the operator's defaults."""
    args = list(argv)
    if not _given(args, "-n", "--namespace", "-A", "--all-namespaces"):
        args.append("--all-namespaces")
    if not _given(args, "-L", "--liveness"):
        args.append(f"--liveness={DEFAULT_LIVENESS}")
    if not _given(args, "-P", "--peering", "--standalone", "--dev"):
        args.append(f"--peering={DEFAULT_PEERING}")
    return ["run", "--module=arbitrage_operator.handlers", *args]


def main(argv: Sequence[str] | None = None) -> None:
    """Run kopf with the operator's handlers (exits with kopf's exit code)."""
    import kopf.cli

    kopf.cli.main(
        args=kopf_arguments(sys.argv[1:] if argv is None else argv), prog_name="python -m arbitrage_operator"
    )


if __name__ == "__main__":
    main()
