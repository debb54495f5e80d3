"""Rollback: every host goes back to one release together, or none does."""

from __future__ import annotations

import json
import shutil
import subprocess

from fleet import Fleet
from release_fleet import (
    R1,
    R2,
    R3,
    R4,
    RESTART,
    _git,
    cli,
    current_of,
    load,
    make_release,
    meta_state,
    own,
    set_current,
    three_releases,
)

from deploytui.engine.events import DeployFinished, DeployStarted, Recorder, Switched
from deploytui.engine.operations.releases import list_releases
from deploytui.engine.operations.rollback import run_rollback


def test_rollback_goes_to_the_previous_ok_release_everywhere_restarts_and_keeps_the_bad_one(
        hosts: Fleet) -> None:
    config = load(hosts, 3, roles=RESTART)
    three_releases(hosts)
    recorder = Recorder()
    result = run_rollback(config, "app", "prod", sink=recorder, user="ann@laptop")
    assert result.ok, result.error
    assert result.target == R2
    assert result.previous == {"host1": R3, "host2": R3, "host3": R3}
    for host in hosts.hosts[:3]:
        assert current_of(host) == R2
        assert host.path(f"/srv/app/releases/{R3}").is_dir()
        assert meta_state(host, R3) == "rolled_back"
        assert meta_state(host, R2) == "ok"
        assert host.path("/home/deployer/restarted-in").read_text().strip() == \
            f"/srv/app/releases/{R2}"
        assert host.path("/srv/app/revisions.log").read_text().endswith(
            f"ann@laptop rolled back to release {R2}\n")
        assert not host.path("/srv/app/.deploytui/lock").exists()
    started = recorder.of(DeployStarted)[0]
    assert started.operation == "rollback"
    assert sorted(e.host for e in recorder.of(Switched)) == ["host1", "host2", "host3"]
    assert recorder.of(DeployFinished)[0].outcome == "success"


def test_going_back_and_forth_keeps_a_release_history_bounded_with_its_deploy_lines_first(
        hosts: Fleet) -> None:
    config = load(hosts, 1, roles=RESTART)
    three_releases(hosts, 1)
    host = hosts.hosts[0]
    meta_file = host.path(f"/srv/app/.deploytui/releases/{R2}.json")
    long_lived = json.loads(meta_file.read_text())
    long_lived["history"] = ["deployed at 2026-01-01T00:00:00Z"] + [
        f"ok at 2026-01-{day:02d}T00:00:00Z by ann@laptop" for day in range(1, 29)] + [
        f"rolled_back at 2026-02-{day:02d}T00:00:00Z by ann@laptop" for day in range(1, 29)]
    meta_file.write_text(json.dumps(long_lived))
    assert run_rollback(config, "app", "prod", to=R2, user="bob@ci").ok
    history = json.loads(meta_file.read_text())["history"]
    assert len(history) == 40
    assert history[0] == "deployed at 2026-01-01T00:00:00Z"
    assert history[-2] == "rolled_back at 2026-02-28T00:00:00Z by ann@laptop"
    assert history[-1].startswith("ok at ") and history[-1].endswith(" by bob@ci")


def test_after_a_rollback_the_listing_shows_the_left_release_as_rolled_back_and_the_next_target(
        hosts: Fleet) -> None:
    config = load(hosts, 2, roles=RESTART)
    three_releases(hosts, 2)
    assert run_rollback(config, "app", "prod").ok
    fleet = list_releases(config, "app", "prod")
    assert [r.state for r in fleet.releases] == ["rolled_back", "current", "previous"]
    second = run_rollback(config, "app", "prod")
    assert second.ok and second.target == R1


def test_rollback_to_a_named_release_works_and_one_missing_on_a_host_is_refused_by_name(
        hosts: Fleet) -> None:
    config = load(hosts, 3, roles=RESTART)
    three_releases(hosts)
    shutil.rmtree(hosts.hosts[1].path(f"/srv/app/releases/{R1}"))
    refused = run_rollback(config, "app", "prod", to=R1)
    assert not refused.ok
    assert refused.error == f"release {R1} is not on every host: missing on host2"
    assert [current_of(h) for h in hosts.hosts[:3]] == [R3, R3, R3]
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()
    done = run_rollback(config, "app", "prod", to=R2)
    assert done.ok and [current_of(h) for h in hosts.hosts[:3]] == [R2, R2, R2]
    assert run_rollback(config, "app", "prod", to="nonsense").error.startswith("'nonsense'")


def test_when_one_host_cannot_switch_the_switched_ones_go_back_and_nothing_is_marked(
        hosts: Fleet) -> None:
    config = load(hosts, 3, roles=RESTART)
    three_releases(hosts)
    res = hosts.hosts[2].run_inside("chown root:root /srv/app && chmod 755 /srv/app")
    assert res.returncode == 0, res.stderr
    result = run_rollback(config, "app", "prod")
    assert not result.ok
    assert "host3" in result.error and "switched back" in result.error
    assert [current_of(h) for h in hosts.hosts[:3]] == [R3, R3, R3]
    for host in hosts.hosts[:2]:
        assert meta_state(host, R3) == "ok"
        assert not host.path("/home/deployer/restarted-in").exists()


def test_rollback_refuses_while_another_operation_holds_the_lock(hosts: Fleet) -> None:
    config = load(hosts, 2, roles=RESTART)
    three_releases(hosts, 2)
    lock = hosts.hosts[1].path("/srv/app/.deploytui/lock")
    lock.mkdir(parents=True)
    (lock / "info").write_text(json.dumps({"user": "bob@ci", "operation": "deploy"}))
    own(hosts, hosts.hosts[1].path("/srv/app"))
    result = run_rollback(config, "app", "prod")
    assert result.locked and "bob@ci" in result.error
    assert [current_of(h) for h in hosts.hosts[:2]] == [R3, R3]
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


def test_an_unreachable_host_stops_the_rollback_before_any_host_changes(hosts: Fleet) -> None:
    config = load(hosts, 2, roles=RESTART)
    three_releases(hosts, 2)
    hosts.hosts[1].kill()
    result = run_rollback(config, "app", "prod")
    assert not result.ok and result.error.startswith("host2")
    assert current_of(hosts.hosts[0]) == R3
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


def test_a_capistrano_layout_rolls_back_and_gains_metadata(hosts: Fleet) -> None:
    config = load(hosts, 1, roles=RESTART)
    host = hosts.hosts[0]
    for rid in (R1, R2):
        make_release(host, rid, state=None)
    set_current(host, R2)
    result = run_rollback(config, "app", "prod")
    assert result.ok and result.target == R1
    assert meta_state(host, R2) == "rolled_back"
    assert meta_state(host, R1) == "ok"


def test_with_no_earlier_good_release_rollback_refuses_and_changes_nothing(
        hosts: Fleet) -> None:
    config = load(hosts, 1, roles=RESTART)
    host = hosts.hosts[0]
    make_release(host, R1, state="failed")
    make_release(host, R2)
    set_current(host, R2)
    result = run_rollback(config, "app", "prod")
    assert not result.ok and "nothing to roll back to" in result.error
    assert current_of(host) == R2


def test_a_pull_project_moves_its_working_copy_back_to_the_previous_deployed_commit(
        hosts: Fleet) -> None:
    config = load(hosts, 2, strategy="pull", roles=RESTART)
    shas = []
    for host in hosts.hosts[:2]:
        app = host.path("/srv/app")
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(hosts.repo_dir),
                        str(app)], check=True, capture_output=True)
        head = _git(app, "rev-parse", "HEAD")
        before = _git(app, "rev-parse", "HEAD~1")
        (app / "revisions.log").write_text(
            f"Branch main (at {before}) deployed as release {R1} by ann\n"
            f"Branch main (at {head}) deployed as release {R2} by ann\n")
        own(hosts, app)
        shas = [before, head]
    listed = list_releases(config, "app", "prod")
    assert [(r.release_id, r.state, r.sha) for r in listed.releases] == [
        (R2, "current", shas[1]), (R1, "previous", shas[0])]
    result = run_rollback(config, "app", "prod")
    assert result.ok, result.error
    assert result.target == R1
    for host in hosts.hosts[:2]:
        app = host.path("/srv/app")
        assert _git(app, "rev-parse", "HEAD") == shas[0]
        assert host.path("/home/deployer/restarted-in").read_text().strip() == "/srv/app"
        assert (app / "revisions.log").read_text().endswith(f"rolled back to release {R1}\n")
    assert list_releases(config, "app", "prod").hosts["host1"].current == R1


def test_the_rollback_command_prints_each_switch_and_exits_0(hosts: Fleet, tmp_path) -> None:
    three_releases(hosts, 2)
    out = cli(hosts, tmp_path, "rollback", "app", "prod", "--to", R1,
              config=hosts.config(2, roles=RESTART))
    assert out.returncode == 0, out.stderr
    assert f"[host1] current -> {R1} (was {R3})" in out.stdout
    assert out.stdout.splitlines()[-1].startswith(f"rolled back app/prod to {R1} on 2 host(s)")


def test_the_rollback_command_refuses_a_release_missing_on_a_host_with_exit_1(
        hosts: Fleet, tmp_path) -> None:
    three_releases(hosts, 2)
    shutil.rmtree(hosts.hosts[0].path(f"/srv/app/releases/{R1}"))
    out = cli(hosts, tmp_path, "rollback", "app", "prod", "--to", R1,
              config=hosts.config(2, roles=RESTART))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"deploytui: rollback failed: release {R1} is not on every host: missing on host1")


def test_end_to_end_two_deploys_then_rollback_then_a_deploy_prunes_to_keep_releases(
        hosts: Fleet) -> None:
    from deploytui.engine.operations.deploy import DeployRequest, run_deploy

    config = load(hosts, 2, keep_releases=2)
    project = config.projects["app"]
    env = project.environments["prod"]
    for rid in (R1, R2):
        deployed = run_deploy(config, DeployRequest(project, env, release_id=rid))
        assert deployed.outcome == "success", deployed.error
    fleet = list_releases(config, "app", "prod")
    assert [(r.release_id, r.state) for r in fleet.releases] == [(R2, "current"),
                                                                 (R1, "previous")]
    assert fleet.row(R2).subject and len(fleet.row(R2).sha) == 40
    result = run_rollback(config, "app", "prod")
    assert result.ok and result.target == R1, result.error
    assert [current_of(h) for h in hosts.hosts[:2]] == [R1, R1]
    deployed = run_deploy(config, DeployRequest(project, env, release_id=R3))
    assert deployed.outcome == "success", deployed.error
    after = list_releases(config, "app", "prod")
    # keep 2 counts R3 and R2; R1 stays anyway: the newest ok release before current
    assert [(r.release_id, r.state) for r in after.releases] == [
        (R3, "current"), (R2, "rolled_back"), (R1, "previous")]
    final = run_deploy(config, DeployRequest(project, env, release_id=R4))
    assert final.outcome == "success", final.error
    assert [r.release_id for r in list_releases(config, "app", "prod").releases] == [R4, R3]


def test_ctrl_c_after_the_switch_still_records_the_rollback_and_unlocks_exit_130(
        hosts: Fleet, tmp_path) -> None:
    """Ctrl-C is a cancel the rollback honours: the switch already done on every host is
    recorded (states, revisions.log) before the lock goes, and the restart is stopped."""
    import os
    import signal
    import sys
    import time
    from pathlib import Path

    three_releases(hosts, 2)
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(
        2, roles={"web": {"restart": ["echo restarting; sleep 306"]}}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent),
           "DEPLOYTUI_DATA_DIR": str(tmp_path / "d"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deploytui", "--config", str(path),
                             "rollback", "app", "prod", "--yes"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "restarting" in line:
            proc.send_signal(signal.SIGINT)
            break
    began = time.monotonic()
    out, err = proc.communicate(timeout=30)
    said = f"stdout:\n{out}\nstderr:\n{err}"
    assert proc.returncode == 130, said
    assert time.monotonic() - began < 15
    assert "rollback cancelled" in err and "Traceback" not in err
    for host in hosts.hosts[:2]:
        assert current_of(host) == R2, said
        assert meta_state(host, R3) == "rolled_back", said
        assert host.path("/srv/app/revisions.log").read_text().endswith(
            f"rolled back to release {R2}\n"), said
        assert not host.path("/srv/app/.deploytui/lock").exists()
        assert not [c for c in host.processes() if "sleep 306" in c]
