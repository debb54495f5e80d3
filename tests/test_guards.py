"""Guards a team asks for: a config that needs a newer deploytui, a deploy that ships more
than max_commits commits, and a deploy of the commit every host already serves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui import __version__
from deploytui.cli import main
from deploytui.config import ConfigError, load_config_text
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.plan import build_plan
from deploytui.sample_app import add_commit, create_sample_repo

APP = "/srv/app"
MINIMAL = ("projects:\n  app:\n    repo: /srv/repo\n    deploy_to: /srv/app\n"
           "    environments: {prod: {hosts: {a: {address: a}}}}\n")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def test_a_config_that_requires_a_newer_deploytui_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "deploytui.yml"
    path.write_text('requires: ">=99.1"\n' + MINIMAL)
    assert main(["--config", str(path), "check"]) == 2
    assert capsys.readouterr().err == (
        f"{path}:1: requires: this config needs deploytui 99.1 or newer; this is deploytui"
        f" {__version__} (upgrade it: pip install -U deploytui)\n")


def test_a_config_this_deploytui_satisfies_loads(tmp_path):
    major, minor = __version__.split(".")[:2]
    config = load_config_text(f'requires: ">={major}.{minor}"\n' + MINIMAL)
    assert config.projects["app"].max_commits == 8  # Shipit's default


def test_a_requires_that_is_not_a_version_names_its_line():
    with pytest.raises(ConfigError) as caught:
        load_config_text(MINIMAL + 'requires: "latest"\n', "deploytui.yml")
    assert [str(p) for p in caught.value.problems] == [
        "deploytui.yml:6: requires: expected a version such as '>=0.2', got 'latest'"]


def _repo(fleet: Fleet, tmp_path: Path) -> Path:
    """A repo of this test's own, readable by the hosts (their /tmp is private)."""
    repo = create_sample_repo(fleet.root / f"repo-{tmp_path.name}")
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    return repo


def test_shipping_more_than_max_commits_is_warned_in_the_plan_and_by_the_deploy(
        hosts: Fleet, tmp_path: Path, capsys):
    repo = _repo(hosts, tmp_path)
    path = hosts.write_config(tmp_path / "deploytui.yml",
                              hosts.config(2, repo=str(repo), max_commits=2))
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    for n in range(3):
        add_commit(repo, f"Change {n}", {f"c{n}.txt": f"{n}\n"})
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    config = load_config_text(path.read_text())
    project = config.projects["app"]
    plan = build_plan(config, DeployRequest(project, project.environments["prod"]))
    warning = "this deploy ships 3 commits, more than max_commits 2"
    assert any(line.startswith(f"WARNING  {warning}") for line in plan.inspected_lines())
    capsys.readouterr()
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert f"warning: {warning}" in out
    # two commits fewer: no warning
    add_commit(repo, "One more", {"d.txt": "d\n"})
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    assert "max_commits" not in capsys.readouterr().out


def test_deploying_the_commit_every_host_serves_does_nothing_unless_forced(
        hosts: Fleet, tmp_path: Path, capsys):
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2))
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    releases = sorted(p.name for p in hosts.hosts[0].path(f"{APP}/releases").iterdir())
    capsys.readouterr()
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert "already serves" in out and "nothing to deploy" in out and "--force" in out
    for host in hosts.hosts[:2]:
        assert sorted(p.name for p in host.path(f"{APP}/releases").iterdir()) == releases
        assert not host.path(f"{APP}/.deploytui/lock").exists()
    log = [json.loads(line) for line in
           hosts.hosts[0].path(f"{APP}/.deploytui/fleet.log").read_text().splitlines()]
    assert [r["outcome"] for r in log] == ["success", "unchanged"]
    assert main(["--config", str(path), "deploy", "app", "prod", "--force"]) == 0
    assert "override: force" in capsys.readouterr().out
    assert len(list(hosts.hosts[0].path(f"{APP}/releases").iterdir())) == 2


def test_a_host_serving_another_commit_is_deployed_to(hosts: Fleet, tmp_path: Path):
    repo = _repo(hosts, tmp_path)
    config = load_config_text(json.dumps(hosts.config(2, repo=str(repo))))
    project = config.projects["app"]
    env = project.environments["prod"]
    assert run_deploy(config, DeployRequest(project, env, exclude=("host2",))
                      ).outcome == "success"
    add_commit(repo, "Newer", {"n.txt": "n\n"})
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    assert run_deploy(config, DeployRequest(project, env, exclude=("host1",))
                      ).outcome == "success"
    # host1 serves the old commit, host2 the new one: deploying the new one is not a no-op
    result = run_deploy(config, DeployRequest(project, env, if_changed=True))
    assert result.outcome == "success", result.error


def test_on_a_terminal_the_warning_comes_before_the_confirmation_question(
        hosts: Fleet, tmp_path: Path):
    import os
    import pty
    import select
    import sys
    import time

    repo = _repo(hosts, tmp_path)
    data = hosts.config(1, repo=str(repo), max_commits=1)
    data["projects"]["app"]["environments"]["prod"]["confirm"] = True
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    assert main(["--config", str(path), "deploy", "app", "prod", "--yes"]) == 0
    for n in range(2):
        add_commit(repo, f"Change {n}", {f"c{n}.txt": f"{n}\n"})
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    master, slave = pty.openpty()
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "deploytui", "--config", str(path),
                             "deploy", "app", "prod"], stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, "PYTHONPATH": str(root)})
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 40
    try:
        while b"type 'prod'" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        os.write(master, b"no\n")
        assert proc.wait(30) == 130  # not confirmed: nothing done
    finally:
        proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    warning = text.find("warning: this deploy ships 2 commits, more than max_commits 1")
    assert 0 <= warning < text.find("type 'prod' to deploy")
