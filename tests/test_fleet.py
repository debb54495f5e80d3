"""What the test fleet promises, checked with the plain OpenSSH client.

The engine's tests stand on these facts: each host is its own machine as far as SSH,
hostname and the deploy directory go; strict host-key checking works from the generated
known_hosts; sudo answers fast; faults (kill, freeze, markers) behave like real ones.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fleet import Fleet, FleetHost

from deploytui.sample_app import add_commit, create_sample_repo


def test_every_host_answers_with_its_own_hostname(hosts: Fleet) -> None:
    assert len(hosts.hosts) == 10
    assert len({h.address for h in hosts.hosts}) == 10
    for host in hosts.hosts:
        result = host.ssh("hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == host.name


def test_a_file_written_to_srv_app_on_one_host_is_not_on_another(hosts: Fleet) -> None:
    one, two = hosts.hosts[:2]
    assert one.ssh("echo from-one > /srv/app/note && echo tmp > /tmp/note").returncode == 0
    assert two.ssh("test -e /srv/app/note || test -e /tmp/note").returncode == 1
    assert one.path("/srv/app/note").read_text() == "from-one\n"
    assert one.path("/tmp/note").read_text() == "tmp\n"
    assert not two.path("/srv/app/note").exists()


def test_login_is_deployer_with_a_private_home_and_a_quiet_environment(hosts: Fleet) -> None:
    host = hosts.hosts[0]
    result = host.ssh('id -un; echo "$HOME"; pwd; echo "$PATH"; ls -A ~')
    user, home, cwd, path, *files = result.stdout.splitlines()
    assert (user, home, cwd) == ("deployer", "/home/deployer", "/home/deployer")
    assert "/usr/bin" in path.split(":")
    assert sorted(files) == [".gitconfig", ".ssh"]  # no rc files slowing every command


def test_generated_known_hosts_passes_strict_checking_and_a_wrong_key_is_refused(
        hosts: Fleet, tmp_path: Path) -> None:
    host = hosts.hosts[0]
    line = next(ln for ln in hosts.known_hosts.read_text().splitlines()
                if ln.startswith(f"[{host.address}]:{host.port} "))
    assert line.split()[1] == "ssh-ed25519"
    assert host.ssh("true").returncode == 0

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    unknown = host.ssh("true", f"UserKnownHostsFile={empty}")
    assert unknown.returncode == 255
    assert "Host key verification failed" in unknown.stderr

    other_line = next(ln for ln in hosts.known_hosts.read_text().splitlines()
                      if ln.startswith(f"[{hosts.hosts[1].address}]:"))
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[{host.address}]:{host.port} {other_line.split(' ', 1)[1]}\n")  # host2's
    changed = host.ssh("true", f"UserKnownHostsFile={wrong}")
    assert changed.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in changed.stderr


def test_sudo_with_the_fleet_password_works_and_resolves_without_dns(hosts: Fleet) -> None:
    host = hosts.hosts[2]
    assert host.ssh("sudo -n true").returncode != 0  # a password really is required
    result = host.ssh("sudo -S -p '' sh -c 'id -un; hostname'", input=hosts.sudo_password + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["root", host.name]
    assert "unable to resolve host" not in result.stderr
    # sudo resolves the host's own name; found in its private /etc/hosts, no DNS query
    # (a multi-second stall) is made. Checked by cause, not by a time a loaded box breaks.
    assert host.ssh(f"getent hosts {host.name}").stdout.split() == [host.address, host.name]


def test_killed_host_refuses_connections_and_drops_sessions_until_restarted(
        hosts: Fleet) -> None:
    host = hosts.hosts[3]
    session = subprocess.Popen(host.ssh_argv("echo started; sleep 30"), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert session.stdout is not None
    assert session.stdout.readline() == "started\n"

    host.kill()
    assert session.wait(timeout=5) == 255  # the open session dropped at once
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host.address, host.port), timeout=2).close()
    refused = host.ssh("true")
    assert refused.returncode == 255
    assert "Connection refused" in refused.stderr

    host.restart()
    assert host.ssh("hostname").stdout.strip() == host.name


def test_frozen_host_accepts_tcp_but_sends_no_banner_until_thawed(hosts: Fleet) -> None:
    host = hosts.hosts[4]
    host.ssh("echo before > /srv/app/state")
    host.freeze()
    try:
        with socket.create_connection((host.address, host.port), timeout=2) as sock:
            sock.settimeout(1.0)
            with pytest.raises(TimeoutError):
                sock.recv(64)  # the kernel completed the handshake; sshd says nothing
        began = time.monotonic()
        stalled = host.ssh("true", "ConnectTimeout=2")
        assert stalled.returncode == 255
        assert "timed out" in stalled.stderr
        assert 1.5 < time.monotonic() - began < 10
        assert host.path("/srv/app/state").read_text() == "before\n"  # still inspectable
    finally:
        host.thaw()
    assert host.ssh("hostname").stdout.strip() == host.name


def test_ten_hosts_start_in_a_few_seconds_and_stop_leaves_nothing(fleet: Fleet) -> None:
    began = time.monotonic()
    extra = Fleet.start(10)
    elapsed = time.monotonic() - began
    print(f"\n10 hosts up (SSH banner on every port) in {elapsed:.2f}s")
    try:
        assert elapsed < 30  # sanity bound only; the speed is a benchmark's business
        assert extra.slot != fleet.slot
        assert not {h.address for h in extra.hosts} & {h.address for h in fleet.hosts}
        assert extra.hosts[9].ssh("hostname").stdout.strip() == "host10"
        pids = [h._proc.pid for h in extra.hosts if h._proc is not None]
    finally:
        extra.stop()
    assert not extra.root.exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}/ns").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((extra.hosts[0].address, extra.hosts[0].port), timeout=2)


def test_processes_lists_what_runs_on_that_host_only(hosts: Fleet) -> None:
    one, two = hosts.hosts[5:7]
    session = subprocess.Popen(one.ssh_argv("exec sleep 37"), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "sleep 37" not in one.processes():
            assert time.monotonic() < deadline, one.processes()
            time.sleep(0.05)
        assert "sleep 37" not in two.processes()
        # Why not pgrep inside a host: hosts share the machine's PID namespace.
        assert two.run_inside("pgrep -fx 'sleep 37'").stdout.strip() != ""
    finally:
        session.kill()
        session.wait()


def test_connections_counts_logins_per_host(hosts: Fleet) -> None:
    one, two = hosts.hosts[5:7]
    assert one.connections() == 0
    for _ in range(3):
        assert one.ssh("true").returncode == 0
    assert one.connections() == 3
    assert two.connections() == 0
    assert "Accepted publickey for deployer" in one.sshd_log()


def test_reset_wipes_the_host_and_repairs_faults_fast(hosts: Fleet) -> None:
    host, frozen, killed = hosts.hosts[7], hosts.hosts[8], hosts.hosts[9]
    assert host.ssh("mkdir -p /srv/app/releases/1 && touch /tmp/x ~/restarts.log ~/.cache"
                    " && echo done").stdout == "done\n"
    host.set_marker("fail-build")
    straggler = subprocess.Popen(host.ssh_argv("echo started; sleep 30"),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
    assert straggler.stdout is not None and straggler.stdout.readline() == "started\n"
    frozen.freeze()
    killed.kill()

    began = time.monotonic()
    hosts.reset()
    elapsed = time.monotonic() - began
    print(f"\nreset of 10 hosts (one killed, one frozen): {elapsed:.3f}s")

    assert straggler.wait(timeout=5) == 255  # a stray session cannot write after the wipe
    assert list(host.path("/srv/app").iterdir()) == []
    assert list(host.path("/tmp").iterdir()) == []
    assert sorted(p.name for p in host.path("/home/deployer").iterdir()) == [
        ".gitconfig", ".ssh"]
    assert host.connections() == 0
    for each in (host, frozen, killed):
        assert each.ssh("hostname").stdout.strip() == each.name

    began = time.monotonic()
    hosts.reset()
    print(f"reset of 10 healthy hosts: {time.monotonic() - began:.3f}s")


def test_sample_app_clones_on_a_host_and_markers_break_only_that_host(hosts: Fleet) -> None:
    good, bad, slow = hosts.hosts[:3]
    bad.set_marker("fail-build")
    slow.set_marker("slow-build", "1")
    build = (f"git clone -q {hosts.repo_url} /srv/app/build && cd /srv/app/build"
             " && sh build.sh && sh restart.sh")

    ok = good.ssh(build)
    assert ok.returncode == 0, ok.stderr
    assert "Build complete" in ok.stdout
    assert good.path("/home/deployer/restarts.log").read_text() == "restarted build\n"

    failed = bad.ssh(build)
    assert failed.returncode == 1
    assert "build failed: marker present" in failed.stderr
    assert not bad.path("/home/deployer/restarts.log").exists()

    began = time.monotonic()
    assert slow.ssh(build).returncode == 0
    assert time.monotonic() - began >= 1.0

    bad.clear_markers()
    assert bad.ssh("cd /srv/app/build && sh build.sh").returncode == 0


def test_run_inside_sees_the_host_as_root(hosts: Fleet) -> None:
    host = hosts.hosts[1]
    result = host.run_inside("id -un; hostname; grep -c . /etc/hosts; stat -c %U /srv/app")
    assert result.stdout.split() == ["root", host.name, "3", "deployer"]
    assert host.path("/etc/hosts").read_text().split("\n")[1].split() == [host.address,
                                                                          host.name]
    with pytest.raises(ValueError):
        host.path("/etc/passwd")


def test_config_describes_a_release_deploy_of_the_sample_repo(hosts: Fleet,
                                                              tmp_path: Path) -> None:
    data = hosts.config(2, project="shop", env="staging", keep_releases=3)
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    loaded = yaml.safe_load(path.read_text())
    assert loaded == data
    assert loaded["ssh"]["known_hosts"] == str(hosts.known_hosts)
    assert Path(loaded["ssh"]["config"]).read_text() == ""
    shop = loaded["projects"]["shop"]
    assert (shop["repo"], shop["deploy_to"], shop["strategy"], shop["keep_releases"]) == (
        hosts.repo_url, "/srv/app", "release", 3)
    assert shop["environments"]["staging"]["hosts"]["host2"] == {
        "address": hosts.hosts[1].address, "port": hosts.hosts[1].port, "user": "deployer",
        "roles": ["web"]}
    chosen = hosts.config([hosts.hosts[4]])["projects"]["app"]["environments"]["prod"]["hosts"]
    assert list(chosen) == ["host5"]


def test_sample_repo_has_three_human_commits_on_main(tmp_path: Path) -> None:
    repo = create_sample_repo(tmp_path / "sample")
    assert create_sample_repo(repo) == repo  # idempotent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True,
                              capture_output=True, text=True).stdout

    assert git("branch", "--show-current").strip() == "main"
    assert git("log", "--format=%s").splitlines() == [
        "Show version on the home page", "Add health endpoint", "Initial sample app"]
    assert "100755" in git("ls-files", "-s", "build.sh", "restart.sh")
    sha = add_commit(repo, "Release 2.0", {"VERSION": "2.0.0\n"})
    assert git("rev-parse", "HEAD").strip() == sha
    assert (repo / "VERSION").read_text() == "2.0.0\n"
    assert git("status", "--porcelain") == ""


# -- faults stay on the host they were injected into ------------------------------------
# The kernel hands a new namespace the lowest free number, so the number of a namespace
# whose processes all died is at once given to the next namespace created on the machine:
# another host's, in this fleet, the other xdist worker's, or another session's.

def churn(fleet: Fleet, churners: list[FleetHost], seconds: float) -> tuple[int, list[str]]:
    """Kill and restart `churners` in rounds for `seconds` (two rounds at least, however
    loaded the machine); return the rounds done and every host of `fleet` whose sshd
    died without being killed by this loop."""
    expected = {h.name: h.pid for h in fleet.hosts}
    problems: list[str] = []
    rounds = 0
    deadline = time.monotonic() + seconds
    while (rounds < 2 or time.monotonic() < deadline) and not problems:
        for host in churners:
            host.kill()
        for host in reversed(churners):  # so one reuses a number another just freed
            try:
                host.restart()
            except RuntimeError as error:
                problems.append(f"restart: {error}")
            expected[host.name] = host.pid
        problems += [f"{h.name}: sshd {expected[h.name]} was killed by someone else"
                     for h in fleet.hosts if not h.running or h.pid != expected[h.name]]
        rounds += 1
    return rounds, problems


CHURN_ELSEWHERE = """
import json, sys
from fleet import Fleet
from test_fleet import churn
fleet = Fleet.start(4)
print("ready", flush=True)
try:
    print(json.dumps(churn(fleet, fleet.hosts[:3], float(sys.argv[1]))))
finally:
    fleet.stop()
"""


def test_hosts_restarted_over_and_over_in_two_fleets_never_kill_each_other(
        hosts: Fleet) -> None:
    elsewhere = subprocess.Popen(  # stands for the other xdist worker, in its own slot
        [sys.executable, "-c", CHURN_ELSEWHERE, "5"], cwd=Path(__file__).parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert elsewhere.stdout is not None
    assert elsewhere.stdout.readline() == "ready\n", elsewhere.communicate()[1]

    rounds, problems = churn(hosts, hosts.hosts[:4], 5)

    out, err = elsewhere.communicate(timeout=30)
    assert elsewhere.returncode == 0, err
    their_rounds, their_problems = json.loads(out)
    print(f"\nrounds of kill+restart: {rounds} here, {their_rounds} in the other fleet")
    assert (problems, their_problems) == ([], [])


STALE_FLEET = """
import os, subprocess, sys, time
from fleet import _kill_stale_fleet, _mnt_ns
root = sys.argv[1]
log = f"{root}/hosts/host1/sshd.log"
quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # bounded lives:
left_behind = subprocess.Popen(["unshare", "--mount", "--", "timeout", "20", "tail", "-f", log],
                               **quiet)
watching = subprocess.Popen(["timeout", "20", "tail", "-f", log], start_new_session=True,
                            **quiet)  # a developer's tail, in a group of its own
deadline = time.monotonic() + 10
def settled():  # in its namespace AND exec'd: a process caught mid-exec is a race
    with open(f"/proc/{left_behind.pid}/cmdline", "rb") as cmdline:
        return (_mnt_ns(left_behind.pid) not in (None, _mnt_ns(os.getpid()))
                and cmdline.read().startswith(b"timeout\\0"))
while not settled():
    assert time.monotonic() < deadline, "unshare did not make a namespace"
    time.sleep(0.01)
_kill_stale_fleet(root)
print(left_behind.wait(timeout=5), watching.poll(), os.path.exists(root))
os.killpg(watching.pid, 9)  # timeout and its tail: killing timeout alone orphans tail
"""


def test_a_crashed_sessions_hosts_are_killed_but_nothing_else_naming_its_files(
        tmp_path: Path) -> None:
    root = tmp_path / "deploytui-fleet-crashed"
    (root / "hosts" / "host1").mkdir(parents=True)
    (root / "hosts" / "host1" / "sshd.log").write_text("")
    # In a namespace of its own, so a regression kills that sandbox, not the machine.
    sandbox = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--",
         sys.executable, "-c", STALE_FLEET, str(root)],
        cwd=Path(__file__).parent, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert sandbox.returncode == 0, f"the sweep killed its own caller: {sandbox.stderr}"
    assert sandbox.stdout.split() == ["-9", "None", "False"]
