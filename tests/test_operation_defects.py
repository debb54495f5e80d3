"""The defects a code review found in the operations (issue 11), each on the real fleet.

Faults are real: a host is killed (its sshd and sessions gone) at the moment a given
command is about to run on it, through a thin wrapper around the real SSH transport.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable

from fleet import Fleet
from release_fleet import R1, R2, R3, _git, current_of, load, own, three_releases

from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.operations.rollback import run_rollback
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LockInfo, release_locks, take_locks

ENV_DUMP = {"web": {"restart": ["env | grep ^DEPLOYTUI_ | grep -v PASSWORD | sort"
                                " > $HOME/restart-env"]}}


class _Faulty:
    """The real transport, with `before(command)` called before each command runs."""

    def __init__(self, inner, before: Callable[[str], None]) -> None:
        self._inner, self._before = inner, before
        self.name = inner.name

    def run(self, command: str, **kwargs):
        self._before(command)
        return self._inner.run(command, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def kill_on(fleet: Fleet, config, host: str, needle: str, nth: int):
    """A factory whose `host` dies just before its nth command containing `needle`."""
    real = transport_factory(config)
    seen = {"n": 0}

    def before(command: str) -> None:
        if needle in command:
            seen["n"] += 1
            if seen["n"] == nth:
                fleet.host(host).kill()

    return lambda h: _Faulty(real(h), before) if h.name == host else real(h)


def test_a_failed_switch_back_is_reported_and_the_host_is_among_the_failed(
        hosts: Fleet) -> None:
    config = load(hosts, 3)
    three_releases(hosts)
    hosts.hosts[2].run_inside("chown root:root /srv/app && chmod 755 /srv/app")
    # host1 switches, then dies before it can be switched back
    factory = kill_on(hosts, config, "host1", "current.tmp", 2)
    result = run_rollback(config, "app", "prod", factory=factory)
    assert not result.ok
    assert "(hosts switched back)" not in result.error
    assert "switching back FAILED on host1" in result.error
    assert set(result.failed_hosts) == {"host1", "host3"}
    assert current_of(hosts.hosts[1]) == R3  # host2 went back


def test_a_pull_rollback_whose_move_back_fails_says_the_fleet_is_split(hosts: Fleet) -> None:
    config = load(hosts, 2, strategy="pull")
    for host in hosts.hosts[:2]:
        app = host.path("/srv/app")
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(hosts.repo_dir), str(app)],
                       check=True, capture_output=True)
        head, before = _git(app, "rev-parse", "HEAD"), _git(app, "rev-parse", "HEAD~1")
        (app / "revisions.log").write_text(
            f"Branch main (at {before}) deployed as release {R1} by ann\n"
            f"Branch main (at {head}) deployed as release {R2} by ann\n")
        own(hosts, app)
    # host2 cannot check out (its .git is root's); host1 moves, then dies before moving back
    hosts.hosts[1].run_inside("chown -R root:root /srv/app/.git")
    factory = kill_on(hosts, config, "host1", "checkout -q", 2)
    result = run_rollback(config, "app", "prod", factory=factory)
    assert not result.ok
    assert "moving back FAILED on host1" in result.error
    assert set(result.failed_hosts) == {"host1", "host2"}


def test_restarts_during_a_rollback_get_every_variable_a_deploy_sets(hosts: Fleet) -> None:
    config = load(hosts, 1, roles=ENV_DUMP)
    three_releases(hosts, 1)
    result = run_rollback(config, "app", "prod")
    assert result.ok, result.error
    env = dict(line.split("=", 1) for line in
               hosts.hosts[0].path("/home/deployer/restart-env").read_text().splitlines())
    sha = json.loads(hosts.hosts[0].path(
        f"/srv/app/.deploytui/releases/{R2}.json").read_text())["sha"]
    assert env["DEPLOYTUI_SHA"] == sha
    assert env["DEPLOYTUI_RELEASE"] == R2
    assert env["DEPLOYTUI_RELEASE_PATH"] == f"/srv/app/releases/{R2}"
    assert {"DEPLOYTUI_DEPLOY_TO", "DEPLOYTUI_HOST", "DEPLOYTUI_ENV"} <= set(env)


def test_a_failed_unlock_is_reported_not_ignored(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    layouts = {"host1": Layout("/srv/app")}
    info = LockInfo(user="ann@laptop")
    with HostPool(config.projects["app"].environments["prod"].hosts,
                  transport_factory(config)) as pool:
        pool.connect()
        take_locks(pool, layouts, info)
        host.run_inside("chown root:root /srv/app/.deploytui /srv/app/.deploytui/lock")
        errors = release_locks(pool, layouts, info)
    assert "host1" in errors
    assert host.path("/srv/app/.deploytui/lock").exists()


def test_closing_a_local_transport_kills_the_command_still_running(tmp_path) -> None:
    local = LocalTransport("local1")
    local.connect()
    pidfile = tmp_path / "pid"
    worker = threading.Thread(target=lambda: local.run(f"echo $$ > {pidfile}; sleep 30",
                                                       timeout=60), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    local.close()
    worker.join(10)
    assert not worker.is_alive()
    pid = int(pidfile.read_text())
    gone = subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    assert gone


def test_a_deploy_in_the_same_second_as_the_last_takes_the_next_second_as_its_id(
        hosts: Fleet) -> None:
    """Issue 13 item 5: `for i in 1 2 3; do deploytui deploy ...; done` must not collide."""
    from release_fleet import make_release
    from test_deploy_fleet import deploy

    from deploytui.engine.remote.layout import release_id_now

    config = load(hosts, 2)
    now = release_id_now()
    for host in hosts.hosts[:2]:
        make_release(host, now)  # what a deploy that just finished, this second, left
    result = deploy(config)
    assert result.outcome == "success", result.error
    assert result.release_id > now and len(result.release_id) == 14
    assert current_of(hosts.hosts[0]) == result.release_id
