"""Deploys over real SSH to the test fleet: what each host ends up with, and faults."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import PhaseStarted, Recorder, Switched, SwitchedBack, each_line
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy

RID1, RID2 = "20240101000001", "20240101000002"
APP = "/srv/app"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def load(fleet: Fleet, hosts: int | list[FleetHost] = 3, ssh: dict | None = None,
         **overrides) -> Config:
    data = fleet.config(hosts, **overrides)
    data["ssh"].update(ssh or {})
    return load_config_text(json.dumps(data), "test.yml")


def deploy(config: Config, **kw) -> DeployResult:
    project = config.projects["app"]
    sink = kw.pop("sink", None) or Recorder()
    cancel = kw.pop("cancel", None)
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop", **kw)
    return run_deploy(config, request, sink=sink, cancel=cancel)


def current_of(host: FleetHost) -> str | None:
    link = host.path(f"{APP}/current")
    return Path(link.readlink()).name if link.is_symlink() else None


def release_dirs(host: FleetHost) -> list[str]:
    d = host.path(f"{APP}/releases")
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def meta_state(host: FleetHost, rid: str) -> str:
    return json.loads(host.path(f"{APP}/.deploytui/releases/{rid}.json").read_text())["state"]


def locked(host: FleetHost) -> bool:
    return host.path(f"{APP}/.deploytui/lock").exists()


@pytest.mark.parametrize("strategy", ["release", "artifact", "pull"])
def test_each_strategy_deploys_the_same_commit_to_three_hosts(hosts: Fleet, strategy: str):
    config = load(hosts, strategy=strategy)
    result = deploy(config, release_id=RID1)
    assert result.outcome == "success", result.error
    expected = hosts.repo_dir and subprocess.run(
        ["git", "-C", str(hosts.repo_dir), "rev-parse", "main"],
        capture_output=True, text=True).stdout.strip()
    assert result.sha == expected
    for host in hosts.hosts[:3]:
        log = host.path(f"{APP}/revisions.log").read_text()
        assert log == f"Branch main (at {expected}) deployed as release {RID1} by ann@laptop\n"
        assert meta_state(host, RID1) == "ok"
        assert not locked(host)
        restarts = host.path("/home/deployer/restarts.log").read_text()
        if strategy == "pull":
            assert host.path(f"{APP}/.git").is_dir()
            assert host.path(f"{APP}/VERSION").read_text() == "1.2.0\n"
            assert not host.path(f"{APP}/releases").exists()
            assert restarts == "restarted app\n"
        else:
            assert host.path(f"{APP}/current").readlink() == Path(f"{APP}/releases/{RID1}")
            revision = host.path(f"{APP}/releases/{RID1}/REVISION").read_text().strip()
            assert revision == expected
            assert restarts == f"restarted {RID1}\n"
    if strategy == "release":
        assert hosts.hosts[0].path(f"{APP}/repo/HEAD").exists()  # the bare mirror


def test_role_order_and_once_exactly_once_as_recorded_by_the_hosts(hosts: Fleet):
    trace = f"{APP}/shared/trace"
    roles = {
        "db": {"tasks": [f"echo \"$(hostname) db-task\" >> {trace}"],
               "once": [f"echo \"$(hostname) db-once\" >> {trace}"]},
        "web": {"tasks": [f"echo \"$(hostname) web-task\" >> {trace}"],
                "restart": [f"echo \"$(hostname) web-restart\" >> {trace}"]},
    }
    config = load(hosts, roles=roles)
    data = hosts.config(3, roles=roles)
    for h in data["projects"]["app"]["environments"]["prod"]["hosts"].values():
        h["roles"] = ["web", "db"]
    config = load_config_text(json.dumps(data), "test.yml")
    assert deploy(config).outcome == "success"
    traces = {h.name: h.path(trace).read_text().split("\n")[:-1] for h in hosts.hosts[:3]}
    assert traces["host1"] == ["host1 db-task", "host1 web-task", "host1 db-once",
                               "host1 web-restart"]
    for name in ("host2", "host3"):
        assert traces[name] == [f"{name} db-task", f"{name} web-task", f"{name} web-restart"]


def test_a_host_failing_its_build_leaves_every_host_on_its_old_release(hosts: Fleet):
    config = load(hosts)
    assert deploy(config, release_id=RID1).outcome == "success"
    hosts.hosts[1].set_marker("fail-build")
    result = deploy(config, release_id=RID2)
    assert result.outcome == "failed"
    assert result.error == "host2: build: sh build.sh: build failed: marker present (exit 1)"
    assert result.hosts["host2"].step == "build: sh build.sh"
    for host in hosts.hosts[:3]:
        assert current_of(host) == RID1
        assert release_dirs(host) == [RID1]
        assert meta_state(host, RID2) == "failed"
        assert not locked(host)


def test_a_host_killed_at_the_switch_gets_the_others_switched_back(hosts: Fleet):
    config = load(hosts)
    assert deploy(config, release_id=RID1).outcome == "success"
    victim = hosts.hosts[1]
    recorder = Recorder()

    def sink(event):
        recorder(event)
        if isinstance(event, PhaseStarted) and event.phase == "switch":
            victim.kill()

    result = deploy(config, release_id=RID2, sink=sink)
    assert result.outcome == "failed"
    assert result.hosts["host2"].outcome == "failed"
    assert result.hosts["host1"].outcome == result.hosts["host3"].outcome == "switched back"
    assert {e.host for e in recorder.of(SwitchedBack)} == {"host1", "host3"}
    assert {e.host for e in recorder.of(Switched)} <= {"host1", "host3"}
    for host in (hosts.hosts[0], hosts.hosts[2]):
        assert current_of(host) == RID1
        assert release_dirs(host) == [RID1]
        assert not locked(host)
    assert current_of(victim) == RID1  # never switched: it died first


@pytest.mark.timeout(40)
def test_a_frozen_host_fails_the_deploy_within_the_timeout(hosts: Fleet):
    config = load(hosts, ssh={"connect_timeout": 3}, build=["echo building; sleep 2"])
    frozen = hosts.hosts[2]
    froze = threading.Event()

    def sink(event):
        if any(e.line == "building" for e in each_line([event])) and not froze.is_set():
            froze.set()
            frozen.freeze()

    began = time.monotonic()
    result = deploy(config, sink=sink)
    took = time.monotonic() - began
    frozen.thaw()
    assert result.outcome == "failed"
    assert result.hosts["host3"].outcome == "failed"
    assert "stopped answering" in result.hosts["host3"].error
    assert took < 20
    for host in hosts.hosts[:2]:
        assert release_dirs(host) == [] and not locked(host)
        assert current_of(host) is None


def test_two_concurrent_deploys_one_wins_the_other_is_locked_and_changes_nothing(hosts: Fleet):
    config = load(hosts, build=["echo building; sleep 2"])
    results: list[DeployResult] = []
    threads = [threading.Thread(target=lambda rid=rid: results.append(
        deploy(config, release_id=rid))) for rid in (RID1, RID2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["locked", "success"]
    winner = next(r for r in results if r.outcome == "success")
    loser = next(r for r in results if r.outcome == "locked")
    assert "locked by ann@laptop since" in loser.error
    for host in hosts.hosts[:3]:
        assert release_dirs(host) == [winner.release_id]
        assert not locked(host)


def test_cancel_during_a_slow_build_changes_nothing_on_any_host(hosts: Fleet):
    config = load(hosts)
    hosts.hosts[0].set_marker("slow-build", "30")
    cancel = threading.Event()

    def sink(event):
        if any("slow mirror" in e.line for e in each_line([event])):
            cancel.set()

    began = time.monotonic()
    result = deploy(config, sink=sink, cancel=cancel)
    assert time.monotonic() - began < 15
    assert result.outcome == "cancelled"
    for host in hosts.hosts[:3]:
        assert release_dirs(host) == [] and current_of(host) is None and not locked(host)
    deadline = time.monotonic() + 5  # the remote build was terminated, not left running
    while "sleep 30" in hosts.hosts[0].processes():
        assert time.monotonic() < deadline, "the cancelled build is still running"
        time.sleep(0.2)


def test_injected_ref_branch_and_shared_path_never_run_on_the_hosts(hosts: Fleet):
    probe = "/tmp/x"
    config = load(hosts, branch=f"master; touch {probe}")
    result = deploy(config)
    assert result.outcome == "failed" and "not found" in result.error
    assert deploy(load(hosts), ref=f"main$(touch {probe})").outcome == "failed"
    sneaky = load(hosts, shared=[f"m$(touch {probe})"])
    assert deploy(sneaky).outcome == "success"
    for host in hosts.hosts[:3]:
        assert not host.path(probe).exists()
        assert host.path(f"{APP}/shared/m$(touch {probe})").is_dir()
    assert not Path(probe).exists()


def test_a_missing_shared_file_and_an_unreachable_host_are_reported_before_any_switch(
        hosts: Fleet):
    config = load(hosts, shared=[".env"])
    result = deploy(config)
    assert result.outcome == "failed"
    assert result.error.startswith("host1: link shared: missing shared file /srv/app/shared/.env")
    hosts.hosts[2].kill()
    result = deploy(load(hosts))
    assert result.outcome == "failed"
    assert result.error.startswith("host3: connect: ")
    for host in hosts.hosts[:2]:
        assert current_of(host) is None and not locked(host)


@pytest.mark.parametrize("down", [0, 2])
def test_with_a_host_down_no_host_is_left_locked_and_nothing_is_written(hosts: Fleet,
                                                                         down: int):
    """Each host is locked as soon as it is connected; a host that cannot be connected
    stops the deploy before anything is written, and the locks taken meanwhile go."""
    hosts.hosts[down].kill()
    result = deploy(load(hosts))
    assert result.outcome == "failed"
    assert result.error.startswith(f"host{down + 1}: connect: ")
    for host in hosts.hosts[:3]:
        if host is not hosts.hosts[down]:
            assert not locked(host) and not host.path(f"{APP}/releases").exists()


def test_too_little_free_disk_is_refused_in_preflight(hosts: Fleet):
    result = deploy(load(hosts, min_free_mb=10**9))
    assert result.outcome == "failed"
    assert "check disk: only" in result.error and "min_free_mb" in result.error
    assert all(release_dirs(h) == [] for h in hosts.hosts[:3])


def test_threads_during_a_ten_host_deploy_grow_by_pool_and_connections_not_per_script(
        hosts: Fleet):
    """Per host: one pool worker and one paramiko reader; the step timeouts and cancel of
    every host's scripts are watched by one shared thread, not a watchdog per script."""
    config = load(hosts, 10, timeout=60)
    for host in hosts.hosts:
        host.set_marker("slow-build", "2")
    before = {t.ident for t in threading.enumerate()}
    building: set[str] = set()
    seen: list[list[str]] = []  # thread names, sampled once every host is building
    watches: list[int] = []  # step watches alive then: all of them, since one may
    # outlive the previous test's scripts by a tick and so be among `before`

    def sink(event):
        for e in each_line([event]):
            if "slow mirror" in e.line:
                building.add(e.host)
                if len(building) == 10 and not seen:
                    seen.append([t.name for t in threading.enumerate()
                                 if t.ident not in before])
                    watches.append(sum(t.name == "script-watch"
                                       for t in threading.enumerate()))

    assert deploy(config, sink=sink).outcome == "success"
    assert seen, "the hosts never all built at once"
    names = seen[0]
    assert not [n for n in names if n.startswith("watch-")]
    assert watches == [1]
    assert len(names) <= 10 + 10 + 4  # workers, readers, step watch, liveness (2), spare
    deadline = time.monotonic() + 5
    while any(t.name == "script-watch" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the step watch outlived its last script"
        time.sleep(0.05)
