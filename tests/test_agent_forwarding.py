"""Hosts reach a private repo through the operator's forwarded agent, as with OpenSSH.

A real ssh-agent holds a key that only the git server (a fleet host) accepts; the other
hosts have no key of their own. Forwarding is asked for on every channel the engine
opens (the runner shell, one-channel commands), so every command of every operation
sees SSH_AUTH_SOCK, also behind a jump host. Without forwarding, the deploy fails in
ssh's own words, not git's generic `fatal: Could not read from remote repository.`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from agent_fleet import GitServer, SSHAgent, git_server, public_line, ssh_agent
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.hosts.agent import agent_socket
from deploytui.engine.hosts.pool import transport_factory
from deploytui.engine.hosts.transport import AuthFailed
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy
from deploytui.engine.operations.readiness import check_environment

__all__ = ["git_server", "ssh_agent"]  # fixtures, used by name
APP = "/srv/app"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def load(fleet: Fleet, server: GitServer, tmp_path: Path, *, ssh_config: str = "",
         ssh: dict | None = None, hosts: int = 2, **overrides) -> Config:
    data = fleet.config(hosts, repo=server.url, **overrides)
    config_file = tmp_path / "ssh_config"
    config_file.write_text(ssh_config)
    data["ssh"]["config"] = str(config_file)
    data["ssh"].update(ssh or {})
    return load_config_text(json.dumps(data), "test.yml")


def deploy(config: Config) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop",
                            release_id="20240101000001")
    return run_deploy(config, request, sink=Recorder())


def expected_sha(fleet: Fleet) -> str:
    return subprocess.run(["git", "-C", str(fleet.repo_dir), "rev-parse", "main"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("strategy", ["release", "pull"])
def test_forward_agent_lets_every_host_clone_a_repo_only_the_agent_can_reach(
        hosts: Fleet, git_server: GitServer, tmp_path: Path, strategy: str):
    config = load(hosts, git_server, tmp_path, ssh={"forward_agent": True},
                  strategy=strategy)
    result = deploy(config)
    assert result.outcome == "success", result.error
    for host in hosts.hosts[:2]:
        assert not host.path("/home/deployer/.ssh/id_ed25519").exists()  # no key of its own
        where = (f"{APP}/releases/20240101000001/REVISION" if strategy == "release"
                 else f"{APP}/.git/HEAD")
        assert host.path(where).exists()
        log = host.path(f"{APP}/revisions.log").read_text()
        assert expected_sha(hosts) in log


def test_forward_agent_yes_in_ssh_config_is_honoured(hosts: Fleet, git_server: GitServer,
                                                     tmp_path: Path):
    config = load(hosts, git_server, tmp_path, ssh_config="Host *\n  ForwardAgent yes\n")
    assert deploy(config).outcome == "success"


def test_without_forwarding_the_deploy_fails_in_ssh_own_words(
        hosts: Fleet, git_server: GitServer, tmp_path: Path):
    """ssh's line, not git's generic `fatal: Could not read from remote repository.`"""
    config = load(hosts, git_server, tmp_path)
    result = deploy(config)
    assert result.outcome == "failed"
    assert "Permission denied (publickey)" in result.error, result.error
    assert "Could not read from remote repository" not in result.error
    assert "--exclude" not in result.error  # every host failed alike: excluding cannot help


def test_check_connect_asks_each_host_to_reach_the_repo_through_the_forwarded_agent(
        hosts: Fleet, git_server: GitServer, tmp_path: Path):
    """The check runs `git ls-remote` on the hosts as the deploy's fetch does: with the
    agent forwarded they are ready; without it the check says what the deploy would."""
    for forward, ready in ((True, True), (False, False)):
        config = load(hosts, git_server, tmp_path, ssh={"forward_agent": forward})
        project = config.projects["app"]
        found = check_environment(config, project, project.environments["prod"])
        assert found.ok is ready, [p.line() for p in found.problems]
        if not ready:
            assert {p.check for p in found.problems} == {"repo"}
            assert all("Permission denied (publickey)" in p.reason for p in found.problems)


def test_the_config_key_overrides_ssh_config(hosts: Fleet, git_server: GitServer,
                                             tmp_path: Path):
    config = load(hosts, git_server, tmp_path, ssh_config="Host *\n  ForwardAgent yes\n",
                  ssh={"forward_agent": False})
    result = deploy(config)
    assert result.outcome == "failed"
    assert "Permission denied (publickey)" in result.error


def test_every_command_and_channel_sees_the_forwarded_agent(
        hosts: Fleet, ssh_agent: tuple[SSHAgent, Path], monkeypatch: pytest.MonkeyPatch):
    agent, key = ssh_agent
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    data = hosts.config(1)
    data["ssh"]["forward_agent"] = True
    config = load_config_text(json.dumps(data), "test.yml")
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        transport.connect()
        runs = [transport.run("ssh-add -L", capture=True, timeout=10) for _ in range(3)]
        on_channel = transport.run("cat >/dev/null; ssh-add -L", stdin=b"x", capture=True,
                                   timeout=10)
    finally:
        transport.close()
    for result in [*runs, on_channel]:
        assert result.ok, result.stderr
        assert result.stdout.strip() == public_line(key).rsplit(" ", 1)[0] + " test-ed25519"


def test_forwarding_works_through_a_jump_host(hosts: Fleet, git_server: GitServer,
                                              tmp_path: Path):
    bastion = hosts.hosts[-2]
    jump = (f"Host {bastion.address}\n  Port {bastion.port}\n  User deployer\n"
            f"  ProxyJump none\n\nHost *\n  ProxyJump {bastion.address}\n"
            "  ForwardAgent yes\n")
    config = load(hosts, git_server, tmp_path, ssh_config=jump)
    result = deploy(config)
    assert result.outcome == "success", result.error
    assert bastion.connections() == 1  # one login to the bastion, the hosts behind it


def test_identity_agent_names_the_agent_that_logs_in_and_is_forwarded(
        hosts: Fleet, git_server: GitServer, ssh_agent: tuple[SSHAgent, Path],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    agent, key = ssh_agent
    for host in hosts.hosts[:2]:  # the agent's key logs in; no identity_file at all
        with host.path("/home/deployer/.ssh/authorized_keys").open("a") as out:
            out.write(public_line(key) + "\n")
    monkeypatch.setenv("GIT_SSH_COMMAND", git_server.local_git_ssh()
                       + f" -o IdentityAgent={agent.socket}")
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent-here.sock"))
    config = load(hosts, git_server, tmp_path, ssh={"identity_file": None},
                  ssh_config=f"Host *\n  IdentityAgent {agent.socket}\n  ForwardAgent yes\n")
    result = deploy(config)
    assert result.outcome == "success", result.error


def test_identity_agent_none_offers_no_agent_key(hosts: Fleet,
                                                 ssh_agent: tuple[SSHAgent, Path],
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    agent, key = ssh_agent
    host = hosts.hosts[0]
    with host.path("/home/deployer/.ssh/authorized_keys").open("a") as out:
        out.write(public_line(key) + "\n")
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* of the machine's
    for identity_agent, logs_in in (("SSH_AUTH_SOCK", True), ("none", False)):
        (tmp_path / "ssh_config").write_text(f"Host *\n  IdentityAgent {identity_agent}\n")
        data = hosts.config(1)
        data["ssh"].update(config=str(tmp_path / "ssh_config"), identity_file=None)
        config = load_config_text(json.dumps(data), "test.yml")
        transport = transport_factory(config)(config.projects["app"].environments["prod"]
                                              .hosts[0])
        try:
            if logs_in:
                transport.connect()
            else:
                with pytest.raises(AuthFailed):
                    transport.connect()
        finally:
            transport.close()


def test_which_agent_socket_follows_openssh_identity_agent_values(tmp_path: Path):
    env = {"SSH_AUTH_SOCK": "/run/user/1/agent", "MY_AGENT": "/tmp/mine.sock"}
    assert agent_socket(None, env) == "/run/user/1/agent"
    assert agent_socket("SSH_AUTH_SOCK", env) == "/run/user/1/agent"
    assert agent_socket("none", env) is None
    assert agent_socket("$MY_AGENT", env) == "/tmp/mine.sock"
    assert agent_socket("$UNSET_AGENT", env) is None
    assert agent_socket('"~/.1password/agent.sock"', env) == str(
        Path("~/.1password/agent.sock").expanduser())
    assert agent_socket(None, {}) is None


def test_forward_agent_naming_a_socket_forwards_that_agent(
        hosts: Fleet, ssh_agent: tuple[SSHAgent, Path], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path):
    """OpenSSH's `ForwardAgent /path/to/agent.sock` (or `$VAR`): that agent, not
    $SSH_AUTH_SOCK's."""
    agent, key = ssh_agent
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent-here.sock"))
    (tmp_path / "ssh_config").write_text(f"Host *\n  ForwardAgent {agent.socket}\n")
    data = hosts.config(1)
    data["ssh"]["config"] = str(tmp_path / "ssh_config")
    config = load_config_text(json.dumps(data), "test.yml")
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        transport.connect()
        listed = transport.run("ssh-add -L", capture=True, timeout=10)
    finally:
        transport.close()
    assert listed.ok and listed.stdout.split()[:2] == public_line(key).split()[:2]
