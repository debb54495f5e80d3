"""`ship: relay` on the real sshd fleet: the artifact leaves the deploying process about
once, the hosts pass it on among themselves, and every way a peer can fail ends in a
direct upload for the host that needed it (said in its log), never in bad bytes
unpacked and never in a server left running on any host."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost, FleetUnavailable

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import HostLine, HostStepDone, Recorder
from deploytui.engine.hosts.ssh import uploaded_bytes
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy
from deploytui.engine.remote.peer_copy import serve_command

APP = "/srv/app"
HOSTS = 8
BLOB = 3_000_000  # random bytes in the artifact: gzip cannot shrink them
RELAY = "deploytui artifact relay"  # what every relay process's command line holds


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def config_data(fleet: Fleet, n: int = HOSTS, blob: int = BLOB, **overrides) -> dict:
    return fleet.config(n, strategy="artifact",
                        build=[f"head -c {blob} /dev/urandom > blob.bin"], **overrides)


def load(data: dict) -> Config:
    return load_config_text(json.dumps(data), "test.yml")


def deploy(config: Config, sink=None, cancel=None) -> tuple[DeployResult, Recorder]:
    recorder = Recorder()

    def both(event):
        recorder(event)
        if sink is not None:
            sink(event)

    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop")
    return run_deploy(config, request, sink=both, cancel=cancel), recorder


def info(recorder: Recorder, host: str) -> list[str]:
    return [e.line for e in recorder.events
            if isinstance(e, HostLine) and e.host == host and e.stream == "info"]


def relay_processes(hosts: list[FleetHost]) -> dict[str, list[str]]:
    found = {}
    for host in hosts:
        mine = [p for p in host.processes() if RELAY in p]
        if mine:
            found[host.name] = mine
    return found


def nothing_left_running(hosts: list[FleetHost], within: float = 10.0) -> dict:
    """Relay processes still on the hosts after `within` seconds (empty: none)."""
    deadline = time.monotonic() + within
    while (left := relay_processes(hosts)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def served_blob(host: FleetHost) -> bytes:
    link = host.path(f"{APP}/current")
    if not link.is_symlink():
        return b""
    return host.path(f"{APP}/releases/{link.readlink().name}/blob.bin").read_bytes()


def leftovers(host: FleetHost) -> list[str]:
    releases = host.path(f"{APP}/releases")
    return sorted(str(p) for p in releases.glob("*/.deploytui-artifact*")) \
        if releases.exists() else []


def test_a_relay_deploy_sends_the_artifact_about_once_and_every_host_gets_it(hosts: Fleet):
    config = load(config_data(hosts))
    before = uploaded_bytes()
    result, recorder = deploy(config)
    sent = uploaded_bytes() - before
    assert result.outcome == "success", result.error
    fleet = hosts.hosts[:HOSTS]
    blobs = {served_blob(h) for h in fleet}
    assert len(blobs) == 1 and len(next(iter(blobs))) == BLOB
    assert sent <= 2 * BLOB * 1.01, f"sent {sent} bytes for a {BLOB}-byte artifact"
    fetched = [h.name for h in fleet if any(ln.startswith("artifact from host")
                                            for ln in info(recorder, h.name))]
    assert len(fetched) >= HOSTS - 2
    assert any("got it from a peer" in ln for ln in info(recorder, "local"))
    assert not nothing_left_running(fleet)
    assert all(not leftovers(h) for h in fleet)


def test_ship_direct_uploads_to_every_host_from_here(hosts: Fleet):
    config = load(config_data(hosts, n=3, ship="direct"))
    before = uploaded_bytes()
    result, recorder = deploy(config)
    assert result.outcome == "success", result.error
    assert uploaded_bytes() - before >= 3 * BLOB
    assert not any("artifact from" in ln for h in hosts.hosts[:3] for ln in info(recorder, h.name))


def test_a_serving_host_sends_nothing_without_the_token_and_ends_with_its_channel(
        hosts: Fleet):
    host = hosts.hosts[0]
    payload = os.urandom(100_000)
    host.path("/tmp/artifact").write_bytes(payload)
    token = "a-one-time-token"
    proc = subprocess.Popen(host.ssh_argv(serve_command("/tmp/artifact", host.address, 0,
                                                       60, 5, len(payload))),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(token + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line.startswith("serving "), line
        port = int(line.split()[1])

        def fetch(sent: str) -> bytes:
            with socket.create_connection((host.address, port), timeout=5) as s:
                s.sendall(sent.encode() + b"\n")
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
                return got

        assert fetch("") == b""
        assert fetch("a-one-time-tokeX") == b""
        assert fetch(token) == payload
        assert relay_processes([host])
    finally:
        proc.stdin.close()  # the channel's input ends: the server ends
        proc.wait(timeout=10)
    assert not nothing_left_running([host])


def test_hosts_that_cannot_reach_their_peer_fall_back_to_a_direct_upload_and_say_so(
        hosts: Fleet):
    # each host serves at "relay-<name>", which its own /etc/hosts names but every other
    # host's /etc/hosts points at an address where nothing listens (split DNS)
    fleet = hosts.hosts[:4]
    nowhere = hosts.hosts[0].address.rsplit(".", 1)[0] + ".250"
    saved = {h.name: h.path("/etc/hosts").read_text() for h in fleet}
    data = config_data(hosts, n=4)
    try:
        for h in fleet:
            names = "".join(f"{o.address if o is h else nowhere}\trelay-{o.name}\n"
                            for o in fleet)
            h.path("/etc/hosts").write_text(saved[h.name] + names)
            data["projects"]["app"]["environments"]["prod"]["hosts"][h.name][
                "relay_address"] = f"relay-{h.name}"
        result, recorder = deploy(load(data))
    finally:
        for h in fleet:
            h.path("/etc/hosts").write_text(saved[h.name])
    assert result.outcome == "success", result.error
    fell_back = [ln for h in fleet for ln in info(recorder, h.name)
                 if ln.startswith("artifact: could not get it from host")]
    assert fell_back, [info(recorder, h.name) for h in fleet]
    assert all(" (relay-host" in ln and "connection refused" in ln
               and ln.endswith(("; trying another host", "; uploading it directly"))
               for ln in fell_back), fell_back
    assert any(ln.endswith("; uploading it directly") for ln in fell_back)
    assert len({served_blob(h) for h in fleet}) == 1
    assert not nothing_left_running(fleet)


def test_a_peer_frozen_while_serving_makes_its_fetchers_fall_back_within_bounds(
        hosts: Fleet):
    fleet = hosts.hosts[:4]
    frozen: list[FleetHost] = []
    done = threading.Event()

    def transfers(host: FleetHost) -> list[int]:
        releases = host.path(f"{APP}/releases")
        found = []
        for path in releases.glob("*/.deploytui-artifact.tar.gz*") if releases.exists() else []:
            with contextlib.suppress(OSError):
                found.append(path.stat().st_size)
        return found

    def freeze_mid_transfer() -> None:
        """Freeze the host being uploaded to (the seed) once the others' copies from it
        have begun to arrive and before it has all of it: they are mid-transfer."""
        while not done.wait(0.001):
            sizes = {h.name: transfers(h) for h in fleet}
            seeds = [h for h in fleet if any(size > 1_000_000 for size in sizes[h.name])]
            fetching = [n for n, found in sizes.items() if any(found)]
            if seeds and len(fetching) >= 2:
                seeds[0].freeze()
                frozen.append(seeds[0])
                return

    watcher = threading.Thread(target=freeze_mid_transfer, daemon=True)
    watcher.start()
    began = time.monotonic()
    try:
        result, recorder = deploy(load(config_data(hosts, n=4, blob=80_000_000)))
        took = time.monotonic() - began
    finally:
        done.set()
        watcher.join(5)
        for host in frozen:
            host.thaw()
    assert frozen, f"no host was frozen mid-transfer (the deploy: {result.outcome}, {took:.1f}s)"
    seed = frozen[0].name
    # the frozen seed itself is lost (its connection stops answering): nothing switches
    assert result.outcome == "failed", (result.outcome, result.error)
    assert result.hosts[seed].outcome == "failed", (seed, result.hosts[seed], result.error)
    assert all(not h.path(f"{APP}/current").is_symlink() for h in fleet)
    lines = [ln for h in fleet for ln in info(recorder, h.name)
             if ln.startswith(f"artifact: could not get it from {seed}")]
    assert lines and all(ln.endswith(("; trying another host", "; uploading it directly"))
                         for ln in lines), [info(recorder, h.name) for h in fleet]
    assert took < 45, f"the deploy took {took:.0f}s with a frozen peer"
    assert not nothing_left_running(fleet)


FAKE_CAT = """#!/bin/sh
# a cat that flips one byte of the first large file any host copies from its stdin (a
# disk or a link that lies, once); every other copy is true
if [ $# -eq 0 ]; then
  exec /usr/bin/python3 -c 'import os, sys
data = bytearray(sys.stdin.buffer.read())
if len(data) > 100000:
    try:
        os.close(os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        data[1000] ^= 0xff
    except FileExistsError:
        pass
sys.stdout.buffer.write(data)' "$FLAG"
fi
exec /tmp/real-cat "$@"
"""


def test_a_peer_serving_corrupted_bytes_is_refused_by_sha256_and_nothing_bad_is_unpacked(
        hosts: Fleet):
    fleet = hosts.hosts[:4]
    shared = hosts.root / "corrupt-once"
    shared.mkdir(mode=0o777, exist_ok=True)
    shared.chmod(0o777)
    flag = shared / "done"
    flag.unlink(missing_ok=True)
    for host in fleet:
        host.path("/tmp/fake-cat").write_text(FAKE_CAT.replace('"$FLAG"', f"'{flag}'"))
        setup = host.run_inside("cp /usr/bin/cat /tmp/real-cat && chmod 755 /tmp/fake-cat"
                                " && mount --bind /tmp/fake-cat /usr/bin/cat")
        assert setup.returncode == 0, setup.stderr
    try:
        result, recorder = deploy(load(config_data(hosts, n=4)))
    finally:
        for host in fleet:
            host.run_inside("umount /usr/bin/cat")
    assert flag.exists()
    # the seed got bad bytes from "its disk": its own unpack refuses them
    seed = next(n for n, r in result.hosts.items() if r.outcome == "failed")
    assert result.outcome == "failed"
    assert result.hosts[seed].step == "unpack"
    assert "artifact checksum mismatch" in result.hosts[seed].error
    refused = [ln for h in fleet for ln in info(recorder, h.name)
               if ln.startswith(f"artifact: could not get it from {seed}")
               and "sha256 mismatch" in ln]
    assert refused, [info(recorder, h.name) for h in fleet]
    assert [n for n, r in result.hosts.items() if r.outcome == "failed"] == [seed]
    assert all(not h.path(f"{APP}/current").is_symlink() for h in fleet)
    assert all(not leftovers(h) for h in fleet)
    assert not nothing_left_running(fleet)


def test_a_deploy_cancelled_mid_transfer_leaves_nothing_running_on_any_host(hosts: Fleet):
    fleet = hosts.hosts[:6]
    cancel = threading.Event()

    def cancel_once_seeded(event) -> None:
        if isinstance(event, HostStepDone) and event.step == "upload artifact":
            cancel.set()

    result, _ = deploy(load(config_data(hosts, n=6, blob=20_000_000)),
                       sink=cancel_once_seeded, cancel=cancel)
    assert result.outcome == "cancelled"
    assert not nothing_left_running(fleet)
    assert all(not h.path(f"{APP}/current").is_symlink() for h in fleet)
    assert all(not leftovers(h) for h in fleet)


@pytest.mark.timeout(120)
def test_sigkill_of_the_deploying_process_mid_transfer_leaves_nothing_running(
        hosts: Fleet, tmp_path: Path):
    fleet = hosts.hosts[:6]
    path = hosts.write_config(tmp_path / "deploytui.yml",
                              config_data(hosts, n=6, blob=30_000_000))
    proc = subprocess.Popen([sys.executable, "-m", "deploytui", "--config", str(path),
                             "deploy", "app", "prod", "--yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not relay_processes(fleet) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the deploy ended before any transfer was seen"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not nothing_left_running(fleet, within=15.0)
    # the next deploy (breaking the dead one's lock) removes what the transfer left
    data = config_data(hosts, n=6, blob=1000)
    project = load(data).projects["app"]
    result = run_deploy(load(data), DeployRequest(project, project.environments["prod"],
                                                  user="ann@laptop", break_lock=True))
    assert result.outcome == "success", result.error
    assert all(not leftovers(h) for h in fleet)


@pytest.fixture(scope="module")
def behind() -> Fleet:
    """host1 is a bastion with OpenSSH's default limits; host2..host6 sit behind it."""
    try:
        started = Fleet.start(6, stock_limits={"host1"})
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.timeout(120)
def test_through_a_bastion_one_copy_crosses_it_and_the_hosts_pass_it_on_directly(
        behind: Fleet, tmp_path: Path):
    behind.reset()
    bastion, targets = behind.hosts[0], behind.hosts[1:]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host bastion\n  HostName {bastion.address}\n  Port {bastion.port}\n"
        f"  User {behind.user}\n  IdentityFile {behind.client_key}\n"
        f"Host {' '.join(h.address for h in targets)}\n  ProxyJump bastion\n")
    data = behind.config(targets, strategy="artifact",
                         build=[f"head -c {BLOB} /dev/urandom > blob.bin"])
    data["ssh"]["config"] = str(ssh_config)
    before = uploaded_bytes()
    result, recorder = deploy(load(data))
    sent = uploaded_bytes() - before  # every byte of it went through the bastion
    assert result.outcome == "success", result.error
    assert sent <= 2 * BLOB * 1.01, f"{sent} bytes crossed the bastion"
    fetched = [h.name for h in targets if any(ln.startswith("artifact from host")
                                              for ln in info(recorder, h.name))]
    assert len(fetched) >= len(targets) - 1
    assert len({served_blob(h) for h in targets}) == 1
    assert bastion.connections() == 1
    assert not nothing_left_running(behind.hosts)


def test_hosts_without_python3_are_uploaded_to_directly_and_the_others_still_relay(
        hosts: Fleet):
    fleet = hosts.hosts[:4]
    without = fleet[:2]  # whichever host seeds, one of these is fetched from or seeds
    for host in without:
        host.path("/tmp/no-python").write_text(
            "#!/bin/sh\necho 'python3: command not found' >&2\nexit 127\n")
        setup = host.run_inside("chmod 755 /tmp/no-python && mount --bind /tmp/no-python"
                                " /usr/bin/python3.11")
        assert setup.returncode == 0, setup.stderr
    before = uploaded_bytes()
    try:
        result, recorder = deploy(load(config_data(hosts, n=4)))
    finally:
        for host in without:
            host.run_inside("umount /usr/bin/python3.11")
    assert result.outcome == "success", result.error
    for host in without:  # never a peer's copy: uploaded from here, and said so
        lines = info(recorder, host.name)
        assert not any(ln.startswith("artifact from") for ln in lines), lines
        assert any("python3: command not found" in ln for ln in lines), lines
    assert uploaded_bytes() - before < 4 * BLOB  # the hosts with python3 relayed
    assert len({served_blob(h) for h in fleet}) == 1
    assert not nothing_left_running(fleet)


def test_a_relay_command_that_ends_before_reading_its_token_is_its_end_not_a_lost_link(
        hosts: Fleet):
    """A host without python3 ends the relay's command at once; under load that can be
    before the token is sent, and the send then fails on the closed channel."""
    from deploytui.engine.hosts.pool import HostPool, transport_factory

    config = load(config_data(hosts, n=1))
    env = config.projects["app"].environments["prod"]
    with HostPool(list(env.hosts), transport_factory(config)) as pool:
        pool.connect()
        transport = pool.transports[env.hosts[0].name]
        # more than the channel's window: the send is still going when the command ends
        handle = transport.start("echo 'python3: command not found' >&2; exit 127",
                                 b"x" * (16 * 1024 * 1024))
        assert handle.readline(10) is None
        assert handle.error() == "python3: command not found"
        handle.close()
        assert transport.run("true").ok  # the connection is fine
