"""The console's periodic refresh of an environment, against the real fleet: cheap on
the hosts (one login and one command each) and still telling the lock and the release."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine import load_status
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.remote.lock import LockInfo

RID = "20240101000001"
APP = "/srv/app"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def load(fleet: Fleet, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(len(fleet.hosts), **overrides)),
                            "test.yml")


def deployed(fleet: Fleet, **overrides) -> Config:
    config = load(fleet, **overrides)
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              user="ann@laptop", release_id=RID),
                        sink=Recorder())
    assert result.outcome == "success", result.error
    return config


def sessions(fleet: Fleet) -> list[tuple[int, int]]:
    """Per host: (logins, remote commands) seen by its sshd so far."""
    return [(h.connections(), h.sshd_log().count("Starting session: command"))
            for h in fleet.hosts]


def hold_lock(fleet: Fleet, host: int, holder: LockInfo) -> None:
    lock = fleet.hosts[host].path(f"{APP}/.deploytui/lock")
    lock.mkdir(parents=True)
    (lock / "info").write_text(holder.to_json() + "\n")
    lock.chmod(0o755)


@pytest.mark.parametrize("strategy", ["release", "pull"])
def test_a_status_refresh_logs_in_once_and_runs_one_command_per_host(
        hosts: Fleet, strategy: str):
    config = deployed(hosts, strategy=strategy)
    holder = LockInfo(user="bob@elsewhere", started="2024-01-01T00:00:00Z",
                      project="app", environment="prod", ref="main")
    hold_lock(hosts, 1, holder)
    before = sessions(hosts)
    status = load_status(config, "app", "prod")
    after = sessions(hosts)
    assert [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before, strict=True)] == \
        [(1, 1)] * len(hosts.hosts)
    assert all(status.reachable.values()) and status.errors == {}
    assert status.current == {h.name: RID for h in hosts.hosts}
    assert status.locks == {"host2": holder.describe()}
    assert status.behind == set() and status.health == {}


def test_a_host_behind_the_fleet_and_an_unreachable_one_are_told_apart(hosts: Fleet):
    config = deployed(hosts)
    hosts.hosts[2].path(f"{APP}/current").unlink()  # host3 serves nothing now
    hosts.hosts[3].kill()
    status = load_status(config, "app", "prod")
    assert status.reachable["host4"] is False and "host4" in status.errors
    assert "host3" not in status.current
    assert status.current["host1"] == RID and status.locks == {}
    assert status.behind == {"host3"}  # unreachable is not behind: it is unknown
