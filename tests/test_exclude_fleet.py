"""A host that is down must not stop the fleet: exclude it on purpose, catch it up later.

Against the real sshd fleet: a killed host, a deploy that refuses without --exclude and
goes on with it, the record every later reader sees, and catch-up bringing the host to
the SAME release id and sha, touching nothing that is up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import DeployStarted, Recorder
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy
from deploytui.engine.operations.deploy.catch_up import CatchUpRefused, run_catch_up
from deploytui.engine.operations.prune import run_prune
from deploytui.engine.operations.releases import list_releases

RID1, RID2, RID3 = "20261130000001", "20261201000002", "20261202000003"
APP = "/srv/app"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def load(fleet: Fleet, n: int = 3, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(n, **overrides)), "test.yml")


def deploy(config: Config, release_id: str, *exclude: str, sink=None) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop",
                            release_id=release_id, exclude=exclude)
    return run_deploy(config, request, sink=sink or Recorder())


def current_of(host: FleetHost) -> str | None:
    link = host.path(f"{APP}/current")
    return Path(link.readlink()).name if link.is_symlink() else None


def revision(host: FleetHost, rid: str) -> str:
    return host.path(f"{APP}/releases/{rid}/REVISION").read_text().strip()


def meta(host: FleetHost, rid: str) -> dict:
    return json.loads(host.path(f"{APP}/.deploytui/releases/{rid}.json").read_text())


def release_dirs(host: FleetHost) -> list[str]:
    return sorted(p.name for p in host.path(f"{APP}/releases").iterdir())


def restarts(host: FleetHost) -> int:
    log = host.path("/home/deployer/restarts.log")
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_dead_host_is_left_out_on_purpose_and_caught_up_to_the_same_release(
        hosts: Fleet) -> None:
    config = load(hosts)
    h1, h2, h3 = hosts.hosts[:3]
    assert deploy(config, RID1).outcome == "success"
    h3.kill()

    refused = deploy(config, RID2)
    assert refused.outcome == "failed"
    assert "host3" in refused.error and "--exclude host3" in refused.error
    assert [current_of(h) for h in (h1, h2, h3)] == [RID1] * 3
    assert all(RID2 not in release_dirs(h) for h in (h1, h2, h3))

    recorder = Recorder()
    result = deploy(config, RID2, "host3", sink=recorder)
    assert result.outcome == "success", result.error
    assert [current_of(h) for h in (h1, h2, h3)] == [RID2, RID2, RID1]
    assert result.hosts["host3"].outcome == "excluded"
    assert recorder.of(DeployStarted)[0].excluded == ("host3",)
    assert meta(h1, RID2)["excluded"] == ["host3"] == meta(h2, RID2)["excluded"]

    down = list_releases(config, "app", "prod")
    assert down.hosts["host3"].behind and down.hosts["host3"].error
    h3.restart()
    fleet = list_releases(config, "app", "prod").to_json()
    assert fleet["fleet_current"] == RID2
    assert fleet["hosts"]["host3"]["behind"] is True
    assert fleet["hosts"]["host3"]["excluded_from"] == RID2
    assert fleet["hosts"]["host1"]["behind"] is False
    assert f"host3: excluded from release {RID2}, serving {RID1}" in fleet["drift"]

    before = {h.name: (restarts(h), h.path(f"{APP}/revisions.log").read_text())
              for h in (h1, h2)}
    caught = run_catch_up(config, "app", "prod", user="bob@ci")
    assert caught.ok, caught.error
    assert list(caught.plan.targets) == ["host3"]
    assert current_of(h3) == RID2
    assert revision(h3, RID2) == revision(h1, RID2) == result.sha
    assert meta(h3, RID2)["state"] == "ok"
    assert meta(h3, RID2)["deployed_by"] == "ann@laptop"  # the release's record, carried
    assert restarts(h3) == 2
    assert {h.name: (restarts(h), h.path(f"{APP}/revisions.log").read_text())
            for h in (h1, h2)} == before  # up-to-date hosts untouched
    assert not list_releases(config, "app", "prod").to_json()["hosts"]["host3"]["behind"]

    again = run_catch_up(config, "app", "prod")
    assert again.ok and again.deploy is None and again.plan.nothing_to_do
    assert restarts(h3) == 2


def test_catch_up_on_a_host_still_down_fails_naming_it(hosts: Fleet) -> None:
    config = load(hosts)
    assert deploy(config, RID1).outcome == "success"
    hosts.hosts[2].kill()
    assert deploy(config, RID2, "host3").outcome == "success"
    result = run_catch_up(config, "app", "prod")
    assert not result.ok
    assert "host3" in result.error and "unreachable" in result.error


def test_prune_with_a_host_behind_keeps_what_that_host_serves_everywhere(
        hosts: Fleet) -> None:
    config = load(hosts)
    h1, h2, h3 = hosts.hosts[:3]
    assert deploy(config, RID1).outcome == "success"
    h3.kill()
    assert deploy(config, RID2, "host3").outcome == "success"
    assert deploy(config, RID3, "host3").outcome == "success"
    h3.restart()
    result = run_prune(config, "app", "prod", keep=1)
    assert result.ok, result.error
    assert current_of(h3) == RID1 and RID1 in release_dirs(h3)
    for host in (h1, h2):  # RID1: not current, not previous, beyond keep=1, yet h3 serves it
        assert release_dirs(host) == [RID1, RID2, RID3]


def test_catch_up_refuses_when_the_fleet_disagrees(hosts: Fleet) -> None:
    config = load(hosts, 2)
    h1, h2 = hosts.hosts[:2]
    assert deploy(config, RID1).outcome == "success"
    h2.kill()
    assert deploy(config, RID2, "host2").outcome == "success"
    h2.restart()
    # host2's record of its own deploy is forged away: nobody left it out any more
    h1.path(f"{APP}/.deploytui/releases/{RID2}.json").write_text(
        json.dumps({**meta(h1, RID2), "excluded": []}))
    with pytest.raises(CatchUpRefused, match="no release serves the majority"):
        run_catch_up(config, "app", "prod")


def cli(fleet: Fleet, tmp_path: Path, *argv: str, n: int = 3, **overrides) -> int:
    path = fleet.write_config(tmp_path / "deploytui.yml", fleet.config(n, **overrides))
    return main(["--config", str(path), *argv])


def test_exclude_names_must_be_hosts_of_the_environment(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(hosts, tmp_path, "deploy", "app", "prod", "--exclude", "host3,web9") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("deploytui: --exclude: no host web9 in app/prod (hosts: host1, host2, "
                   "host3)")
    assert not hosts.hosts[0].path(f"{APP}/releases").exists()


def test_excluding_every_host_or_every_host_of_a_once_role_is_refused(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(hosts, tmp_path, "deploy", "app", "prod", "--exclude", "host1,host2",
               n=2) == 2
    assert "leaves no host" in capsys.readouterr().err
    data = hosts.config(2, roles={"web": {"restart": ["sh restart.sh"]},
                                  "db": {"once": ["echo migrate"]}})
    env = data["projects"]["app"]["environments"]["prod"]["hosts"]
    env["host2"]["roles"] = ["web", "db"]
    path = hosts.write_config(tmp_path / "once.yml", data)
    assert main(["--config", str(path), "deploy", "app", "prod", "--exclude", "host2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "role db has `once` steps" in err[0] and "host2" in err[0]


def test_the_cli_records_the_exclusion_in_the_journal_and_catch_up_twice(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(hosts, tmp_path, "deploy", "app", "prod") == 0
    hosts.hosts[2].kill()
    assert cli(hosts, tmp_path, "deploy", "app", "prod") == 1
    assert "--exclude host3" in capsys.readouterr().err
    assert cli(hosts, tmp_path, "deploy", "app", "prod", "--exclude", "host3", "--force") == 0
    out = capsys.readouterr().out
    assert "leaving out host3" in out and "left out: host3" in out
    assert cli(hosts, tmp_path, "catch-up", "app", "prod") == 1
    assert "host3" in capsys.readouterr().err
    hosts.hosts[2].restart()
    assert cli(hosts, tmp_path, "catch-up", "app", "prod") == 0
    assert "caught up host3" in capsys.readouterr().out
    assert cli(hosts, tmp_path, "catch-up", "app", "prod") == 0
    assert "nothing behind" in capsys.readouterr().out
    assert cli(hosts, tmp_path, "catch-up", "app", "prod", "host1") == 0
    assert "nothing behind: host1 already serves release" in capsys.readouterr().out
    assert cli(hosts, tmp_path, "catch-up", "app", "prod", "web9") == 2
    assert "no host web9 in app/prod (hosts: host1, host2, host3)" in capsys.readouterr().err
    assert cli(hosts, tmp_path, "history", "app", "prod", "--json") == 0
    entries = json.loads(capsys.readouterr().out)
    by_op = [(e["operation"], e["outcome"]) for e in entries]
    assert by_op[:2] == [("catch-up", "success"), ("deploy", "success")]
    excluded = entries[1]["hosts"]["host3"]
    assert excluded["outcome"] == "excluded" and "--exclude" in excluded["error"]
    assert set(entries[0]["hosts"]) == {"host3"}


def test_a_rollback_with_a_host_behind_says_what_each_host_does_and_leaves_it_alone(
        hosts: Fleet) -> None:
    from deploytui.engine.events import HostLine
    from deploytui.engine.operations.rollback import run_rollback

    config = load(hosts)
    h1, h2, h3 = hosts.hosts[:3]
    assert deploy(config, RID1).outcome == "success"
    h3.kill()
    assert deploy(config, RID2, "host3").outcome == "success"
    h3.restart()
    restarted = restarts(h3)
    recorder = Recorder()
    result = run_rollback(config, "app", "prod", sink=recorder, user="ann@laptop")
    assert result.ok, result.error
    assert result.target == RID1
    assert [current_of(h) for h in (h1, h2, h3)] == [RID1] * 3
    assert restarts(h3) == restarted  # already on the target: not switched, not restarted
    plan = {e.host: e.line for e in recorder.of(HostLine) if "rollback plan" in e.line}
    assert plan["host1"] == f"rollback plan: switch {RID2} -> {RID1}, restart"
    assert plan["host3"] == (f"rollback plan: behind (excluded from {RID2}); already serves"
                             f" {RID1}: unchanged")
    assert not h3.path(f"{APP}/.deploytui/lock").exists()


@pytest.mark.parametrize("strategy", ["artifact", "pull"])
def test_catch_up_rebuilds_the_same_commit_with_the_projects_strategy(
        hosts: Fleet, strategy: str) -> None:
    config = load(hosts, 2, strategy=strategy)
    h1, h2 = hosts.hosts[:2]
    assert deploy(config, RID1).outcome == "success"
    h2.kill()
    result = deploy(config, RID2, "host2")
    assert result.outcome == "success", result.error
    h2.restart()
    fleet = list_releases(config, "app", "prod")
    assert fleet.fleet_current == RID2 and fleet.behind_hosts() == ["host2"]
    caught = run_catch_up(config, "app", "prod")
    assert caught.ok, caught.error
    assert caught.deploy is not None and caught.deploy.release_id == RID2
    after = list_releases(config, "app", "prod")
    assert after.hosts["host2"].current == RID2 and not after.behind_hosts()
    if strategy == "pull":
        head = h2.ssh(f"git -C {APP} rev-parse HEAD").stdout.strip()
        assert head == result.sha
    else:
        assert revision(h2, RID2) == revision(h1, RID2) == result.sha


def test_the_dry_run_plan_shows_who_is_left_out_and_commands_only_for_the_others(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(hosts, tmp_path, "deploy", "app", "prod", "--dry-run", "--exclude",
               "host2") == 0
    out = capsys.readouterr().out
    assert "EXCLUDED host2: left out on purpose" in out
    assert "[host1]" in out and "[host3]" in out and "[host2]" not in out
