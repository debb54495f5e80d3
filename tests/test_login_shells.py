"""Whatever the host's login shell prints never becomes part of a command's result.

sshd runs the account's login shell with our command line; bash, started by sshd, reads
~/.bashrc first, and rc files print: terminal-title escapes with no newline, banners,
`echo`s, on stdout or stderr, even from a background job after the shell has moved on.
These tests write real rc files into a fleet host's private home and deploy there.
A host without bash is told apart from every other failure, in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.hosts.runner import BeginCut, Frame
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.hosts.transport import TransportError
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.rollback import run_rollback

TITLE = 'printf "\\033]0;%s@%s\\007" "$USER" "$(hostname)"\n'
CHATTY = (TITLE
          + "echo 'Welcome to the host!'\n"
          + "printf 'no newline on stderr' >&2\n"
          + "printf '\\033[1;32mcolour\\033[0m\\n'\n")
LATE = "( sleep 0.4; printf 'late-from-rc' ) &\n"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def write_rc(host: FleetHost, text: str, *names: str) -> None:
    for name in names or (".bashrc", ".bash_profile", ".profile"):
        path = host.path(f"/home/deployer/{name}")
        path.write_text(text)
        os.chown(path, host.fleet.uid, host.fleet.uid)


def load(fleet: Fleet, hosts: int = 2, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(hosts, **overrides)), "test.yml")


def transport(fleet: Fleet, host: int = 0) -> SSHTransport:
    config = load(fleet, host + 1)
    made = SSHTransport(config.projects["app"].environments["prod"].hosts[host], config.ssh)
    made.connect()
    return made


def test_the_begin_marker_is_found_wherever_a_read_splits_it():
    token = "0123456789abcdef"
    stream = (b"\x1b]0;deployer@h\x07banner\x1edeploytui-begin " + token.encode()
              + b"\nours\n\x1edeploytui-end " + token.encode() + b" 3\n")
    for at in range(len(stream) + 1):
        frame = Frame(token)
        kept = frame.feed(stream[:at]) + frame.feed(stream[at:])
        assert (kept, frame.done, frame.end.exit_code()) == (b"ours\n", True, 3), at
        assert frame.begin.preamble == b"\x1b]0;deployer@h\x07banner", at


def test_a_begin_marker_of_another_command_is_not_this_ones():
    cut = BeginCut("aaaaaaaaaaaaaaaa")
    assert cut.feed(b"\x1edeploytui-begin bbbbbbbbbbbbbbbb\nnot mine\n") == b""
    assert not cut.begun


def test_an_rc_file_that_prints_leaves_every_command_result_exact(hosts: Fleet):
    host = hosts.hosts[0]
    write_rc(host, CHATTY)
    assert "Welcome" in host.ssh("true").stdout  # OpenSSH's own login shows it is read
    made = transport(hosts)
    try:
        first = made.run("echo out; echo err >&2", capture=True, timeout=10)
        second = made.run("printf 'no newline'", capture=True, timeout=10)
        on_channel = made.run("cat; echo err2 >&2", stdin=b"in\n", capture=True, timeout=10)
        failed = made.run("echo bad >&2; exit 4", capture=True, timeout=10)
    finally:
        made.close()
    assert (first.exit_code, first.stdout, first.stderr) == (0, "out", "err")
    assert (second.stdout, second.stderr) == ("no newline", "")
    assert (on_channel.stdout, on_channel.stderr) == ("in", "err2")
    assert (failed.exit_code, failed.stderr, failed.last_line()) == (4, "bad", "bad")


def test_what_an_rc_file_starts_in_the_background_never_lands_in_a_later_command(
        hosts: Fleet):
    write_rc(hosts.hosts[0], LATE + TITLE, ".bashrc")
    made = transport(hosts)
    try:
        made.run("true", timeout=10)
        time.sleep(0.8)  # the rc file's job prints between two commands
        after = made.run("echo clean", capture=True, timeout=10)
    finally:
        made.close()
    assert (after.stdout, after.stderr) == ("clean", "")


@pytest.mark.parametrize("strategy", ["release", "pull"])
def test_deploy_lock_and_rollback_work_on_hosts_whose_rc_files_print(hosts: Fleet,
                                                                     strategy: str,
                                                                     tmp_path: Path):
    """Was: `h01: lock: lock: IndexError: list index out of range` in 0.4 s."""
    for host in hosts.hosts[:2]:
        write_rc(host, CHATTY)
    config = load(hosts, strategy=strategy)
    project = config.projects["app"]
    env = project.environments["prod"]
    first = run_deploy(config, DeployRequest(project, env, user="ann@laptop",
                                             release_id="20240101000001"), sink=Recorder())
    assert first.outcome == "success", first.error
    second = run_deploy(config, DeployRequest(project, env, user="ann@laptop",
                                              release_id="20240101000002"), sink=Recorder())
    assert second.outcome == "success", second.error
    if strategy == "release":  # (pull deployed one commit twice: nothing to go back to)
        back = run_rollback(config, "app", "prod", sink=Recorder(), user="ann@laptop")
        assert back.ok, back.error
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2, strategy=strategy))
    assert main(["--config", str(path), "lock", "app", "prod"]) == 0
    assert hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()
    assert main(["--config", str(path), "unlock", "app", "prod"]) == 0
    for host in hosts.hosts[:2]:
        assert not host.path("/srv/app/.deploytui/lock").exists()
        if strategy == "release":
            assert host.path("/srv/app/current").readlink().name == "20240101000001"


@contextlib.contextmanager
def without_bash(host: FleetHost) -> Iterator[None]:
    """This host only: the login shell is dash and bash is not there (not executable
    where PATH looks), as on a minimal image. Bind mounts in the host's own namespace."""
    passwd = host.root / "passwd-no-bash"
    passwd.write_text("".join(
        line.replace(":/bin/bash", ":/bin/sh") if line.startswith("deployer:") else line
        for line in Path("/etc/passwd").read_text().splitlines(keepends=True)))
    blank = host.root / "not-bash"
    blank.write_text("")
    blank.chmod(0o644)
    done = host.run_inside(f"mount --bind {passwd} /etc/passwd &&"
                           f" mount --bind {blank} /usr/bin/bash")
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        host.run_inside("umount /usr/bin/bash; umount /etc/passwd")


def test_a_host_without_bash_is_one_line_naming_the_host_and_bash(hosts: Fleet):
    host = hosts.hosts[0]
    with without_bash(host):
        assert "bash" in host.ssh("exec bash -c true").stderr  # what users met before
        made = transport(hosts)
        try:
            with pytest.raises(TransportError) as caught:
                made.run("echo hi", timeout=10)
            with pytest.raises(TransportError) as on_channel:
                made.run("cat", stdin=b"x", timeout=10)
        finally:
            made.close()
        config = load(hosts, 2)
        project = config.projects["app"]
        result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                                  user="ann@laptop"), sink=Recorder())
    message = str(caught.value)
    assert message.startswith("host1: bash is required on the host and was not found (PATH=")
    assert "install bash" in message and "\n" not in message
    assert str(on_channel.value) == message
    assert result.outcome == "failed"
    assert "host1: lock: bash is required on the host" in result.error
