"""Every opening of a screen draws the same, however busy the machine and whatever the size.

The release browser once cut every column to its header's width in some openings
(`2026120  curre  ● c`): a race between the table's own deferred measuring and the
data arriving from a worker. Each screen here is opened again and again at three
terminal sizes with two CPU-bound processes running beside the console.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from test_tui_support import two_hosts_with_releases

from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.help import HelpScreen
from deploytui.tui.screens.history import HistoryScreen
from deploytui.tui.screens.release_browser import ReleaseBrowser
from deploytui.tui.widgets.fitted_table import cell_width

SIZES = [(80, 24), (160, 45), (200, 50)]
OPENINGS = 3
IDS = ["20240101000000", "20240102000000", "20240103000000", "20240104000000"]


@pytest.fixture
def cpu_hogs() -> Iterator[None]:
    """Two processes spinning on the CPU while the console runs, as on a shared CI box."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture
def config(tmp_path, monkeypatch):
    return two_hosts_with_releases(tmp_path, monkeypatch, IDS)


async def settle(pilot, predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.05)
    await pilot.pause(0.2)  # whatever the table defers to its next idle has happened


def too_narrow(table) -> list[str]:
    """The columns narrower than a cell of theirs, as `key: width < needed`."""
    narrow = []
    for key, column in table.columns.items():
        needed = max([cell_width(column.label),
                      *(cell_width(table.get_cell(row, key)) for row in table.rows)])
        if column.get_render_width(table) - 2 * table.cell_padding < needed:
            narrow.append(f"{key.value}: {column.get_render_width(table)} < {needed}")
    return narrow


@pytest.mark.timeout(120)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_release_browser_fits_every_column_on_every_opening(config, cpu_hogs, size):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=size) as pilot:
        for _ in range(OPENINGS):
            await pilot.press("r")
            await settle(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                         and app.screen.fleet is not None)
            table = app.screen.query_one("#releases")
            assert [k.value for k in table.rows] == sorted(IDS, reverse=True)
            assert too_narrow(table) == []
            await pilot.press("escape")
            await settle(pilot, lambda: not isinstance(app.screen, ReleaseBrowser))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_history_and_help_open_the_same_every_time(config, cpu_hogs, size):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=size) as pilot:
        for _ in range(OPENINGS):
            await pilot.press("h")
            await settle(pilot, lambda: isinstance(app.screen, HistoryScreen)
                         and "loading" not in str(app.screen.query_one("#browser-status")
                                                  .render()))
            assert too_narrow(app.screen.query_one("#history")) == []
            await pilot.press("escape")
            await settle(pilot, lambda: not isinstance(app.screen, HistoryScreen))
            await pilot.press("question_mark")
            await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await settle(pilot, lambda: not isinstance(app.screen, HelpScreen))
