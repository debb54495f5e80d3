"""Rollback proves itself too: the same health checks after its restarts; and going back
past a release whose `once` steps ran says that the database may be ahead of the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.engine.events import HealthChecked, Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.rollback import run_rollback

RID1, RID2, RID3 = "20240101000001", "20240101000002", "20240101000003"
PORT = 18000
MIGRATE = "echo migrating the database"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def spec(fleet: Fleet, count: int, *, once: list[str] | None = None,
         confirm: bool = False) -> dict:
    data = fleet.config(count)
    web = {"restart": ["sh restart.sh"],
           "health": {"url": f"http://{{address}}:{PORT}/health", "timeout": 10,
                      "interval": 0.1}}
    if once:
        web["once"] = once
    data["projects"]["app"]["roles"] = {"web": web}
    data["projects"]["app"]["environments"]["prod"]["confirm"] = confirm
    return data


def deploy(data: dict, release_id: str) -> None:
    config = load_config_text(json.dumps(data), "test.yml")
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              user="ann@laptop", release_id=release_id))
    assert result.outcome == "success", result.error


def test_rollback_checks_health_after_its_restarts(hosts: Fleet) -> None:
    for host in hosts.hosts[:2]:
        host.set_marker("serve", f"{host.address} {PORT}\n")
    data = spec(hosts, 2)
    deploy(data, RID1)
    deploy(data, RID2)
    recorder = Recorder()
    config = load_config_text(json.dumps(data), "test.yml")
    result = run_rollback(config, "app", "prod", sink=recorder, user="ann@laptop")
    assert result.ok, result.error
    assert result.target == RID1
    assert sorted((c.host, c.healthy, c.saw) for c in recorder.of(HealthChecked)) == [
        ("host1", True, "HTTP 200: ok"), ("host2", True, "HTTP 200: ok")]
    assert set(result.health) == {"host1", "host2"}


def test_rollback_reports_an_unhealthy_host_naming_what_it_saw(hosts: Fleet) -> None:
    hosts.hosts[0].set_marker("serve", f"{hosts.hosts[0].address} {PORT}\n")  # host2: none
    data = spec(hosts, 2)
    data["projects"]["app"]["roles"]["web"]["health"]["timeout"] = 3
    data["projects"]["app"]["on_unhealthy"] = "keep"
    config = load_config_text(json.dumps(data), "test.yml")
    project = config.projects["app"]
    for rid in (RID1, RID2):  # host2 is unhealthy from the start: keep lets it deploy
        run_deploy(config, DeployRequest(project, project.environments["prod"],
                                         user="ann@laptop", release_id=rid))
    result = run_rollback(config, "app", "prod", to=RID1, user="ann@laptop")
    assert result.outcome == "failed"
    assert result.error.startswith("switched, but unhealthy: host2: health web: GET ")
    assert "connection refused" in result.error


def test_going_back_past_a_migration_warns_in_confirmation_output_and_journal(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = spec(hosts, 2, once=[MIGRATE], confirm=True)
    for host in hosts.hosts[:2]:
        host.set_marker("serve", f"{host.address} {PORT}\n")
    deploy(data, RID1)
    deploy(data, RID2)
    deploy(data, RID3)
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    warning = (f"warning: {RID3} ran `{MIGRATE}`: the database may be ahead of the code you "
               f"are going back to ({RID1})")

    assert main(["--config", str(path), "rollback", "app", "prod", "--to", RID1]) == 2
    confirmation = capsys.readouterr().err  # no terminal: asks for --yes, after the warning
    assert warning in confirmation
    assert f"warning: {RID2} ran `{MIGRATE}`" in confirmation

    assert main(["--config", str(path), "rollback", "app", "prod", "--to", RID1,
                 "--yes"]) == 0
    assert warning in capsys.readouterr().err
    assert main(["--config", str(path), "history", "--json"]) == 0
    [entry, *_] = json.loads(capsys.readouterr().out)
    assert entry["operation"] == "rollback"
    assert warning in (Path(entry["log_dir"]) / "_deploy.log").read_text()

    assert main(["--config", str(path), "rollback", "app", "prod", "--to", RID3,
                 "--yes"]) == 0  # forward again: nothing newer than the target migrated
    assert "may be ahead" not in capsys.readouterr().err
