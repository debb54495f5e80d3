"""What a rollback costs each host: few remote commands, one SSH connection.

Counted where it happens: the `Starting session` lines each host's sshd logs (LogLevel
VERBOSE), one per remote command. The budget for a release rollback with one restart
command is four (lock + release scan, switch, restart, finish), whatever the fleet size.
"""

from __future__ import annotations

import subprocess

from fleet import Fleet
from release_fleet import (
    R1,
    R2,
    R3,
    RESTART,
    _git,
    current_of,
    load,
    meta_state,
    own,
    three_releases,
)

from deploytui.engine.events import Recorder
from deploytui.engine.operations.rollback import run_rollback

BUDGET = 4  # lock+scan, switch, restart, finish


def sessions(fleet: Fleet, n: int) -> list[int]:
    return [h.sshd_log().count("Starting session") for h in fleet.hosts[:n]]


def test_a_release_rollback_runs_at_most_four_commands_per_host_over_one_connection(
        hosts: Fleet) -> None:
    config = load(hosts, 3, roles=RESTART)
    three_releases(hosts)
    before = sessions(hosts, 3)
    result = run_rollback(config, "app", "prod", user="ann@laptop")
    assert result.ok, result.error
    used = [a - b for a, b in zip(sessions(hosts, 3), before, strict=True)]
    assert all(n <= BUDGET for n in used), used
    assert [h.connections() for h in hosts.hosts[:3]] == [1, 1, 1]
    for host in hosts.hosts[:3]:  # the folded finish still did every part
        assert current_of(host) == R2
        assert meta_state(host, R2) == "ok" and meta_state(host, R3) == "rolled_back"
        assert host.path("/srv/app/revisions.log").read_text().endswith(
            f"ann@laptop rolled back to release {R2}\n")
        assert not host.path("/srv/app/.deploytui/lock").exists()


def test_a_refused_rollback_costs_each_host_only_the_lock_with_its_scan_and_the_unlock(
        hosts: Fleet) -> None:
    config = load(hosts, 2, roles=RESTART)
    three_releases(hosts, 2)
    before = sessions(hosts, 2)
    refused = run_rollback(config, "app", "prod", to="20990101000000")
    assert not refused.ok and "not on every host" in refused.error
    used = [a - b for a, b in zip(sessions(hosts, 2), before, strict=True)]
    assert all(n <= 2 for n in used), used
    assert [h.connections() for h in hosts.hosts[:2]] == [1, 1]
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


def test_a_pull_rollback_also_runs_at_most_four_commands_per_host(hosts: Fleet) -> None:
    config = load(hosts, 2, strategy="pull", roles=RESTART)
    for host in hosts.hosts[:2]:
        app = host.path("/srv/app")
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(hosts.repo_dir),
                        str(app)], check=True, capture_output=True)
        head, before_sha = _git(app, "rev-parse", "HEAD"), _git(app, "rev-parse", "HEAD~1")
        (app / "revisions.log").write_text(
            f"Branch main (at {before_sha}) deployed as release {R1} by ann\n"
            f"Branch main (at {head}) deployed as release {R2} by ann\n")
        own(hosts, app)
    before = sessions(hosts, 2)
    result = run_rollback(config, "app", "prod")
    assert result.ok and result.target == R1, result.error
    used = [a - b for a, b in zip(sessions(hosts, 2), before, strict=True)]
    assert all(n <= BUDGET for n in used), used
    assert [h.connections() for h in hosts.hosts[:2]] == [1, 1]
    for host in hosts.hosts[:2]:
        assert host.path("/srv/app/revisions.log").read_text().endswith(
            f"rolled back to release {R1}\n")
        assert not host.path("/srv/app/.deploytui/lock").exists()


def test_a_finish_part_that_fails_is_an_error_line_naming_host_and_part_and_the_lock_still_goes(
        hosts: Fleet) -> None:
    config = load(hosts, 2, roles=RESTART)
    three_releases(hosts, 2)
    hosts.hosts[1].path("/srv/app/revisions.log").mkdir()  # appending to it fails
    own(hosts, hosts.hosts[1].path("/srv/app"))
    recorder = Recorder()
    result = run_rollback(config, "app", "prod", sink=recorder)
    assert result.ok, result.error
    errors = [(e.host, e.line) for e in recorder.lines() if e.stream == "err"]
    assert len(errors) == 1 and errors[0][0] == "host2"
    assert errors[0][1].startswith("could not append to revisions.log: ")
    for host in hosts.hosts[:2]:
        assert meta_state(host, R2) == "ok" and meta_state(host, R3) == "rolled_back"
        assert not host.path("/srv/app/.deploytui/lock").exists()
