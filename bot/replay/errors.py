"""What a replay refuses, said so the user can fix it: the file, the line, the column, what was expected."""

from __future__ import annotations

from pathlib import Path


class ReplayError(Exception):
    """A replay cannot run (missing file, a feed without its other leg, a bad option)."""


class TickFileError(ReplayError):
    """A row of an input file cannot be read.

    `line` is the file's line for CSV (the header is line 1) and the data row for Parquet (the
    first row is 1); `column` is 1-based, `name` the column's header. The message is one line:
    `PATH:LINE:COLUMN: column NAME: expected WHAT, found 'VALUE'`. A problem of the whole file
    (not Parquet, a column missing) has line 0 and reads `PATH: NAME: expected WHAT`.
    """

    def __init__(
        self, path: Path | str, line: int, column: int, name: str, expected: str, found: object = None
    ) -> None:
        self.path, self.line, self.column, self.name = str(path), line, column, name
        self.expected, self.found = expected, found
        shown = "" if found is None else f", found {_clip(found)!r}"
        where = f"{path}:{line}:{column}: column {name}" if line else f"{path}: {name}"
        super().__init__(f"{where}: expected {expected}{shown}")


def _clip(value: object) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
