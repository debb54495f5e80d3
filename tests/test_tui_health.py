"""What the console shows per host: health during a staged deploy and on status refresh."""

from __future__ import annotations

import dataclasses

from test_tui_support import local_config, seed_releases, wait_until

from deploytui.config.model import HealthCheck, Role
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HealthChecked,
    PhaseStarted,
    Switched,
    SwitchedBack,
)
from deploytui.tui.app import DeployConsole
from deploytui.tui.log_buffer import LogBuffer
from deploytui.tui.widgets.hosts_table import HostsTable

HOSTS = ("web1", "web2", "web3")
CHECK = "GET http://10.0.0.1:8000/health"


def test_stages_health_and_an_automatic_rollback_per_host() -> None:
    buffer = LogBuffer(100, clock=lambda: 0.0)
    for event in [
        DeployStarted(operation="deploy", project="shop", environment="prod", hosts=HOSTS,
                      user="ana@laptop"),
        PhaseStarted("switch canary", ("web1",)),
        Switched("web1", "20250102000000", "20250101000000"),
        PhaseStarted("verify canary", ("web1",)),
        HealthChecked("web1", "web", False, CHECK, "connection refused"),
    ]:
        buffer(event)
    states = buffer.states()
    assert (states["web1"].phase, states["web1"].health) == ("verify canary", "unhealthy")
    assert states["web2"].phase == "preflight"  # a later stage: not touched yet
    assert buffer.lines("web1")[-1] == f"health web: UNHEALTHY: {CHECK} -> connection refused"

    for event in [
        PhaseStarted("rollback", ("web1",)),
        SwitchedBack("web1", "20250101000000"),
        HealthChecked("web1", "web", True, CHECK, "HTTP 200: ok"),
        DeployFinished(operation="deploy", outcome="rolled_back", duration=3.0),
    ]:
        buffer(event)
    states = buffer.states()
    assert (states["web1"].status, states["web1"].health) == ("rolled back", "healthy")
    assert {states["web2"].status, states["web3"].status} == {"stopped"}


async def test_the_hosts_table_shows_health_checked_on_status_refresh(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    config = local_config(tmp_path)
    demo = config.projects["demo"]
    check = HealthCheck(command='test {name} != staging-2 || { echo "not ready"; exit 3; }',
                        timeout=3.0, interval=0.2)  # a healthy host answers in time under load
    demo = dataclasses.replace(demo, roles={"web": Role("web", health=check)})
    config = dataclasses.replace(config, projects={**config.projects, "demo": demo})
    for host in demo.environments["staging"].hosts:
        seed_releases(host.deploy_to, ["20240101000000"], "20240101000000")
    app = DeployConsole(config)
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.query_one(HostsTable)
        # the status read starts after the first frame: waiting for the workers before it
        # started would not wait for it
        await wait_until(pilot, lambda: {str(table.get_cell(h, "reach")) for h in (
            "staging-1", "staging-2")} == {"healthy", "unhealthy"}, what="the health read")
        assert str(table.get_cell("staging-1", "reach")) == "healthy"
        assert str(table.get_cell("staging-2", "reach")) == "unhealthy"
        assert str(table.get_cell("staging-2", "last")).startswith(
            "unhealthy: web: exit 3: not ready")
