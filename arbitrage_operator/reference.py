"""Reference tables of docs/operator.md, generated from the code that defines them.

    python -m arbitrage_operator.reference    # prints every generated section

docs/operator.md holds each section between `<!-- generated:NAME -->` and `<!-- end:NAME -->`;
tests/operator/test_docs.py fails when they differ from this output.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from arbitrage_operator.crd import spec_schema, status_schema
from arbitrage_operator.spec import NAME_PATH, OPERATOR_ENV
from arbitrage_operator.spec_fields import SPECIAL_BY_ENV
from arbitrage_operator.status import REASONS
from arbitrage_operator.story import EVENT_REASONS
from bot.config import SettingInfo, catalog


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(row: SettingInfo) -> str:
    value = row.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def env_source(row: SettingInfo) -> str:
    """Where the operator takes one environment variable from."""
    special = SPECIAL_BY_ENV.get(row.env)
    if special is not None:
        return f"`spec.{special.path}` {special.source}"
    if row.env == "BOT_NAME":
        return f"`{NAME_PATH}`"
    if row.env in OPERATOR_ENV:
        return f"set by the operator: `{OPERATOR_ENV[row.env]}`"
    if row.crd:
        return f"`spec.{row.crd}`"
    if row.secret:
        return "key of `spec.secrets.kubernetes.secretName` (secretKeyRef), or the Vault/AWS backend"
    return "not set by the operator (the bot's default)"


def env_table() -> str:
    """Every environment variable of the bot and where an ArbitrageBot sets it."""
    lines = ["| Environment variable | Set from | Secret | Bot default |", "| --- | --- | --- | --- |"]
    for row in catalog():
        lines.append(
            f"| `{row.env}` | {_cell(env_source(row))} | {'yes' if row.secret else ''} | "
            f"{_cell(_default(row))} |"
        )
    return "\n".join(lines)


def _walk(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, child in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}"
        yield path, child
        yield from _walk(child, path)


def _type(schema: Mapping[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "integer or decimal string"
    kind = str(schema.get("type", ""))
    if kind == "array":
        return f"list of {schema.get('items', {}).get('type', 'any')}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "pattern" in schema and kind == "string":
        return f"string `{schema['pattern']}`"
    return kind


def crd_fields_table() -> str:
    """Every field of the ArbitrageBot spec with its type and description."""
    lines = ["| Field | Type | Description |", "| --- | --- | --- |"]
    for path, schema in _walk(spec_schema(), "spec"):
        lines.append(f"| `{path}` | {_type(schema)} | {_cell(str(schema.get('description', '')))} |")
    return "\n".join(lines)


def reasons_table() -> str:
    """Every condition and each reason it can carry."""
    lines = ["| Condition | Reason | Meaning |", "| --- | --- | --- |"]
    for condition, reasons in REASONS.items():
        for reason, meaning in reasons.items():
            lines.append(f"| `{condition}` | `{reason}` | {_cell(meaning)} |")
    return "\n".join(lines)


def status_fields_table() -> str:
    """Every field of the ArbitrageBot status (kopf's bookkeeping aside) with its type and description."""
    lines = ["| Field | Type | Description |", "| --- | --- | --- |"]
    for path, schema in _walk(status_schema(), "status"):
        if path.startswith("status.kopf"):
            continue
        lines.append(f"| `{path}` | {_type(schema)} | {_cell(str(schema.get('description', '')))} |")
    return "\n".join(lines)


def events_table() -> str:
    """Every reason of the operator's own Events and when it is posted."""
    lines = ["| Reason | Type and when |", "| --- | --- |"]
    for reason, meaning in EVENT_REASONS.items():
        lines.append(f"| `{reason}` | {_cell(meaning)} |")
    return "\n".join(lines)


SECTIONS = {
    "env-table": env_table,
    "crd-fields": crd_fields_table,
    "reasons": reasons_table,
    "status-fields": status_fields_table,
    "events": events_table,
}


def generated_sections(document: str) -> dict[str, str]:
    """The generated sections found in a document, by name."""
    pattern = re.compile(r"<!-- generated:([a-z-]+) -->\n(.*?)\n<!-- end:\1 -->", re.S)
    return {m.group(1): m.group(2) for m in pattern.finditer(document)}


def render_sections(document: str) -> str:
    """The document with every generated section replaced by the current output."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"<!-- generated:{name} -->\n{SECTIONS[name]()}\n<!-- end:{name} -->"

    return re.sub(r"<!-- generated:([a-z-]+) -->\n.*?\n<!-- end:\1 -->", replace, document, flags=re.S)


def main(argv: list[str] | None = None) -> None:
    """Print the sections, or with `--write PATH` refresh them in that document."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--write":
        from pathlib import Path

        path = Path(args[1])
        path.write_text(render_sections(path.read_text()))
        return
    for name, build in SECTIONS.items():
        sys.stdout.write(f"<!-- generated:{name} -->\n{build()}\n<!-- end:{name} -->\n\n")


if __name__ == "__main__":
    main()
