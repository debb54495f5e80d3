"""Health over the real fleet: the sample app's server, started by `restart`, is checked
over HTTP through each host's SSH connection; `deploytui health` checks it any time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy

APP = "/srv/app"
PORT = 18000
HEALTH = {"url": f"http://{{address}}:{PORT}/health", "timeout": 5, "interval": 0.1}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def serving(fleet: Fleet, count: int) -> list[FleetHost]:
    """The first `count` hosts, each told to run the sample app's server on its address."""
    chosen = fleet.hosts[:count]
    for host in chosen:
        host.set_marker("serve", f"{host.address} {PORT}\n")
    return chosen


def config_data(fleet: Fleet, count: int, **overrides) -> dict:
    data = fleet.config(count, **overrides)
    data["projects"]["app"]["roles"] = {"web": {"restart": ["sh restart.sh"],
                                                "health": dict(HEALTH)}}
    return data


def load(data: dict) -> Config:
    return load_config_text(json.dumps(data), "test.yml")


def deploy(config: Config, **kw) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop", **kw)
    return run_deploy(config, request, sink=kw.pop("sink", Recorder()))


def test_deploytui_health_checks_the_servers_restart_started(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chosen = serving(hosts, 2)
    data = config_data(hosts, 2)
    assert deploy(load(data)).outcome == "success"
    path = hosts.write_config(tmp_path / "deploytui.yml", data)

    assert main(["--config", str(path), "health", "app", "prod", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is True
    assert {host: [(c["role"], c["healthy"], c["saw"]) for c in checks]
            for host, checks in report["hosts"].items()} == {
        h.name: [("web", True, "HTTP 200: ok")] for h in chosen}
    assert report["hosts"]["host1"][0]["check"] == \
        f"GET http://{chosen[0].address}:{PORT}/health"

    chosen[1].ssh('kill "$(cat ~/app.pid)"')
    assert main(["--config", str(path), "health", "app", "prod"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["HOST", "ROLE", "HEALTH", "CHECK", "SAW"]
    assert lines[1].split()[:3] == ["host1", "web", "healthy"]
    assert lines[2].split()[:3] == ["host2", "web", "UNHEALTHY"]
    assert "connection refused" in lines[2]


def test_deploytui_health_without_checks_says_so_and_exits_2(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(1))
    assert main(["--config", str(path), "health", "app", "prod"]) == 2
    assert "no health checks in app/prod" in capsys.readouterr().err
