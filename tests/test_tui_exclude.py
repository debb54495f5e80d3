"""The console and hosts left out of a deploy: leave one out in the plan, see it behind in
the hosts table and the release browser, and catch it up from there — on local hosts
with the real engine and a real sample repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_tui_support import local_config, wait_until

from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.sample_app import create_sample_repo
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import ConfirmModal, SummaryModal
from deploytui.tui.screens.plan import PlanScreen
from deploytui.tui.screens.release_browser import ReleaseBrowser
from deploytui.tui.widgets.hosts_table import HostsTable

SIZE = (160, 48)
R1, R2 = "20261130000001", "20261201000002"


@pytest.fixture
def config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    return local_config(tmp_path, str(create_sample_repo(tmp_path / "repo")), hosts=2)


def current_of(config, host: int) -> str:
    link = Path(config.projects["demo"].environments["staging"].hosts[host].deploy_to)
    return os.path.basename(os.readlink(link / "current"))


def deploy(config, release_id: str, *exclude: str) -> None:
    project = config.projects["demo"]
    request = DeployRequest(project, project.environments["staging"], user="ann@laptop",
                            release_id=release_id, exclude=exclude)
    assert run_deploy(config, request).outcome == "success"




async def test_the_plan_leaves_a_host_out_names_it_before_deploy_and_refuses_bad_names(
        config) -> None:
    deploy(config, R1)
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        plan = app.screen
        leave_out = plan.query_one("#exclude-hosts")
        leave_out.value = "web9"
        await pilot.pause()
        assert plan.query_one("#yes").disabled
        assert "no host web9" in str(plan.query_one("#exclude-note").render())
        leave_out.value = "staging-2"
        await pilot.pause()
        assert "Leaving out staging-2" in str(plan.query_one("#exclude-note").render())
        assert not plan.query_one("#yes").disabled
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Deploy succeeded"
    assert current_of(config, 0) != R1 and current_of(config, 1) == R1


async def test_a_host_behind_is_marked_and_the_release_browser_catches_it_up(config) -> None:
    deploy(config, R1)
    deploy(config, R2, "staging-2")
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(HostsTable)
        await wait_until(pilot, lambda: "behind" in str(table.get_cell("staging-2", "release")))
        assert str(table.get_cell("staging-1", "release")) == R2
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                         and app.screen.fleet is not None)
        browser = app.screen
        releases = browser.query_one("#releases")
        assert str(releases.get_cell(R2, "host:staging-2")).startswith("⇣ behind")
        assert str(releases.get_cell(R1, "host:staging-2")).startswith("● current")
        status = str(browser.query_one("#browser-status").render())
        assert f"staging-2: excluded from release {R2}, serving {R1}" in status
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        assert f"Build release {R2} on staging-2" in body
        await pilot.click("#yes")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Catch-up succeeded"
    assert current_of(config, 1) == R2


async def test_the_rollback_confirmation_says_what_each_host_does_with_one_behind(
        config) -> None:
    deploy(config, R1)
    deploy(config, R2, "staging-2")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                         and app.screen.fleet is not None)
        app.screen.query_one("#releases").move_cursor(row=1)  # R1, the older release
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        assert f"staging-1: switch {R2} -> {R1}, restart" in body
        assert f"staging-2: behind (excluded from {R2}); already serves {R1}: unchanged" in body
