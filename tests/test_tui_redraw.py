"""Every opening of a screen draws the same, however busy the machine and whatever the size.

The release browser once cut every column to its header's width in some openings
(`2026120  curre  ● c`): cells drawn before the table measured its new rows stayed in
DataTable's render caches at the header's width. Each screen here is opened again and
again at three terminal sizes with two CPU-bound processes running beside the console,
and what is checked is the drawing itself (the screenshot's text), not a widget's field.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_tui_support import screen_text, two_hosts_with_releases, wait_until

from deploytui.engine.events import DeployFinished, DeployStarted
from deploytui.history import JournalSink
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.help import HelpScreen
from deploytui.tui.screens.history import HistoryScreen
from deploytui.tui.screens.release_browser import ReleaseBrowser

SIZES = [(80, 24), (160, 45), (200, 50)]
OPENINGS = 10
IDS = ["20261201101500", "20261202101500", "20261203101500", "20261204101500"]


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


def journal_deploys(ids: list[str]) -> None:
    """This machine's journal holds one finished deploy of demo/staging per id."""
    for rid in ids:
        sink = JournalSink(operation="deploy", project="demo", environment="staging")
        sink(DeployStarted(operation="deploy", project="demo", environment="staging",
                           hosts=("staging-1", "staging-2"), user="alice@laptop",
                           strategy="release", ref="main", sha="0" * 40, release_id=rid))
        sink(DeployFinished(operation="deploy", outcome="ok", duration=12.5, release_id=rid))
        sink.close()


def drawn_row(app, first_cell: str) -> str:
    """The drawn table line that starts (inside the border) with `first_cell`, or ""."""
    inside = (line.strip("│ ") for line in screen_text(app))
    return next((line for line in inside if line.startswith(first_cell)), "")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_release_browser_draws_every_cell_whole_on_every_opening(config, cpu_hogs,
                                                                          size):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=size) as pilot:
        for opening in range(OPENINGS):
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                             and app.screen.fleet is not None, what="the release browser")
            await pilot.pause(0.2)  # anything the table left to its next idle is done
            current = drawn_row(app, IDS[-1])
            whole = current.split()[:2] == [IDS[-1], "current"]
            assert whole and current.count("● current 28.0 KiB") == 2, (
                f"opening {opening + 1} drew:\n" + "\n".join(screen_text(app)))
            for rid in IDS[:-1]:
                assert drawn_row(app, rid), f"opening {opening + 1}: {rid} cut"
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, ReleaseBrowser))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_history_draws_every_cell_whole_on_every_opening(config, cpu_hogs, size):
    journal_deploys(IDS)
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=size) as pilot:
        for opening in range(OPENINGS):
            await pilot.press("h")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                             and app.screen.entries, what="the history")
            await pilot.pause(0.2)
            cells = drawn_row(app, "20").split()  # the newest: started (date, time), op...
            assert cells[2:5] == ["deploy", "demo/staging", "ok"] and IDS[-1] in cells, (
                f"opening {opening + 1} drew:\n" + "\n".join(screen_text(app)))
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
