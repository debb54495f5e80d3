"""The console and the team's record (pilot, real sshd fleet): an active freeze shows on
the environment and refuses a deploy; the history screen shows every operator's
operations read from the hosts, and `f` switches to this machine's journal."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.freeze import set_freeze
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.history import HistoryScreen
from deploytui.tui.screens.modals import SummaryModal
from deploytui.tui.screens.plan import PlanScreen

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


async def wait_until(pilot, predicate, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.1)


def load(fleet: Fleet):
    return load_config_text(json.dumps(fleet.config(2)), "test.yml")


async def test_an_active_freeze_shows_on_the_environment_and_refuses_the_deploy(
        hosts: Fleet):
    config = load(hosts)
    assert set_freeze(config, "app", "prod", until=datetime.now(UTC) + timedelta(hours=1),
                      reason="incident 4711").ok
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "FROZEN: incident 4711" in (app.sub_title or ""))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        assert any(line.startswith("WARNING  FROZEN: incident 4711")
                   for line in app.screen.plan.inspected_lines())
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        summary = "\n".join(app.screen.lines)
        assert "is frozen: incident 4711" in summary
    assert not hosts.hosts[0].path("/srv/app/releases").exists()
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


async def test_the_history_screen_opens_on_the_fleets_record_and_f_shows_this_machine(
        hosts: Fleet):
    config = load(hosts)
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="bob@elsewhere")
    assert run_deploy(config, request, sink=Recorder()).outcome == "success"  # no journal
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                         and app.screen.rows)
        screen = app.screen
        table = screen.query_one("#history")
        row = [str(c) for c in table.get_row_at(0)]
        assert row[1:6] == ["deploy", "app/prod", "success", row[4], "bob@elsewhere"]
        assert "fleet" in str(screen.query_one("#browser-title").render())
        await pilot.press("f")
        await wait_until(pilot, lambda: "no deploys recorded yet" in str(
            screen.query_one("#browser-status").render()))
        assert not screen.fleet and table.row_count == 0  # bob's is not in this journal
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.fleet and table.row_count == 1)
