"""What the console keeps per host during a staged, health-checked deploy (no Textual)."""

from __future__ import annotations

from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HealthChecked,
    PhaseStarted,
    Switched,
    SwitchedBack,
)
from deploytui.tui.log_buffer import LogBuffer

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
