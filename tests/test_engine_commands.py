"""How many remote commands a deploy costs, and that folding steps into one command
still reports each step: by name, with its exit code, and killed at its timeout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import (
    HostFailed,
    HostStepDone,
    HostStepStarted,
    Recorder,
)
from deploytui.engine.operations import strategies
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy

BUDGET = 6  # remote commands per host for a release deploy (2 builds, 1 restart)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def load(fleet: Fleet, hosts: int = 3, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(hosts, **overrides)), "test.yml")


def deploy(config: Config, sink: Recorder, release_id: str | None = None) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop",
                            release_id=release_id)
    return run_deploy(config, request, sink=sink)


def sessions(fleet: Fleet, hosts: int) -> list[int]:
    """Remote commands run so far on each host: sshd logs one session per command."""
    return [h.sshd_log().count("Starting session:") for h in fleet.hosts[:hosts]]


def test_a_release_deploy_with_two_builds_and_a_restart_runs_at_most_six_commands_per_host(
        hosts: Fleet):
    config = load(hosts, build=["sh build.sh", "sleep 0.2"], keep_releases=1)
    for rid in ("20240101000001", "20240101000002"):
        assert deploy(config, Recorder(), rid).outcome == "success"
    before = sessions(hosts, 3)
    recorder = Recorder()
    result = deploy(config, recorder, "20240101000003")  # prunes 01 (02 is previous)
    after = sessions(hosts, 3)
    assert result.outcome == "success", result.error
    used = [a - b for a, b in zip(after, before, strict=True)]
    assert max(used) <= BUDGET, used
    assert all(h.connections() == 3 for h in hosts.hosts[:3])  # one per deploy
    deleted = [e.line for e in recorder.lines() if e.line.startswith("deleted release")]
    assert len(deleted) == 3 and all("20240101000001" in line for line in deleted)
    assert all("(0 B" not in line for line in deleted)  # sized on the host before deletion
    assert not any(h.path("/srv/app/releases/20240101000001").exists() for h in hosts.hosts[:3])


def test_each_prepare_step_is_still_reported_on_its_own_in_order(hosts: Fleet):
    config = load(hosts, 1, build=["sh build.sh", "echo second build"])
    recorder = Recorder()
    result = deploy(config, recorder, "20240101000001")
    assert result.outcome == "success", result.error
    project = config.projects["app"]
    env = project.environments["prod"]
    from deploytui.engine.remote.layout import Layout
    ctx = strategies.HostContext(project, env.hosts[0], Layout("/srv/app"), result.release_id,
                                 result.sha, "")
    names = [s.name for s in strategies.prepare_steps(ctx)]
    started = [e.step for e in recorder.of(HostStepStarted) if e.phase == "prepare"]
    done = [(e.step, e.exit_code) for e in recorder.of(HostStepDone) if e.phase == "prepare"]
    assert started == names
    assert done == [(n, 0) for n in names]
    lines = [e.line for e in recorder.lines()]
    assert "second build" in lines
    assert not any("\x1e" in line or "deploytui-step" in line for line in lines)


def test_a_failing_build_step_names_the_host_the_step_and_its_exit_code(hosts: Fleet):
    failing = "echo nothing to see; echo compiler exploded >&2; exit 7"
    config = load(hosts, build=["sh build.sh", failing, "touch /tmp/never"])
    recorder = Recorder()
    result = deploy(config, recorder)
    assert result.outcome == "failed"
    assert result.error == f"host1: build: {failing}: compiler exploded (exit 7)"
    assert result.hosts["host2"].step == f"build: {failing}"
    failed = [e for e in recorder.of(HostFailed) if e.host == "host3"]
    assert [(e.phase, e.step, e.reason) for e in failed] == [
        ("prepare", f"build: {failing}", "compiler exploded (exit 7)")]
    done = [e for e in recorder.of(HostStepDone) if e.host == "host3"]
    assert (done[-1].step, done[-1].exit_code) == (f"build: {failing}", 7)
    for host in hosts.hosts[:3]:  # the step after the failing one never ran
        assert not host.path("/tmp/never").exists()
        assert not host.path("/srv/app/releases").exists() or not any(
            host.path("/srv/app/releases").iterdir())


def test_a_step_running_past_the_timeout_is_killed_and_named(hosts: Fleet):
    config = load(hosts, 2, build=["sh build.sh", "echo sleeping; sleep 30"], timeout=2)
    recorder = Recorder()
    began = time.monotonic()
    result = deploy(config, recorder)
    assert time.monotonic() - began < 15
    assert result.outcome == "failed"
    assert result.error.startswith("host1: build: echo sleeping; sleep 30: timed out after 2s")
    assert result.hosts["host2"].step == "build: echo sleeping; sleep 30"
    deadline = time.monotonic() + 5  # the remote step was terminated, not left running
    while any("sleep 30" in h.processes() for h in hosts.hosts[:2]):
        assert time.monotonic() < deadline, "the timed-out step is still running"
        time.sleep(0.2)
