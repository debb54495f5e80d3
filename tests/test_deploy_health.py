"""A deploy that proves itself, on the real fleet: the sample app's server is started by
`restart` and checked over HTTP through each host's SSH connection; an unhealthy release
is undone on every host that switched; a canary keeps the rest of the fleet untouched."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import HealthChecked, PhaseStarted, Recorder
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy
from deploytui.sample_app import add_commit

RID1, RID2 = "20240101000001", "20240101000002"
APP = "/srv/app"
PORT = 18000
BROKEN = {  # branch -> the app.py of a release whose server is not healthy
    "health-exits": 'raise SystemExit("crashed at start")\n',
    "health-hangs": ("import socket, sys, time\n"
                     "server = socket.create_server((sys.argv[1], int(sys.argv[2])))\n"
                     "time.sleep(3600)  # accepts connections, never answers\n"),
}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def broken_branch(fleet: Fleet, name: str) -> str:
    """A branch of the sample repo whose app.py is bad (made once per session)."""
    repo = fleet.repo_dir
    git = ["git", "-C", str(repo)]
    exists = subprocess.run([*git, "rev-parse", "--verify", "-q", f"refs/heads/{name}"],
                            capture_output=True).returncode == 0
    if not exists:
        subprocess.run([*git, "checkout", "-q", "-b", name, "main"], check=True)
        try:
            add_commit(repo, f"Break the app ({name})", {"app.py": BROKEN[name]})
        finally:
            subprocess.run([*git, "checkout", "-q", "main"], check=True)
        subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    return name


def serving(fleet: Fleet, count: int) -> list[FleetHost]:
    chosen = fleet.hosts[:count]
    for host in chosen:
        host.set_marker("serve", f"{host.address} {PORT}\n")
    return chosen


def data(fleet: Fleet, count: int, *, health: dict | None = None, rollout: dict | None = None,
         **overrides) -> dict:
    spec = fleet.config(count, **overrides)
    check = {"url": f"http://{{address}}:{PORT}/health", "timeout": 10, "interval": 0.1}
    spec["projects"]["app"]["roles"] = {"web": {"restart": ["sh restart.sh"],
                                                "health": {**check, **(health or {})}}}
    if rollout:
        spec["projects"]["app"]["environments"]["prod"]["rollout"] = rollout
    return spec


def load(spec: dict) -> Config:
    return load_config_text(json.dumps(spec), "test.yml")


def deploy(config: Config, sink: Recorder | None = None, **kw) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop", **kw)
    return run_deploy(config, request, sink=sink or Recorder())


def current_of(host: FleetHost) -> str | None:
    link = host.path(f"{APP}/current")
    return Path(link.readlink()).name if link.is_symlink() else None


def restarts(host: FleetHost) -> list[str]:
    log = host.path("/home/deployer/restarts.log")
    return log.read_text().split("\n")[:-1] if log.exists() else []


def meta_state(host: FleetHost, rid: str) -> str:
    return json.loads(host.path(f"{APP}/.deploytui/releases/{rid}.json").read_text())["state"]


def locked(host: FleetHost) -> bool:
    return host.path(f"{APP}/.deploytui/lock").exists()


def test_a_healthy_deploy_is_checked_over_http_through_ssh_on_every_host(hosts: Fleet):
    chosen = serving(hosts, 3)
    recorder = Recorder()
    result = deploy(load(data(hosts, 3)), recorder, release_id=RID1)
    assert result.outcome == "success", result.error
    checks = recorder.of(HealthChecked)
    assert sorted((c.host, c.healthy, c.saw) for c in checks) == [
        (h.name, True, "HTTP 200: ok") for h in chosen]
    phases = [e.phase for e in recorder.of(PhaseStarted)]
    assert phases.index("restart") < phases.index("verify") < phases.index("finish")
    assert all(meta_state(h, RID1) == "ok" and not locked(h) for h in chosen)


@pytest.mark.parametrize("branch", ["health-exits", "health-hangs"])
def test_an_unhealthy_release_is_rolled_back_on_every_host(hosts: Fleet, branch: str):
    chosen = serving(hosts, 3)
    spec = data(hosts, 3, health={"timeout": 5})
    assert deploy(load(spec), release_id=RID1).outcome == "success"
    recorder = Recorder()
    started = time.monotonic()
    result = deploy(load(spec), recorder, release_id=RID2, ref=broken_branch(hosts, branch))
    elapsed = time.monotonic() - started
    assert result.outcome == "rolled_back", result.error
    assert "host1" in result.error and "health web" in result.error
    saw = "connection refused" if branch == "health-exits" else "no answer in time"
    assert saw in result.error
    assert elapsed < 45  # every host's check is bounded by its 5 s timeout
    for host in chosen:
        assert current_of(host) == RID1
        assert restarts(host) == [f"restarted {RID1}", f"restarted {RID2}",
                                  f"restarted {RID1}"]
        assert meta_state(host, RID2) == "failed"
        assert not host.path(f"{APP}/releases/{RID2}").exists()
        assert not locked(host)
    after = [c for c in recorder.of(HealthChecked) if c.healthy]
    assert sorted(c.host for c in after) == [h.name for h in chosen]  # healthy again
    assert result.hosts["host1"].outcome == "failed"
    assert result.hosts["host2"].outcome in ("failed", "rolled back")


def test_a_canary_failing_leaves_the_other_hosts_untouched(hosts: Fleet):
    chosen = serving(hosts, 3)
    spec = data(hosts, 3, health={"timeout": 5}, rollout={"canary": 1, "batch": 1})
    assert deploy(load(spec), release_id=RID1).outcome == "success"
    recorder = Recorder()
    result = deploy(load(spec), recorder, release_id=RID2,
                    ref=broken_branch(hosts, "health-exits"))
    assert result.outcome == "rolled_back", result.error
    canary, *others = chosen
    assert restarts(canary) == [f"restarted {RID1}", f"restarted {RID2}", f"restarted {RID1}"]
    for host in others:
        assert restarts(host) == [f"restarted {RID1}"]  # never switched, never restarted
    assert all(current_of(h) == RID1 for h in chosen)
    phases = [e.phase for e in recorder.of(PhaseStarted)]
    assert "switch canary" in phases and "verify canary" in phases
    assert not any(p.startswith("switch batch") for p in phases)


def test_a_staged_rollout_switches_canary_then_batches_each_health_gated(hosts: Fleet):
    serving(hosts, 3)
    recorder = Recorder()
    spec = data(hosts, 3, rollout={"canary": 1, "batch": 1, "pause": 0.2})
    result = deploy(load(spec), recorder, release_id=RID1)
    assert result.outcome == "success", result.error
    phases = [(e.phase, e.hosts) for e in recorder.of(PhaseStarted)]
    staged = [(p, h) for p, h in phases if p.split()[0] in ("switch", "restart", "verify")]
    assert staged == [
        ("switch canary", ("host1",)), ("restart canary", ("host1",)),
        ("verify canary", ("host1",)),
        ("switch batch 1/2", ("host2",)), ("restart batch 1/2", ("host2",)),
        ("verify batch 1/2", ("host2",)),
        ("switch batch 2/2", ("host3",)), ("restart batch 2/2", ("host3",)),
        ("verify batch 2/2", ("host3",))]


def test_keep_leaves_the_unhealthy_release_in_place_and_fails(hosts: Fleet):
    chosen = serving(hosts, 2)
    spec = data(hosts, 2, health={"timeout": 1}, on_unhealthy="keep")
    assert deploy(load(spec), release_id=RID1).outcome == "success"
    result = deploy(load(spec), release_id=RID2, ref=broken_branch(hosts, "health-exits"))
    assert result.outcome == "failed"
    assert "connection refused" in result.error
    for host in chosen:
        assert current_of(host) == RID2
        assert restarts(host) == [f"restarted {RID1}", f"restarted {RID2}"]
        assert host.path(f"{APP}/releases/{RID2}").is_dir()
        assert not locked(host)


def test_a_failing_before_deploy_hook_touches_nothing_and_leaves_no_lock(hosts: Fleet):
    chosen = hosts.hosts[:2]
    spec = data(hosts, 2, hooks={"before_deploy": ["echo CI is red >&2; exit 1"]})
    result = deploy(load(spec), release_id=RID1)
    assert result.outcome == "failed"
    assert result.error == "before_deploy: echo CI is red >&2; exit 1: CI is red (exit 1)"
    for host in chosen:
        assert list(host.path(APP).iterdir()) == []
        assert host.connections() == 0


def test_the_cli_says_rolled_back_naming_the_host_and_what_its_check_saw(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    serving(hosts, 2)
    spec = data(hosts, 2, health={"timeout": 1})
    assert deploy(load(spec), release_id=RID1).outcome == "success"
    path = hosts.write_config(tmp_path / "deploytui.yml", spec)
    code = main(["--config", str(path), "deploy", "app", "prod", "--ref",
                 broken_branch(hosts, "health-exits")])
    assert code == 1
    out, err = capsys.readouterr()
    assert "health web: UNHEALTHY" in out
    assert "deploytui: deploy rolled back: host1: health web:" in err
    assert "connection refused" in err
    assert main(["--config", str(path), "history", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries[0]["outcome"] == "rolled_back"
    assert "connection refused" in entries[0]["error"]


def test_a_way_back_that_fails_too_says_which_host_serves_what(hosts: Fleet):
    serving(hosts, 2)  # host3 never serves: unhealthy on the new release and the old one
    plain = hosts.config(3)
    assert deploy(load(plain), release_id=RID1).outcome == "success"
    result = deploy(load(data(hosts, 3, health={"timeout": 3})), release_id=RID2,
                    ref=broken_branch(hosts, "health-exits"))
    assert result.outcome == "failed"
    assert "the way back failed too: host1 serves 20240101000001; host2 serves " \
           "20240101000001; host3 serves 20240101000001 (unhealthy after going back: " \
        in result.error
    assert all(current_of(h) == RID1 for h in hosts.hosts[:3])
    assert not any(locked(h) for h in hosts.hosts[:3])
