"""`deploytui ssh`: a terminal on one host, in `current`, with the project's env, through
the jump hosts, in a real pseudo-terminal against the sshd fleet."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.hosts.openssh import OpenSSHCommand
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.session import SessionRefused, prepare_session

ROOT = Path(__file__).resolve().parents[1]
SECRET = "tok-s3cr3t-value"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEPLOYTUI_SECRET_API_TOKEN", SECRET)
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def config_data(fleet: Fleet, n: int = 3) -> dict:
    """host1 a worker, host2 and host3 web hosts: the once-host is host2."""
    data = fleet.config(n, roles={"worker": {}, "web": {"once": ["echo migrated"]}})
    data["projects"]["app"]["env"] = {"APP_MODE": "calm", "API_TOKEN": {"secret": "api-token"}}
    for name, host in data["projects"]["app"]["environments"]["prod"]["hosts"].items():
        host["roles"] = ["worker"] if name == "host1" else ["web"]
    return data


def deployed(fleet: Fleet, tmp_path: Path, data: dict) -> Path:
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"]))
    assert result.outcome == "success", result.error
    return fleet.write_config(tmp_path / "deploytui.yml", data)


class Terminal:
    """deploytui in a real pseudo-terminal: what a user's terminal would see."""

    def __init__(self, *argv: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: deploytui, with the pty as its terminal
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "dumb", "PS1": "$ "}
            os.execve(sys.executable, [sys.executable, "-m", "deploytui", *argv], env)
        self.seen = b""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not seen in {self.seen.decode(errors='replace')!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {text!r}: "
                                         f"{self.seen.decode(errors='replace')!r}")
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def wait(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                return os.waitstatus_to_exitcode(with_status[1])
            try:  # keep draining, or a full pty blocks the child
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.seen += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, 9)
        raise AssertionError("deploytui ssh did not end")


def test_the_shell_starts_in_current_with_the_env_and_exit_returns_its_status(
        hosts: Fleet, tmp_path: Path) -> None:
    path = deployed(hosts, tmp_path, config_data(hosts))
    term = Terminal("--config", str(path), "ssh", "app", "prod")
    term.expect("host2 (app/prod), in /srv/app/current")  # the once-host by default
    term.send("printf 'at:%s:%s:%s\\n' \"$(hostname)\" \"$PWD\" \"$APP_MODE\"")
    term.expect("at:host2:/srv/app/current:calm")
    term.send("[ \"$API_TOKEN\" = " + SECRET + " ] && echo secret-is-there; tty")
    term.expect("secret-is-there")
    term.expect("/dev/pts/")  # a real terminal on the host
    term.send("ls ${TMPDIR:-/tmp}/deploytui-env.* 2>/dev/null | wc -l | sed 's/^/files:/'")
    term.expect("files:0")  # the env file went as soon as it was read
    term.send("exit 7")
    assert term.wait() == 7


def test_a_command_after_dashes_runs_on_the_named_host_and_its_status_is_the_exit_status(
        hosts: Fleet, tmp_path: Path) -> None:
    path = deployed(hosts, tmp_path, config_data(hosts))
    term = Terminal("--config", str(path), "ssh", "app", "prod", "host3", "--",
                    "echo on $(hostname) in $PWD; test -t 0 && echo interactive; exit 3")
    term.expect("on host3 in /srv/app/current")
    term.expect("interactive")
    assert term.wait() == 3


def test_without_a_terminal_the_command_runs_without_one(
        hosts: Fleet, tmp_path: Path) -> None:
    path = deployed(hosts, tmp_path, config_data(hosts))
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "ssh",
                           "app", "prod", "host1", "--", "test -t 0 || echo no-tty; hostname"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stdout) == (0, "no-tty\nhost1\n"), proc.stderr


def test_secrets_never_reach_a_command_line_here_or_on_the_host(
        hosts: Fleet, tmp_path: Path) -> None:
    data = config_data(hosts)
    deployed(hosts, tmp_path, data)
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    session = prepare_session(config, project, project.environments["prod"], "host1",
                              "true", tty=False)
    assert SECRET not in " ".join(session.argv)
    left = list(hosts.host("host1").path("/tmp").glob("deploytui-env.*"))
    assert len(left) == 1 and oct(left[0].stat().st_mode & 0o777) == "0o600"
    assert "API_TOKEN=" in left[0].read_text()  # read by the session, which deletes it
    assert subprocess.run(session.argv, stdin=subprocess.DEVNULL, timeout=30).returncode == 0
    assert list(hosts.host("host1").path("/tmp").glob("deploytui-env.*")) == []


def test_jump_hosts_are_crossed_with_the_same_strict_host_keys(
        hosts: Fleet, tmp_path: Path) -> None:
    bastion = hosts.host("host1")
    data = config_data(hosts)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host jump\n  HostName {bastion.address}\n  Port {bastion.port}\n"
                          f"  User {hosts.user}\n  IdentityFile {hosts.client_key}\n"
                          f"Host {hosts.host('host3').address}\n  ProxyJump jump\n")
    data["ssh"]["config"] = str(ssh_config)
    # two handshakes in a row through OpenSSH: the fleet's 5 s is short on a busy machine
    data["ssh"]["connect_timeout"] = 20
    path = deployed(hosts, tmp_path, data)
    before = bastion.connections()
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "ssh",
                           "app", "prod", "host3", "--", "hostname"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stdout) == (0, "host3\n"), proc.stderr
    # one login to leave the env file (deploytui), one for OpenSSH's own -W hop
    assert bastion.connections() == before + 2
    # a bastion whose key is not the known one is refused, not trusted
    known = hosts.known_hosts.read_text()
    strangers = tmp_path / "known_hosts"
    strangers.write_text("".join(ln for ln in known.splitlines(keepends=True)
                                 if not ln.startswith(f"[{bastion.address}]")))
    data["ssh"]["known_hosts"] = str(strangers)
    path = hosts.write_config(tmp_path / "strict.yml", data)
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    with pytest.raises(SessionRefused, match="jump host jump"):
        prepare_session(config, project, project.environments["prod"], "host3", "hostname",
                        tty=False)
    # and OpenSSH itself, given deploytui's command line, refuses that bastion too
    host3 = project.environments["prod"].hosts[2]
    argv = OpenSSHCommand(config.ssh).argv(host3, "hostname", tty=False)
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=30)
    assert proc.returncode == 255 and "Host key verification failed" in proc.stderr
    assert proc.stdout == ""


def test_nothing_deployed_yet_and_an_unknown_host_are_one_line_each(
        hosts: Fleet, tmp_path: Path) -> None:
    path = hosts.write_config(tmp_path / "deploytui.yml", config_data(hosts))
    run = [sys.executable, "-m", "deploytui", "--config", str(path), "ssh", "app", "prod"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(run, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=30, env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == ("deploytui: ssh: host2: nothing deployed yet "
                                            "(deploy first: deploytui deploy app prod)")
    proc = subprocess.run([*run, "host9"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30, env=env)
    assert proc.returncode == 2
    assert "no host 'host9' in app/prod (hosts: host1, host2, host3)" in proc.stderr


def test_a_host_named_by_an_ssh_config_alias_keeps_the_aliases_own_options(
        hosts: Fleet, tmp_path: Path) -> None:
    target = hosts.host("host2")
    marker = tmp_path / "alias-block-applied"
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host web-two\n  HostName {target.address}\n  Port {target.port}\n"
                          f"  User {hosts.user}\n  PermitLocalCommand yes\n"
                          f"  LocalCommand touch {marker}\n")
    data = config_data(hosts)
    data["ssh"]["config"] = str(ssh_config)
    host = data["projects"]["app"]["environments"]["prod"]["hosts"]["host2"]
    host["address"] = "web-two"
    for key in ("port", "user"):
        host.pop(key)
    path = deployed(hosts, tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "ssh",
                           "app", "prod", "host2", "--", "hostname"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stdout) == (0, "host2\n"), proc.stderr
    assert marker.exists()  # OpenSSH read the alias's block, not only deploytui's choices
