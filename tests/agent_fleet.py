"""The operator's SSH world on the test fleet: a real ssh-agent, real keys, a git server.

- `SSHAgent`: a real `ssh-agent -D -a SOCKET` started by the test, holding keys added
  with the real `ssh-add`, killed at the end.
- `keygen`: real keys made by `ssh-keygen` (ed25519, RSA, ECDSA; OpenSSH or `-m PEM`
  format; encrypted with a passphrase or not).
- `GitServer`: one fleet host serves a bare copy of the sample repo over SSH as
  `deployer@<its address>:repo.git`, the way `git@github.com:org/app.git` is reached.
  It accepts only the keys `authorize`d (the agent's); the other hosts get what a real
  operator gives them: a known_hosts line for it in ~/.ssh (and, because the fleet's
  sshd listen on 2200, a `Port` line in ~/.ssh/config), and no key of their own, so
  they reach the repo only through a forwarded agent.

Fixtures: `ssh_agent` (an agent holding a fresh ed25519 key) and `git_server` (the
fleet's last host serving the repo to the others, accepting the agent's key). Import
them into a test module: `from agent_fleet import git_server, ssh_agent  # noqa: F401`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

REPO = "repo.git"  # in the serving host's home


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "", *,
           pem: bool = False) -> Path:
    """A new private key at `path` (public key at path.pub), made by ssh-keygen."""
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", f"test-{kind}",
            "-f", str(path)]
    if kind == "rsa":
        argv += ["-b", "2048"]
    if pem:
        argv += ["-m", "PEM"]
    path.unlink(missing_ok=True)
    subprocess.run(argv, check=True, capture_output=True)
    return path


def public_line(key: Path) -> str:
    return Path(f"{key}.pub").read_text().strip()


class SSHAgent:
    """A real ssh-agent on a socket of its own (never the developer's agent)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "agent.sock"
        self.socket.unlink(missing_ok=True)
        self._proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(self.socket)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.01)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SSH_AUTH_SOCK": str(self.socket)}

    def add(self, key: Path, *options: str) -> None:
        """ssh-add the (unencrypted) key; options such as -c go to ssh-add."""
        subprocess.run(["ssh-add", *options, str(key)], env=self.env, check=True,
                       capture_output=True)

    def keys(self) -> list[str]:
        done = subprocess.run(["ssh-add", "-L"], env=self.env, capture_output=True, text=True)
        return done.stdout.splitlines() if done.returncode == 0 else []

    def stop(self) -> None:
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self.socket.unlink(missing_ok=True)


def _write_as_deployer(fleet: Fleet, path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    os.chown(path, fleet.uid, fleet.uid)
    os.chown(path.parent, fleet.uid, fleet.uid)


@dataclass
class GitServer:
    fleet: Fleet
    host: FleetHost  # serves the repo
    clients: list[FleetHost]  # may clone from it (have its host key), with no key of theirs

    @property
    def url(self) -> str:
        return f"{self.fleet.user}@{self.host.address}:{REPO}"

    def setup(self) -> None:
        bare = self.host.path(f"/home/deployer/{REPO}")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.fleet.repo_dir), str(bare)],
                       check=True, capture_output=True)
        subprocess.run(["chown", "-R", f"{self.fleet.uid}:{self.fleet.uid}", str(bare)],
                       check=True)
        known = self.known_hosts_line()
        for client in self.clients:
            ssh_dir = client.path("/home/deployer/.ssh")
            _write_as_deployer(self.fleet, ssh_dir / "known_hosts", known + "\n", 0o644)
            _write_as_deployer(self.fleet, ssh_dir / "config",
                               f"Host {self.host.address}\n  Port {self.host.port}\n")

    def known_hosts_line(self) -> str:
        wanted = f"[{self.host.address}]:{self.host.port} "
        for line in self.fleet.known_hosts.read_text().splitlines():
            if line.startswith(wanted):
                return line
        raise KeyError(wanted)

    def authorize(self, public: str) -> None:
        """The serving host accepts this public key (as GitHub accepts a user's key)."""
        keys = self.host.path("/home/deployer/.ssh/authorized_keys")
        with keys.open("a") as out:
            out.write(public + "\n")

    def local_git_ssh(self) -> str:
        """GIT_SSH_COMMAND for the deploying machine's own git (it resolves the ref
        before any host does): strict keys, the fleet's known_hosts, the test agent."""
        return (f"ssh -F /dev/null -p {self.host.port} -o BatchMode=yes"
                f" -o StrictHostKeyChecking=yes -o UserKnownHostsFile={self.fleet.known_hosts}")

    def teardown(self) -> None:
        for client in self.clients:
            ssh_dir = client.path("/home/deployer/.ssh")
            for name in ("known_hosts", "config"):
                (ssh_dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.host.path(f"/home/deployer/{REPO}"), ignore_errors=True)


@pytest.fixture
def ssh_agent(tmp_path: Path) -> Iterator[tuple[SSHAgent, Path]]:
    """A running ssh-agent holding a fresh ed25519 key: (agent, the key's path)."""
    agent = SSHAgent(tmp_path / "agent")
    try:
        key = keygen(tmp_path / "agent-key")
        agent.add(key)
        yield agent, key
    finally:
        agent.stop()


@pytest.fixture
def git_server(hosts: Fleet, ssh_agent: tuple[SSHAgent, Path],
               monkeypatch: pytest.MonkeyPatch) -> Iterator[GitServer]:
    """The fleet's last host serves the sample repo to the others; it accepts the
    agent's key. The deploying machine's git uses the test agent and strict keys."""
    agent, key = ssh_agent
    server = GitServer(hosts, hosts.hosts[-1], hosts.hosts[:-1])
    server.setup()
    server.authorize(public_line(key))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    monkeypatch.setenv("GIT_SSH_COMMAND", server.local_git_ssh())
    try:
        yield server
    finally:
        server.teardown()
