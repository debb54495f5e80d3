"""SVG snapshots of the console's screens, from fixed data (no clocks, no live ids).

Regenerate after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import local_config

from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HealthChecked,
    HostFailed,
    HostLine,
    HostStepDone,
    HostStepStarted,
    PhaseStarted,
    Switched,
    SwitchedBack,
)
from deploytui.engine.operations.plan import DeployPlan
from deploytui.engine.operations.releases import FleetReleases, HostReleases, ReleaseRow
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.plan import PlanScreen
from deploytui.tui.screens.release_browser import ReleaseBrowser

SIZE = (140, 40)
SMALL = (80, 24)  # the size the console is laid out for first
FIXED = Path("/srv/snapshots")


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def console() -> DeployConsole:
    return DeployConsole(local_config(FIXED, deploy_root=FIXED), "deploytui-dark",
                         clock=lambda: 0.0, load_status=False)


def test_main_screen(snap_compare):
    assert snap_compare(console(), terminal_size=SMALL)


def test_plan_screen_for_a_confirm_environment(snap_compare):
    plan = DeployPlan("demo", "production", "20250101120000", "3f2a9c1" + "0" * 33,
                      "Add a health endpoint", "main", "release",
                      hosts_by_role={"web": ["production-1", "production-2"]},
                      once_host={"web": "production-1"}, inspected=True,
                      current={"production-1": "20241231000000",
                               "production-2": "20241231000000"},
                      commands={"production-1": ["git clone --mirror ...", "sh build.sh"],
                                "production-2": ["git clone --mirror ...", "sh build.sh"]})

    async def run_before(pilot) -> None:
        pilot.app.push_screen(PlanScreen(plan, "demo", "production", confirm=True))
        await pilot.pause()
        await pilot.press(*"prod")

    assert snap_compare(console(), terminal_size=SMALL, run_before=run_before)


def test_deploy_in_progress_with_one_failed_host(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.pause()
        app = pilot.app
        hosts = ("staging-1", "staging-2", "staging-3")
        for event in [
            DeployStarted(operation="deploy", project="demo", environment="staging",
                          hosts=hosts, user="ana@laptop"),
            PhaseStarted("prepare", hosts),
            *[HostStepStarted(h, "prepare", "sh build.sh") for h in hosts],
            *[HostLine(h, f"Building sample app v3 on {h}") for h in hosts],
            HostStepDone("staging-1", "prepare", "sh build.sh", 1.0),
            HostLine("staging-3", "\x1b[31merror: disk quota exceeded\x1b[0m", "err"),
            HostFailed("staging-3", "prepare", "sh build.sh", "exit status 1"),
        ]:
            app.buffer(event)
        app.main.tick()
        await pilot.press("a")
        await pilot.pause()

    assert snap_compare(console(), terminal_size=SIZE, run_before=run_before)


def test_release_browser(snap_compare):
    ids = ["20250103000000", "20250102000000", "20250101000000"]
    fleet = FleetReleases("demo", "staging", hosts={
        "staging-1": HostReleases("staging-1", current=ids[0], previous=ids[1]),
        "staging-2": HostReleases("staging-2", current=ids[0], previous=ids[1]),
        "staging-3": HostReleases("staging-3", current=ids[1], previous=ids[2]),
    }, drift=["current differs between hosts: staging-1, staging-2 on 20250103000000;"
              " staging-3 on 20250102000000"])
    for i, rid in enumerate(ids):
        hosts = ["staging-1", "staging-2", "staging-3"]
        fleet.releases.append(ReleaseRow(
            rid, sha=f"{i}abc1234def", subject=f"Commit number {3 - i}",
            deployed_at=f"2025-01-0{3 - i}T00:00:00Z", deployed_by="ana@laptop",
            state="ok", hosts=hosts, size_bytes={h: 1_500_000 * (i + 1) for h in hosts}))

    class FixedBrowser(ReleaseBrowser):
        def load(self) -> None:  # fixed data instead of listing hosts
            self.show_fleet(fleet)

    async def run_before(pilot) -> None:
        pilot.app.push_screen(FixedBrowser(pilot.app.config, "demo", "staging"))
        await pilot.pause()

    assert snap_compare(console(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare):
    assert snap_compare(console(), terminal_size=SMALL, press=["question_mark"])


def test_a_canary_rolled_back_by_its_health_check(snap_compare):
    """Stages live (the canary's phases) and the automatic rollback in the hosts table."""
    async def run_before(pilot) -> None:
        await pilot.pause()
        app = pilot.app
        hosts = ("staging-1", "staging-2", "staging-3")
        canary = ("staging-1",)
        check = "GET http://10.0.0.1/up"  # lines short enough for the log: no scrollbar
        for event in [
            DeployStarted(operation="deploy", project="demo", environment="staging",
                          hosts=hosts, user="ana@laptop", release_id="20250102000000"),
            PhaseStarted("prepare", hosts),
            PhaseStarted("switch canary", canary),
            Switched("staging-1", "20250102000000", "20250101000000"),
            PhaseStarted("restart canary", canary),
            PhaseStarted("verify canary", canary),
            HealthChecked("staging-1", "web", False, check, "connection refused"),
            HostFailed("staging-1", "verify", "health web", f"{check} -> connection refused"),
            PhaseStarted("rollback", canary),
            SwitchedBack("staging-1", "20250101000000"),
            HealthChecked("staging-1", "web", True, check, "HTTP 200: ok"),
            DeployFinished(operation="deploy", outcome="rolled_back", duration=34.0,
                           release_id="20250102000000",
                           error=f"staging-1: health web: {check} -> connection refused; "
                                 "rolled back: 1 host(s) serve their previous release again"),
        ]:
            app.buffer(event)
        app.main.tick()
        await pilot.pause()
        app.clear_notifications()  # the toast's timing varies; the summary modal stays
        await pilot.pause()

    assert snap_compare(console(), terminal_size=SIZE, run_before=run_before)
