"""Filling a DataTable whose columns are as wide as their widest cell, from the start.

DataTable's auto width measures new rows later, on an idle event, and widens the columns
without invalidating its render caches (keyed by an update counter that the measuring
does not bump). Under load the screen can be drawn between `add_row` and that idle: the
cells are then cached at the header's width and stay so (`2026120  curre  ● c`, in some
openings of the release browser and the history, at any size). Widths computed here, from
the cells in hand, are right at the first drawing, whenever the table idles.
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
