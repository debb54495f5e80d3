"""Filling a DataTable whose columns are as wide as their widest cell, from the start.

DataTable's auto width measures new rows later, on an idle event, and that measurement
was reported skipped now and then (3 openings in 6 of the release browser, at any
terminal size): every column stayed as wide as its header, cutting release ids short.
Widths computed here, from the cells in hand, do not depend on when the table idles.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def cell_width(cell: object) -> int:
    """How many terminal cells a table cell takes on one line."""
    if isinstance(cell, Text):
        return max((cell_len(line) for line in cell.plain.splitlines()), default=0)
    return max((cell_len(line) for line in str(cell).splitlines()), default=0)


def fill_fitted(table: DataTable, columns: Sequence[tuple[str, str | Text]],
                rows: Sequence[tuple[str, Sequence[object]]]) -> None:
    """Replace the table's columns ((key, label), …) and rows ((key, cells), …)."""
    table.clear(columns=True)
    for index, (key, label) in enumerate(columns):
        widest = max([cell_width(label), *(cell_width(cells[index]) for _, cells in rows)])
        table.add_column(label, key=key, width=widest)
    for key, cells in rows:
        table.add_row(*cells, key=key)
