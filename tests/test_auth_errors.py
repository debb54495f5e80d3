"""Each way of not getting in says what failed, in its own words, and what to do.

Authentication is not unreachability: an empty agent, an agent with more keys than
sshd's MaxAuthTries, a key the server does not accept, each have their own line, and
none is followed by `--exclude` advice (leaving the host out cannot help). The agent is
a real ssh-agent; the keys are real.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from agent_fleet import GitServer, SSHAgent, git_server, keygen, ssh_agent
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.errors import failure_line
from deploytui.engine.hosts.pool import transport_factory
from deploytui.engine.hosts.ssh_errors import translate
from deploytui.engine.hosts.transport import AuthFailed, Unreachable

__all__ = ["git_server", "ssh_agent"]  # fixtures, used by name


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* of the machine's


def connect_error(fleet: Fleet, ssh: dict) -> str:
    data = fleet.config(1)
    data["ssh"].update(ssh)
    config = load_config_text(json.dumps(data), "test.yml")
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        with pytest.raises((AuthFailed, Unreachable)) as caught:
            transport.connect()
    finally:
        transport.close()
    return str(caught.value)


def test_an_empty_agent_and_no_identity_file_is_no_key_to_offer(
        hosts: Fleet, ssh_agent: tuple[SSHAgent, Path], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path):
    empty = SSHAgent(tmp_path / "empty")
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", str(empty.socket))
        error = connect_error(hosts, {"identity_file": None})
    finally:
        empty.stop()
    address = f"{hosts.hosts[0].address}:2200"
    assert error == (f"host1: authentication failed: no key to offer as deployer@{address}:"
                     f" no identity_file, and the agent at {empty.socket} holds no key;"
                     " set ssh.identity_file, or ssh-add a key to the agent (SSH_AUTH_SOCK,"
                     " or ssh_config's IdentityAgent)")


@pytest.mark.parametrize("sock", ["", "gone.sock"])
def test_no_agent_or_an_agent_that_does_not_answer_is_said_so(
        hosts: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sock: str):
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / sock) if sock else "")
    error = connect_error(hosts, {"identity_file": None})
    agent = (f"the agent at {tmp_path / sock} does not answer" if sock
             else "no agent (SSH_AUTH_SOCK unset, or IdentityAgent none)")
    assert f": no identity_file, and {agent}; set ssh.identity_file" in error


def test_too_many_agent_keys_is_said_as_openssh_says_it(
        hosts: Fleet, ssh_agent: tuple[SSHAgent, Path], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path):
    agent, _ = ssh_agent
    for i in range(7):  # 8 keys in all, none accepted: sshd's MaxAuthTries is 6
        agent.add(keygen(tmp_path / f"extra{i}"))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    error = connect_error(hosts, {"identity_file": None})
    assert error.startswith("host1: authentication failed: the server hung up after 8 keys"
                            " were offered")
    assert "Too many authentication failures" in error
    assert "IdentitiesOnly yes" in error


def test_a_key_the_server_does_not_accept_says_so_and_what_to_check(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", "")
    stranger = keygen(tmp_path / "stranger")
    error = connect_error(hosts, {"identity_file": str(stranger)})
    assert error.startswith("host1: authentication failed: the server accepted none of the"
                            " offered keys (publickey) as deployer@")
    assert error.endswith("check ssh.identity_file (or ssh_config's IdentityFile),"
                          " IdentitiesOnly, and the keys in your agent (ssh-add -l)")


def test_identities_only_keeps_the_agent_keys_out(
        hosts: Fleet, ssh_agent: tuple[SSHAgent, Path], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path):
    """With 8 keys in the agent, IdentitiesOnly lets the configured key log in first."""
    agent, _ = ssh_agent
    for i in range(7):
        agent.add(keygen(tmp_path / f"extra{i}"))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    (tmp_path / "ssh_config").write_text("Host *\n  IdentitiesOnly yes\n")
    data = hosts.config(1)
    data["ssh"]["config"] = str(tmp_path / "ssh_config")
    config = load_config_text(json.dumps(data), "test.yml")
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        transport.connect()
        assert transport.run("echo in", capture=True).stdout == "in"
    finally:
        transport.close()


def test_when_every_host_is_denied_the_deploy_gives_no_exclude_advice(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", "")
    data = hosts.config(3)
    data["ssh"]["identity_file"] = str(keygen(tmp_path / "stranger"))
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last.startswith("deploytui: deploy failed: host1: connect: authentication failed:"
                           " the server accepted none of the offered keys (publickey)")
    assert "--exclude" not in done.stderr


def test_when_every_host_is_down_the_deploy_gives_no_exclude_advice(
        hosts: Fleet, tmp_path: Path):
    for host in hosts.hosts[:2]:
        host.kill()
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2))
    done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "connection refused (nothing listens there" in done.stderr
    assert "--exclude" not in done.stderr


def test_one_host_down_of_several_still_names_the_way_on(hosts: Fleet, tmp_path: Path):
    hosts.hosts[1].kill()
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(3))
    done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "--exclude host2" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize(("error", "words"), [
    (socket.gaierror(-2, "Name or service not known"),
     "web1.example.invalid:22: cannot resolve the host name: name or service not known (DNS);"
     " check the host's address: or ssh_config's HostName"),
    (TimeoutError("timed out"), "web1.example.invalid:22: connection timed out (the host is"
                                " down, or a firewall drops the packets)"),
    (ConnectionRefusedError(111, "Connection refused"),
     "web1.example.invalid:22: connection refused (nothing listens there: is sshd running,"
     " is the port right?)"),
])
def test_network_failures_each_have_their_own_words(error: Exception, words: str):
    """(DNS and timeouts are not provoked for real: the query or the packets would leave
    the machine.)"""
    said = translate(error, "web1", "web1.example.invalid:22", "deploy")
    assert isinstance(said, Unreachable)
    assert str(said) == f"web1: {words}"


def test_ssh_host_key_failure_wins_over_git_generic_fatal_line(
        hosts: Fleet, git_server: GitServer, tmp_path: Path):
    for client in git_server.clients:  # the hosts no longer know the git server's key
        client.path("/home/deployer/.ssh/known_hosts").unlink()
    data = hosts.config(2, repo=git_server.url)
    data["ssh"]["forward_agent"] = True
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Host key verification failed." in done.stderr.splitlines()[-1]
    assert "Could not read from remote repository" not in done.stderr.splitlines()[-1]


def test_failure_line_prefers_ssh_words_to_git_words():
    assert failure_line("Received disconnect from 10.0.0.1 port 22:2: Too many authentication"
                        " failures\nDisconnected from 10.0.0.1 port 22\nfatal: Could not read"
                        " from remote repository.") == (
        "Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures")


def test_a_key_exchange_that_never_ends_is_said_so_not_taken_for_too_many_keys(
        tmp_path: Path):
    """A server that sends its banner and then stalls (an overloaded host, 500 key
    exchanges at once): paramiko stops waiting silently and then says "No existing
    session", the words of a server that hung up after too many keys."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held: list[socket.socket] = []

    def stall() -> None:
        conn, _ = server.accept()
        held.append(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 stalled\r\n")  # then never a KEXINIT

    threading.Thread(target=stall, daemon=True).start()
    (tmp_path / "known_hosts").write_text("")
    config = load_config_text(json.dumps({
        "ssh": {"connect_timeout": 1, "known_hosts": str(tmp_path / "known_hosts")},
        "projects": {"app": {"repo": "git@example.invalid:app.git", "deploy_to": "/srv/app",
                             "environments": {"prod": {"hosts": {
                                 "web1": {"address": "127.0.0.1", "port": port}}}}}}}),
        "test.yml")
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        with pytest.raises(Unreachable) as caught:
            transport.connect()
    finally:
        transport.close()
        for conn in held:
            conn.close()
        server.close()
    assert "the key exchange did not finish within 1s" in str(caught.value)
    assert "keys were offered" not in str(caught.value)
