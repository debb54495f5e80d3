"""What the console's log pane shows of real output: the tool's colours rendered (never
stray `[31m` text), lines without a final newline ended cleanly, none of our framing."""

from __future__ import annotations

import dataclasses
import sys
import time

import pytest
from test_tui_support import local_config

from deploytui.sample_app import create_sample_repo
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import SummaryModal
from deploytui.tui.screens.plan import PlanScreen
from deploytui.tui.widgets.log_panel import LogPanel

SIZE = (160, 48)
PYTEST = (f"printf 'def test_ok():\\n    assert True\\n' > t_colour.py &&"
          f" {sys.executable} -m pytest --color=yes -q -p no:cacheprovider -p no:xdist"
          " -o addopts= t_colour.py")
GREP = "printf 'one\\nerror: disk quota exceeded\\n' | grep --color=always error"
UNFINISHED = ["printf 'no newline at the end'",
              "printf '\\036deploytui-step 0\\n\\036deploytui-0123456789abcdef done 0 0\\n'"]


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    repo = create_sample_repo(tmp_path / "repo")
    config = local_config(tmp_path, str(repo), hosts=1)
    demo = dataclasses.replace(config.projects["demo"], build=(*UNFINISHED, PYTEST, GREP))
    return dataclasses.replace(config, projects={**config.projects, "demo": demo})


async def wait_until(pilot, predicate, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    # A screen is on the stack before it has composed and mounted its widgets.
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.1)


def _rendered(log: LogPanel, index: int):
    """The strip the pane draws for its line `index`."""
    return log._render_line_strip(index, log.rich_style)


async def test_a_real_deploys_colour_and_unfinished_lines_render_cleanly(config):
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Deploy succeeded"
        log = app.query_one(LogPanel)
        lines = list(log.lines)
        assert any(ln.endswith("no newline at the end") for ln in lines), lines
        assert sum("deploytui-" in ln for ln in lines) == 2  # the step's own printf only
        coloured = {i: ln for i, ln in enumerate(lines) if "\x1b[" in ln}
        passed = [i for i, ln in coloured.items() if "1 passed" in ln]
        quota = [i for i, ln in coloured.items() if "disk quota exceeded" in ln]
        assert passed and quota, lines[-20:]
        for index in (*passed, *quota):
            strip = _rendered(log, index)
            assert "\x1b" not in strip.text and "[3" not in strip.text and "[0m" not in strip.text
            assert any(seg.style is not None and seg.style.color is not None
                       and seg.style.color.name not in ("default",)
                       for seg in strip if seg.text.strip())
        assert "1 passed" in _rendered(log, passed[0]).text
