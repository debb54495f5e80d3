"""A deploy undone by its health checks reaches the team as a failure naming the host."""

from __future__ import annotations

from deploytui.engine.events import DeployFinished
from deploytui.notify import event_name, summary

ERROR = ("web2: health web: GET http://10.0.0.2:8000/up -> connection refused; rolled back: "
         "3 host(s) serve their previous release again")


def test_a_rolled_back_deploy_is_sent_as_a_failure_saying_what_the_check_saw() -> None:
    finished = DeployFinished(operation="deploy", outcome="rolled_back", duration=40.0,
                              release_id="20261130120000", error=ERROR)
    assert event_name("deploy", finished) == "failure"
    message = {"event": "failure", "operation": "deploy", "outcome": "rolled_back",
               "project": "shop", "environment": "prod", "user": "ana@laptop", "ref": "main",
               "sha": "a" * 40, "release": "20261130120000", "duration": 40.0,
               "failed_host": "web2", "failed_step": "health web", "error": ERROR}
    assert summary(message) == (f"deploy of shop/prod main (aaaaaaaa) by ana@laptop was "
                                f"rolled back: {ERROR}")
