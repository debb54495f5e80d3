"""`check --connect` checks on each host what a deploy needs (Capistrano's deploy:check):
one line per problem naming the host and the cause in the tool's own words, exit 1 if
any, one command per host; the plan shows the same result."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.engine.hosts.pool import transport_factory
from deploytui.engine.operations.readiness import check_environment


def check(fleet: Fleet, tmp_path: Path, data: dict, *extra: str) -> int:
    path = fleet.write_config(tmp_path / "deploytui.yml", data)
    return main(["--config", str(path), "check", "app", "prod", "--connect", *extra])


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("app prod/")]


def of(host: FleetHost, found: list[str]) -> list[str]:
    """host's lines, without the label: `git: not installed`."""
    return [ln.split(None, 2)[2].strip() for ln in found if ln.split()[1] == f"prod/{host.name}"]


def path_without(host: FleetHost, tool: str) -> None:
    """The host's login shell gets a PATH holding everything of /usr/bin but `tool` (its
    ~/.bashrc, which bash sources for an sshd command; reset removes both)."""
    bin_dir = f"/tmp/no-{tool}"
    done = host.run_inside(f"mkdir -p {bin_dir} && ln -s /usr/bin/* {bin_dir}/ &&"
                           f" rm {bin_dir}/{tool}")
    assert done.returncode == 0, done.stderr
    (host.root / "home" / ".bashrc").write_text(f"export PATH={bin_dir}\n")


def hide_git(host: FleetHost) -> None:
    path_without(host, "git")


def test_a_host_whose_commands_find_no_bash_says_so(hosts: Fleet, tmp_path, capsys):
    """Every command runs in `bash` found on the PATH: a PATH without it (the host's
    ~/.bashrc) is what a host without bash looks like from here."""
    h1 = hosts.hosts[0]
    path_without(h1, "bash")
    assert check(hosts, tmp_path, hosts.config(2)) == 1
    found = lines(capsys)
    assert of(h1, found) == ["bash: not installed"]
    assert of(hosts.hosts[1], found) == ["ok"]


def test_a_healthy_fleet_is_ready_and_exits_0(hosts: Fleet, tmp_path, capsys, monkeypatch):
    """Shared files present, sudo in a restart with sudo_password set (a secret)."""
    monkeypatch.setenv("DEPLOYTUI_SECRET_FLEET_SUDO", hosts.sudo_password)
    for host in hosts.hosts[:3]:
        host.path("/srv/app/shared").mkdir()
        host.path("/srv/app/shared/.env").write_text("A=1\n")
    data = hosts.config(3, shared=["media", ".env"], sudo_password={"secret": "fleet-sudo"},
                        roles={"web": {"restart": ["sudo true"]}})
    assert check(hosts, tmp_path, data) == 0
    found = lines(capsys)
    assert [ln.split(None, 2)[2].strip() for ln in found] == ["ok"] * 3, found


def test_each_missing_thing_is_one_line_naming_host_and_cause(hosts: Fleet, tmp_path, capsys):
    h1, h2, h3, h4, h5 = hosts.hosts[:5]
    hide_git(h1)
    locked = h2.path("/srv/locked")  # root's: deployer may not create /srv/locked/app
    locked.mkdir()
    for host in (h1, h2, h3, h5):
        host.path("/srv/app/shared").mkdir(exist_ok=True)
        host.path("/srv/app/shared/.env").write_text("A=1\n")
    data = hosts.config(5, shared=[".env"],
                        roles={"web": {"restart": ["sh restart.sh"]},
                               "admin": {"restart": ["sudo systemctl restart app"]}})
    targets = data["projects"]["app"]["environments"]["prod"]["hosts"]
    targets["host2"]["deploy_to"] = "/srv/locked/app"
    targets["host3"]["roles"] = ["web", "admin"]  # its restart uses sudo: no password set
    assert check(hosts, tmp_path, data) == 1
    found = lines(capsys)
    assert of(h1, found) == ["git: not installed"]
    assert of(h2, found) == ["deploy_to: cannot create /srv/locked/app: /srv/locked is not"
                             " writable by deployer",
                             "shared: missing shared file /srv/locked/app/shared/.env"]
    assert of(h3, found) == ["sudo: a password is required"]
    assert of(h4, found) == ["shared: missing shared file /srv/app/shared/.env"]
    assert of(h5, found) == ["ok"]


def test_a_deploy_to_that_exists_but_is_not_writable_is_named(hosts: Fleet, tmp_path, capsys):
    h1 = hosts.hosts[0]
    subprocess.run(["chown", "root:root", str(h1.path("/srv/app"))], check=True)
    h1.path("/srv/app").chmod(0o755)
    assert check(hosts, tmp_path, hosts.config(2)) == 1
    found = lines(capsys)
    assert of(h1, found) == ["deploy_to: /srv/app is not writable by deployer"]
    assert of(hosts.hosts[1], found) == ["ok"]


def test_free_disk_below_min_free_mb_is_named_like_the_deploy_says_it(hosts, tmp_path, capsys):
    assert check(hosts, tmp_path, hosts.config(1, min_free_mb=10**9)) == 1
    [line] = of(hosts.hosts[0], lines(capsys))
    assert line.startswith("disk: only ") and line.endswith(
        " MB free on /srv/app (min_free_mb 1000000000)")


def test_a_repo_path_the_hosts_cannot_read_is_gits_own_line(hosts: Fleet, tmp_path, capsys):
    assert check(hosts, tmp_path, hosts.config(1, repo="/nonexistent/app.git")) == 1
    assert of(hosts.hosts[0], lines(capsys)) == [
        "repo: fatal: '/nonexistent/app.git' does not appear to be a git repository"]


def test_a_branch_the_repo_lacks_is_named(hosts: Fleet, tmp_path, capsys):
    assert check(hosts, tmp_path, hosts.config(1, branch="nope")) == 1
    assert of(hosts.hosts[0], lines(capsys)) == [f"repo: {hosts.repo_url}: branch nope not found"]


def test_a_repo_over_ssh_says_what_ssh_said_not_gits_generic_fatal(hosts: Fleet, tmp_path,
                                                                     capsys):
    """host2 serves the repo over SSH. host1 does not know host2's key: `Host key
    verification failed.`; once it does, it has no key of its own: ssh's `Permission
    denied (publickey).` (the forwarded-agent case comes with agent forwarding)."""
    h1, server = hosts.hosts[0], hosts.hosts[1]
    url = f"ssh://{hosts.user}@{server.address}:{server.port}{hosts.repo_url}"
    data = hosts.config([h1], repo=url)
    assert check(hosts, tmp_path, data) == 1
    assert of(h1, lines(capsys)) == ["repo: Host key verification failed."]
    known = h1.root / "home" / ".ssh" / "known_hosts"
    known.write_text(next(ln for ln in hosts.known_hosts.read_text().splitlines()
                          if ln.startswith(f"[{server.address}]")) + "\n")
    try:
        assert check(hosts, tmp_path, data) == 1
        assert of(h1, lines(capsys)) == [
            f"repo: {hosts.user}@{server.address}: Permission denied (publickey)."]
    finally:
        known.unlink()


def test_an_unreachable_host_is_its_connection_error(hosts: Fleet, tmp_path, capsys):
    hosts.hosts[1].kill()
    assert check(hosts, tmp_path, hosts.config(2)) == 1
    found = lines(capsys)
    assert of(hosts.hosts[0], found) == ["ok"]
    [line] = of(hosts.hosts[1], found)
    assert line.startswith("unreachable: ") and ": connection refused" in line


def test_json_lists_every_host_with_its_problems(hosts: Fleet, tmp_path, capsys):
    assert check(hosts, tmp_path, hosts.config(2, shared=[".env"]), "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["connected"] is True
    [env] = doc["environments"]
    assert (env["project"], env["environment"], env["ok"]) == ("app", "prod", False)
    assert [h["host"] for h in env["hosts"]] == ["host1", "host2"]
    first = env["hosts"][0]
    assert first["problems"] == [{"check": "shared",
                                  "reason": "missing shared file /srv/app/shared/.env",
                                  "line": "host1: shared: missing shared file"
                                          " /srv/app/shared/.env"}]
    assert first["reached"] is True and first["free_mb"] > 0 and first["locked_by"] is None


class Counting:
    """A real transport factory whose transports count the commands they run."""

    def __init__(self, config) -> None:
        self._make = transport_factory(config)
        self.commands: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, host):
        transport = self._make(host)
        run, counts, lock = transport.run, self.commands, self._lock

        def counted(command, **kw):
            with lock:
                counts[host.name] = counts.get(host.name, 0) + 1
            return run(command, **kw)

        transport.run = counted
        return transport


def test_the_check_is_one_command_per_host(hosts: Fleet, tmp_path):
    data = hosts.config(5, shared=[".env"], roles={"web": {"restart": ["sudo true"]}})
    config = load_config_text(json.dumps(data), "test.yml")
    project = config.projects["app"]
    counting = Counting(config)
    found = check_environment(config, project, project.environments["prod"], factory=counting)
    assert counting.commands == {h.name: 1 for h in hosts.hosts[:5]}
    assert {p.check for p in found.problems} == {"sudo", "shared"}
    assert [h.connections() for h in hosts.hosts[:5]] == [1] * 5


def test_the_plan_shows_the_same_problems(hosts: Fleet, tmp_path, capsys):
    hide_git(hosts.hosts[0])
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2))
    assert main(["--config", str(path), "deploy", "app", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  NOT READY host1: git: not installed (the deploy will fail there)" in out
    assert "host2:" not in out.split("NOT READY", 1)[1].split("\n", 1)[0]


def test_the_consoles_plan_screen_shows_the_same_problems(hosts: Fleet, tmp_path):
    from deploytui.engine.operations.plan import build_plan
    from deploytui.engine.operations.request import DeployRequest
    from deploytui.tui.screens.plan import plan_summary

    data = hosts.config(2, shared=[".env"])
    config = load_config_text(json.dumps(data), "test.yml")
    project = config.projects["app"]
    plan = build_plan(config, DeployRequest(project, project.environments["prod"],
                                            user="ann@laptop"))
    lines = plan_summary(plan)
    for host in ("host1", "host2"):
        assert (f"NOT READY {host}: shared: missing shared file /srv/app/shared/.env"
                " (the deploy will fail there)") in lines


def test_an_artifact_project_needs_no_git_on_its_hosts(hosts: Fleet, tmp_path, capsys):
    hide_git(hosts.hosts[0])
    assert check(hosts, tmp_path, hosts.config(2, strategy="artifact")) == 0
    assert [ln.split(None, 2)[2].strip() for ln in lines(capsys)] == ["ok", "ok"]


def test_local_hosts_are_checked_the_same_way(tmp_path, monkeypatch):
    """The demo's hosts (transport: local) run the very same check on this machine."""
    from deploytui.config.model import Config, Environment, Host, Project
    from deploytui.sample_app import create_sample_repo

    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    repo = create_sample_repo(tmp_path / "repo")
    (tmp_path / "locked").mkdir(mode=0o555)
    places = {"h1": tmp_path / "h1", "h2": tmp_path / "locked" / "app"}
    hosts = tuple(Host(name, "localhost", transport="local", deploy_to=str(place))
                  for name, place in places.items())
    project = Project("app", str(repo), "/srv/unused", {"prod": Environment("prod", hosts)},
                      branch="main", shared=(".env",))
    (tmp_path / "h1" / "shared").mkdir(parents=True)
    (tmp_path / "h1" / "shared" / ".env").write_text("A=1\n")
    found = check_environment(Config(None, {"app": project}), project,
                              project.environments["prod"])
    assert found.hosts["h1"].ok, found.problems
    texts = [p.text for p in found.hosts["h2"].problems]
    if os.geteuid() != 0:  # root may write anywhere
        assert texts[0].startswith(f"deploy_to: cannot create {places['h2']}")
    assert texts[-1] == f"shared: missing shared file {places['h2']}/shared/.env"


def test_a_repo_that_never_answers_is_given_up_after_the_timeout(hosts: Fleet, tmp_path,
                                                                 capsys, monkeypatch):
    """host2 serves the repo but is frozen (TCP connects, no SSH banner): git ls-remote
    on host1 is stopped after REPO_TIMEOUT (shortened here), its ssh with it."""
    from deploytui.engine.operations import readiness

    monkeypatch.setattr(readiness, "REPO_TIMEOUT", 2)
    h1, server = hosts.hosts[0], hosts.hosts[1]
    known = h1.root / "home" / ".ssh" / "known_hosts"
    known.write_text(next(ln for ln in hosts.known_hosts.read_text().splitlines()
                          if ln.startswith(f"[{server.address}]")) + "\n")
    url = f"ssh://{hosts.user}@{server.address}:{server.port}{hosts.repo_url}"
    server.freeze()
    try:
        assert check(hosts, tmp_path, hosts.config([h1], repo=url)) == 1
        assert of(h1, lines(capsys)) == [f"repo: {url}: no answer within 2s"]
        assert not [p for p in h1.processes() if p.startswith("ssh ")], "ssh left behind"
    finally:
        server.thaw()
        known.unlink()
