"""A staged rollout's plan: canary first, then batches by count or percentage."""

from __future__ import annotations

from pathlib import Path

from deploytui.config import load_config_text
from deploytui.config.model import Rollout
from deploytui.engine.operations.deploy import DeployRequest
from deploytui.engine.operations.plan import build_plan
from deploytui.engine.operations.rollout import Stage, describe_stages, plan_stages
from deploytui.sample_app import create_sample_repo

HOSTS = [f"web{n}" for n in range(1, 9)]


def names(stages: list[Stage]) -> list[tuple[str, tuple[str, ...]]]:
    return [(s.name, s.hosts) for s in stages]


def test_without_rollout_every_host_is_one_stage() -> None:
    assert names(plan_stages(HOSTS, None)) == [("all", tuple(HOSTS))]


def test_a_canary_then_the_rest_at_once() -> None:
    assert names(plan_stages(HOSTS, Rollout(canary=1))) == [
        ("canary", ("web1",)), ("rest", tuple(HOSTS[1:]))]


def test_batches_by_count_after_the_canary() -> None:
    assert names(plan_stages(HOSTS, Rollout(canary=2, batch=4))) == [
        ("canary", ("web1", "web2")),
        ("batch 1/2", ("web3", "web4", "web5", "web6")),
        ("batch 2/2", ("web7", "web8"))]


def test_a_percentage_is_of_the_whole_environment_rounded_up() -> None:
    # 25% of 8 hosts is 2; of 7 hosts it is 1.75, so 2
    assert [s.hosts for s in plan_stages(HOSTS, Rollout(batch_percent=25))] == [
        ("web1", "web2"), ("web3", "web4"), ("web5", "web6"), ("web7", "web8")]
    assert [len(s.hosts) for s in plan_stages(HOSTS[:7], Rollout(batch_percent=25))] == [
        2, 2, 2, 1]
    assert [len(s.hosts) for s in plan_stages(HOSTS[:3], Rollout(batch_percent=1))] == [1, 1, 1]


def test_every_host_is_in_exactly_one_stage_in_the_environments_order() -> None:
    for rollout in (Rollout(canary=3, batch=2), Rollout(batch_percent=40), Rollout(canary=8)):
        flat = [h for s in plan_stages(HOSTS, rollout) for h in s.hosts]
        assert flat == HOSTS


def test_the_plan_lists_the_stages_and_the_pause() -> None:
    stages = plan_stages(HOSTS[:3], Rollout(canary=1, batch=1, pause=10))
    assert describe_stages(stages, 10) == [
        "canary: web1", "batch 1/2: web2", "batch 2/2: web3",
        "(pause 10s between stages, each gated by its health checks)"]


def test_the_dry_run_plan_lists_the_stages_and_the_checks(tmp_path: Path) -> None:
    repo = create_sample_repo(tmp_path / "repo")
    config = load_config_text(f"""\
projects:
  app:
    repo: {repo}
    deploy_to: /srv/app
    roles:
      web: {{health: {{url: "http://{{address}}:8000/up", timeout: 5}}}}
    environments:
      prod:
        rollout: {{canary: 1, batch: 1}}
        hosts:
          web1: {{roles: [web]}}
          web2: {{roles: [web]}}
""", "test.yml")
    app = config.projects["app"]
    lines = build_plan(config, DeployRequest(app, app.environments["prod"]),
                       inspect=False).lines()
    assert "  stage    canary: web1" in lines
    assert "  stage    batch 1/1: web2" in lines or "  stage    rest: web2" in lines
    assert "  verify   web: GET http://{address}:8000/up (within 5s); unhealthy: rollback" \
        in lines
