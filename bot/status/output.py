"""Print a status: a rich table (colour on a terminal, plain text when piped), JSON or YAML."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import yaml
from rich.console import Console
from rich.table import Table

Format = Literal["table", "json", "yaml"]
FORMATS: tuple[Format, ...] = ("table", "json", "yaml")
MISSING = "—"
# Wide enough that a piped table does not wrap (rich's default off a terminal is 80 columns).
PIPED_WIDTH = 200


@dataclass(frozen=True)
class Section:
    """One table: a title, its column names and its rows (cells already text; a style per cell)."""

    title: str | None
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    styles: Sequence[Sequence[str | None]] = field(default_factory=tuple)


def console(stream: TextIO | None = None) -> Console:
    """A console on `stream` (stdout): colour only on a terminal, and never when NO_COLOR is set."""
    out = stream or sys.stdout
    terminal = out.isatty()
    return Console(file=out, width=None if terminal else PIPED_WIDTH, soft_wrap=False, highlight=False)


def print_tables(sections: Sequence[Section], stream: TextIO | None = None) -> None:
    """Each section as a rich table, in order."""
    out = console(stream)
    for section in sections:
        table = Table(title=section.title, title_justify="left", header_style="bold")
        for column in section.columns:
            table.add_column(column, overflow="fold")
        for index, row in enumerate(section.rows):
            styles = section.styles[index] if index < len(section.styles) else ()
            cells = [
                f"[{styles[i]}]{_escape(cell)}[/]" if i < len(styles) and styles[i] else _escape(cell)
                for i, cell in enumerate(row)
            ]
            table.add_row(*cells)
        out.print(table)


def print_data(data: Mapping[str, Any] | Sequence[Any], fmt: Format, stream: TextIO | None = None) -> None:
    """`data` (plain JSON types) as JSON or YAML, to be read back by scripts."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def health_style(ok: bool | None) -> str | None:
    """Green for good, red for bad, none for unknown (styles only show on a terminal)."""
    if ok is None:
        return None
    return "green" if ok else "red"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
