"""The plan shown before a deploy (console, --dry-run): hosts are read, never changed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from deploytui.config import load_config_text
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.plan import build_plan
from deploytui.sample_app import add_commit, create_sample_repo


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def _config(fleet, tmp_path: Path, **overrides):
    """A sample repo of this test's own (it gets new commits) where the hosts can read it:
    under the fleet's directory, since every host has a private /tmp."""
    repo = create_sample_repo(fleet.root / f"repo-{tmp_path.name}")
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    data = fleet.config(3, repo=str(repo), **overrides)
    return load_config_text(json.dumps(data), "plan.yml"), repo


def _request(config, release_id: str) -> DeployRequest:
    project = config.projects["app"]
    return DeployRequest(project, project.environments["prod"], user="ann@laptop",
                         release_id=release_id)


def test_the_plan_lists_the_commits_a_deploy_brings_by_subject(hosts, tmp_path):
    config, repo = _config(hosts, tmp_path)
    assert run_deploy(config, _request(config, "20240101000001")).outcome == "success"
    add_commit(repo, "Speed up the cart page", {"cart.txt": "fast\n"})
    add_commit(repo, "Fix the tax rounding", {"tax.txt": "0.5\n"})
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    plan = build_plan(config, _request(config, "20240101000002"))
    assert plan.current == {h: "20240101000001" for h in ("host1", "host2", "host3")}
    assert plan.changes is not None and plan.changes.direction == "forward"
    assert [subject for _sha, subject in plan.changes.commits] == [
        "Fix the tax rounding", "Speed up the cart page"]
    text = "\n".join(plan.lines())
    assert "brings 2 commits" in text and "Fix the tax rounding" in text
    assert "hosts were only read" in text


def test_the_plan_shows_what_the_deploy_will_prune(hosts, tmp_path):
    config, _repo = _config(hosts, tmp_path, keep_releases=1)
    for rid in ("20240101000001", "20240101000002"):
        assert run_deploy(config, _request(config, rid)).outcome == "success"
    plan = build_plan(config, _request(config, "20240101000003"))
    # after the deploy, ...02 is the rollback target (kept) and ...01 goes beyond keep=1
    assert all(entries and entries[0].startswith("20240101000001")
               for entries in plan.prune.values())
    assert "prune    host1: 20240101000001" in "\n".join(plan.lines())


def test_the_plan_names_a_lock_holder_and_an_unreachable_host_and_changes_nothing(
        hosts, tmp_path):
    from deploytui.cli import main

    config, repo = _config(hosts, tmp_path)
    path = tmp_path / "c.yml"
    path.write_text(json.dumps(hosts.config(3, repo=str(repo))))
    assert main(["--config", str(path), "lock", "app", "prod"]) == 0
    hosts.hosts[2].kill()
    try:
        plan = build_plan(config, _request(config, "20240101000001"))
    finally:
        main(["--config", str(path), "unlock", "app", "prod"])
    assert set(plan.locks) == {"host1", "host2"}
    assert "(locked by hand)" in plan.locks["host1"]
    assert "connection refused" in plan.unreachable["host3"]
    assert not hosts.hosts[0].path("/srv/app/releases").exists()


def test_the_plan_advises_leaving_out_a_host_only_when_that_would_help(hosts, tmp_path):
    """A host that is down among live ones: --exclude lets the others go on. A host that
    refuses our key: every deploy fails there alike, and leaving it out hides the fault."""
    config, _ = _config(hosts, tmp_path)
    hosts.hosts[0].path("/home/deployer/.ssh/authorized_keys").write_text("")
    hosts.hosts[2].kill()
    lines = build_plan(config, _request(config, "20240101000001")).lines()
    [refused] = [ln for ln in lines if "CANNOT REACH host1" in ln]
    [down] = [ln for ln in lines if "CANNOT REACH host3" in ln]
    assert "--exclude" not in refused
    assert "--exclude host3" in down
