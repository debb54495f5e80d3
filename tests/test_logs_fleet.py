"""`deploytui logs` against the real sshd fleet: last lines, follow, rotation, a host that
dies and comes back, Ctrl-C, --grep, selection, logs_command.

Log files are written from outside the hosts (`FleetHost.path`): the same inode a
host's `tail` sees, so appends, `mv` rotations and truncations are what a real app and
logrotate do.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fleet import Fleet
from log_hosts import LOG, eventually, tails_on, write_log

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.engine.events import LogFollow, Recorder
from deploytui.engine.operations.logs import LogsRequest, show_logs

ROOT = Path(__file__).resolve().parents[1]
def config_with(hosts: Fleet, tmp_path: Path, n: int = 2, **role: object) -> Path:
    roles = {"web": {"restart": ["true"], **(role or {"logs": [LOG]})}}
    return hosts.write_config(tmp_path / "deploytui.yml", hosts.config(n, roles=roles))


class Follow:
    """`deploytui logs ... -f` as a process; its stdout lines collected by a thread."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploytui", "--config", str(config), "logs", "app", "prod",
             "-f", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._new.put(line.rstrip("\n"))

    def wait_for(self, *wanted: str, timeout: float = 20.0) -> list[str]:
        """Until every `wanted` line was printed; all lines so far."""
        return self.wait_until(lambda lines: set(wanted) <= set(lines), timeout,
                               f"never printed {set(wanted)}")

    def wait_until(self, check, timeout: float = 20.0, what: str = "") -> list[str]:
        """Until `check(lines so far)`; all lines so far."""
        deadline = time.monotonic() + timeout
        while not check(self.lines):
            try:
                self.lines.append(self._new.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"{what or 'timed out'}; printed {self.lines}") from None
        return self.lines

    def stop(self) -> tuple[int, str]:
        """Ctrl-C; (exit status, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def follow():
    started: list[Follow] = []

    def start(config: Path, *args: str) -> Follow:
        started.append(Follow(config, *args))
        return started[-1]

    yield start
    for f in started:
        f.kill()


def test_the_last_n_lines_of_two_hosts_each_prefixed_by_its_host(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = config_with(hosts, tmp_path)
    for host in hosts.hosts[:2]:
        write_log(host, [f"{host.name} line {i}" for i in range(1, 21)])
    assert main(["--config", str(config), "logs", "app", "prod", "-n", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(f"[{h}] {h} line {i}" for h in ("host1", "host2")
                                 for i in (18, 19, 20))
    host1 = [ln for ln in out if ln.startswith("[host1]")]
    assert host1 == [f"[host1] host1 line {i}" for i in (18, 19, 20)]  # in order


def test_ten_lines_by_default_and_relative_paths_are_read_below_current(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = config_with(hosts, tmp_path, 1, logs=["log/*.log"])
    host = hosts.hosts[0]
    release = host.path("/srv/app/releases/1")
    (release / "log").mkdir(parents=True)
    (release / "log" / "app.log").write_text("".join(f"a{i}\n" for i in range(30)))
    host.path("/srv/app/current").symlink_to("/srv/app/releases/1")
    assert main(["--config", str(config), "logs", "app", "prod"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"[host1] a{i}" for i in range(20, 30)]


def test_follow_prints_new_lines_and_keeps_following_across_rotation(
        hosts: Fleet, tmp_path: Path, follow):
    config = config_with(hosts, tmp_path, 2)
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["old 1", "old 2"])
    write_log(h2, ["other old"])
    f = follow(config, "-n", "1")
    f.wait_for("[host1] old 2", "[host2] other old")
    write_log(h1, ["new 1"])
    f.wait_for("[host1] new 1")
    rotated = h1.path(LOG)
    rotated.rename(rotated.with_name("app.log.1"))  # logrotate's default: mv, then a new file
    write_log(h1, ["after rotation 1"], mode="w")
    write_log(h1, ["after rotation 2"])
    write_log(h2, ["host2 still here"])
    lines = f.wait_for("[host1] after rotation 1", "[host1] after rotation 2",
                       "[host2] host2 still here")
    assert "[host1] old 1" not in lines  # -n 1
    assert lines.count("[host1] new 1") == 1
    code, err = f.stop()
    assert code == 0 and "Traceback" not in err


def test_ctrl_c_exits_0_and_leaves_no_tail_running_on_the_hosts(
        hosts: Fleet, tmp_path: Path, follow):
    config = config_with(hosts, tmp_path, 2)
    for host in hosts.hosts[:2]:
        write_log(host, [f"{host.name} ready"])
    f = follow(config)
    f.wait_for("[host1] host1 ready", "[host2] host2 ready")  # the backlog; then the tails
    assert eventually(lambda: all(tails_on(h) for h in hosts.hosts[:2]))  # what must go
    code, err = f.stop()
    assert code == 0, err
    assert "Traceback" not in err and "cancelled" not in err
    assert eventually(lambda: not any(tails_on(h) for h in hosts.hosts[:2]))


def test_a_host_killed_and_restarted_mid_follow_is_said_once_and_followed_again(
        hosts: Fleet, tmp_path: Path, follow):
    config = config_with(hosts, tmp_path, 2)
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["h1 before"])
    write_log(h2, ["h2 before"])
    f = follow(config, "-n", "5")
    f.wait_for("[host1] h1 before", "[host2] h2 before")
    h2.kill()
    f.wait_for("[host2] lost connection; retrying")
    write_log(h1, ["h1 while host2 is down"])
    write_log(h2, ["h2 written while unreachable"])  # the app kept writing: shown later
    f.wait_for("[host1] h1 while host2 is down")
    time.sleep(2.5)  # a few reconnect attempts fail meanwhile: still said once
    h2.restart()
    f.wait_for("[host2] back; following again", "[host2] h2 written while unreachable",
               timeout=30)
    write_log(h2, ["h2 after restart"])
    lines = f.wait_for("[host2] h2 after restart")
    assert lines.count("[host2] lost connection; retrying") == 1
    assert lines.count("[host2] back; following again") == 1
    assert lines.count("[host2] h2 before") == 1  # the backlog read again is not repeated
    code, _ = f.stop()
    assert code == 0


def test_grep_shows_only_matching_lines_filtered_on_the_host(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str], follow):
    config = config_with(hosts, tmp_path, 1)
    host = hosts.hosts[0]
    write_log(host, ["GET /a 200", "GET /b 500", "POST /c 502", "it's (odd) $HOME `x`"])
    assert main(["--config", str(config), "logs", "app", "prod", "--grep", " 5[0-9]{2}$"]) == 0
    assert capsys.readouterr().out.splitlines() == ["[host1] GET /b 500", "[host1] POST /c 502"]
    # a pattern with quotes and shell characters is data, not code
    odd = "'s \\(odd\\) \\$HOME `"
    assert main(["--config", str(config), "logs", "app", "prod", "--grep", odd]) == 0
    assert capsys.readouterr().out.splitlines() == ["[host1] it's (odd) $HOME `x`"]
    write_log(host, ["ERROR ready", "INFO not shown"])
    f = follow(config, "-n", "2", "--grep", "ERROR")
    f.wait_for("[host1] ERROR ready")
    write_log(host, ["INFO fine", "ERROR boom", "INFO fine again", "ERROR bang"])
    lines = f.wait_for("[host1] ERROR boom", "[host1] ERROR bang")
    assert not any("INFO" in ln for ln in lines)
    assert f.stop()[0] == 0


def test_host_and_role_choose_the_hosts_and_the_logs_shown(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = hosts.config(3, roles={"web": {"logs": ["/srv/app/web.log"]},
                                  "worker": {"logs": ["/srv/app/worker.log"]}})
    env_hosts = data["projects"]["app"]["environments"]["prod"]["hosts"]
    env_hosts["host1"]["roles"] = ["web"]
    env_hosts["host2"]["roles"] = ["web", "worker"]
    env_hosts["host3"]["roles"] = ["worker"]
    config = hosts.write_config(tmp_path / "deploytui.yml", data)
    for host in hosts.hosts[:3]:
        write_log(host, [f"web on {host.name}"], "/srv/app/web.log")
        write_log(host, [f"worker on {host.name}"], "/srv/app/worker.log")

    def shown(*args: str) -> list[str]:
        assert main(["--config", str(config), "logs", "app", "prod", *args]) == 0
        return sorted(capsys.readouterr().out.splitlines())

    assert shown("--role", "worker") == ["[host2] worker on host2", "[host3] worker on host3"]
    assert shown("--host", "host1,host2") == ["[host1] web on host1", "[host2] web on host2",
                                              "[host2] worker on host2"]
    assert shown("--host", "host2", "--role", "web") == ["[host2] web on host2"]


def test_a_role_with_logs_command_runs_it_in_current_with_the_lines_wanted(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str], follow):
    command = ('echo "from $(pwd)"; seq 1 50 | tail -n "$DEPLOYTUI_LOG_LINES"; '
               '[ -z "$DEPLOYTUI_LOG_FOLLOW" ] || exec tail -F -n 0 /srv/app/events.log')
    config = config_with(hosts, tmp_path, 1, logs_command=command)
    host = hosts.hosts[0]
    host.path("/srv/app/releases/1").mkdir(parents=True)
    host.path("/srv/app/current").symlink_to("/srv/app/releases/1")
    assert main(["--config", str(config), "logs", "app", "prod", "-n", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["[host1] 49", "[host1] 50"]
    f = follow(config, "-n", "3")
    f.wait_for("[host1] from /srv/app/current", "[host1] 48", "[host1] 50")
    time.sleep(1.0)  # the command's own `tail -F -n 0` starts after its `seq`
    write_log(host, ["an event"], "/srv/app/events.log")
    f.wait_for("[host1] an event")
    assert f.stop()[0] == 0
    assert eventually(lambda: not [p for p in host.processes() if "tail -F" in p])


def test_an_unreachable_host_is_named_and_exits_1_while_the_others_are_shown(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = config_with(hosts, tmp_path, 2)
    write_log(hosts.hosts[0], ["alive"])
    hosts.hosts[1].kill()
    assert main(["--config", str(config), "logs", "app", "prod"]) == 1
    out, err = capsys.readouterr()
    assert "[host1] alive" in out.splitlines()
    assert any(ln.startswith("[host2] could not show logs: ") for ln in out.splitlines())
    assert err.startswith("deploytui: host2: ") and "Traceback" not in err


def test_following_gives_up_on_a_host_whose_key_is_unknown_and_keeps_the_others(
        hosts: Fleet, tmp_path: Path):
    """A retry cannot mend an unknown host key: said once, the other hosts followed on."""
    data = hosts.config(2, roles={"web": {"restart": ["true"], "logs": [LOG]}})
    known = tmp_path / "known_hosts"
    known.write_text("".join(ln for ln in hosts.known_hosts.read_text().splitlines(True)
                             if hosts.hosts[1].address not in ln))
    data["ssh"]["known_hosts"] = str(known)
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    write_log(hosts.hosts[0], ["still followed"])
    recorder, cancel = Recorder(), threading.Event()
    request = LogsRequest(project, project.environments["prod"], follow=True)
    thread = threading.Thread(target=show_logs, args=(config, request),
                              kwargs={"sink": recorder, "cancel": cancel})
    thread.start()
    try:
        assert eventually(lambda: recorder.of(LogFollow) and any(
            e.state == "failed" for e in recorder.of(LogFollow)), timeout=20)
        assert eventually(lambda: "still followed" in [e.line for e in recorder.lines()])
        write_log(hosts.hosts[0], ["and then this"])
        assert eventually(lambda: "and then this" in [e.line for e in recorder.lines()])
    finally:
        cancel.set()
        thread.join(20)
    failed = [e for e in recorder.of(LogFollow) if e.state == "failed"]
    assert [(e.host, e.text.split(":")[0]) for e in failed] == [("host2", "could not show logs")]
    assert "unknown host key" in failed[0].text


FAKE_JOURNALCTL = """#!/bin/bash
# prints the arguments it was given, then (with -f) follows a file like journalctl -f
echo "args: $*"
for a in "$@"; do [ "$a" = -f ] && exec tail -F -n 0 /srv/app/journal; done
"""


def test_journalctl_is_asked_for_the_lines_follow_and_since_wanted(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str], follow):
    """A journalctl on the host (a script named so, printing what it was asked)."""
    host = hosts.hosts[0]
    fake = host.path("/home/deployer/bin/journalctl")
    fake.parent.mkdir()
    fake.write_text(FAKE_JOURNALCTL)
    fake.chmod(0o755)
    config = config_with(hosts, tmp_path, 1,
                         logs_command="/home/deployer/bin/journalctl -u shop -o cat")
    assert main(["--config", str(config), "logs", "app", "prod", "-n", "7",
                 "--since", "2h"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["[host1] args: -u shop -o cat --no-pager -n 7 --since=-7200s"]
    assert err == ""  # no file: nothing to say about --since
    write_log(host, [], "/srv/app/journal")
    f = follow(config, "-n", "3")
    f.wait_for("[host1] args: -u shop -o cat --no-pager -n 3 -f")
    time.sleep(1.0)  # its tail starts after the echo
    write_log(host, ["uwsgi: worker 3 respawned"], "/srv/app/journal")
    f.wait_for("[host1] uwsgi: worker 3 respawned")
    assert f.stop()[0] == 0
    assert eventually(lambda: not tails_on(host))


def test_since_shows_no_past_lines_of_a_file_not_modified_within_it_and_says_why(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = config_with(hosts, tmp_path, 1, logs=["/srv/app/fresh.log", "/srv/app/stale.log"])
    host = hosts.hosts[0]
    write_log(host, ["fresh line"], "/srv/app/fresh.log")
    write_log(host, ["stale line"], "/srv/app/stale.log")
    two_hours_ago = time.time() - 7200
    os.utime(host.path("/srv/app/stale.log"), (two_hours_ago, two_hours_ago))
    assert main(["--config", str(config), "logs", "app", "prod", "--since", "10m"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["[host1] fresh line"]
    assert "files carry no timestamps" in err
    assert main(["--config", str(config), "logs", "app", "prod", "--since", "3h"]) == 0
    assert capsys.readouterr().out.splitlines() == ["[host1] fresh line", "[host1] stale line"]


def test_a_frozen_host_is_said_lost_once_and_followed_again_when_it_thaws(
        hosts: Fleet, tmp_path: Path, follow):
    """A hung host (every process stopped: no reset, no FIN) is noticed by liveness."""
    config = config_with(hosts, tmp_path, 2)
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["h1 up"])
    write_log(h2, ["h2 up"])
    f = follow(config)
    f.wait_for("[host1] h1 up", "[host2] h2 up")
    h2.freeze()
    f.wait_until(lambda lines: any(ln.startswith("[host2] lost connection") for ln in lines),
                 30, "host2 never said lost")
    write_log(h2, ["h2 written while frozen"])
    h2.thaw()
    lines = f.wait_for("[host2] back; following again", "[host2] h2 written while frozen",
                       timeout=40)
    assert sum(ln.startswith("[host2] lost connection") for ln in lines) == 1
    assert lines.count("[host2] h2 up") == 1
    assert f.stop()[0] == 0


def test_the_projects_secrets_are_masked_when_an_app_logs_them(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_SECRET_DB_PASSWORD", "s3cr3t-db-pw")
    data = hosts.config(1, roles={"web": {"restart": ["true"], "logs": [LOG]}})
    data["projects"]["app"]["env"] = {"DB_PASSWORD": {"secret": "db-password"}}
    config = hosts.write_config(tmp_path / "deploytui.yml", data)
    write_log(hosts.hosts[0], ["connecting to postgres://app:s3cr3t-db-pw@db/app"])
    assert main(["--config", str(config), "logs", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["[host1] connecting to postgres://app:****@db/app"]
