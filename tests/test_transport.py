"""The SSH transport, against real sshd hosts: what the engine may rely on."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.config import load_config
from deploytui.config.model import Config, Host
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.hosts.transport import (
    Cancelled,
    CommandTimedOut,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    Unreachable,
)


def _config(fleet: Fleet, tmp_path: Path, hosts: int = 3, **ssh: object) -> Config:
    data = fleet.config(hosts)
    data["ssh"].update(ssh)
    return load_config(fleet.write_config(tmp_path / "deploytui.yml", data))


def _host(config: Config, index: int = 0) -> Host:
    return config.projects["app"].environments["prod"].hosts[index]


def _connected(config: Config, index: int = 0) -> SSHTransport:
    transport = SSHTransport(_host(config, index), config.ssh)
    transport.connect()
    return transport


def _ssh_keygen_fingerprint(fleet_host: FleetHost) -> str:
    key = fleet_host.root / "ssh_host_ed25519_key"
    out = subprocess.run(["ssh-keygen", "-lf", str(key)], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def test_a_command_runs_on_the_host_it_names_and_reports_its_exit_status(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    try:
        result = transport.run("hostname; echo oops >&2; exit 7", capture=True)
    finally:
        transport.close()
    assert result.exit_code == 7
    assert result.stdout.strip() == "host1"
    assert result.stderr.strip() == "oops"


def test_lines_arrive_while_the_command_is_still_running(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    arrivals: list[tuple[str, float]] = []
    started = time.monotonic()
    try:
        transport.run("echo first; sleep 1; echo second",
                      on_lines=lambda lines, _s: arrivals.extend(
                          (line, time.monotonic()) for line in lines))
    finally:
        transport.close()
    assert [line for line, _ in arrivals] == ["first", "second"]
    assert arrivals[0][1] - started < 0.8, "the first line waited for the command to end"


def test_an_unknown_host_key_is_refused_with_its_sha256_fingerprint(hosts, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    config = _config(hosts, tmp_path, known_hosts=str(empty))
    with pytest.raises(HostKeyUnknown) as caught:
        SSHTransport(_host(config), config.ssh).connect()
    assert caught.value.fingerprint == _ssh_keygen_fingerprint(hosts.hosts[0])
    assert caught.value.key_name == f"[{hosts.hosts[0].address}]:{hosts.hosts[0].port}"
    assert empty.read_text() == "", "strict checking must never write known_hosts"


def test_a_changed_host_key_is_refused_showing_both_fingerprints(hosts, tmp_path):
    lines = hosts.known_hosts.read_text().splitlines()
    swapped = tmp_path / "swapped_known_hosts"
    first, second = lines[0].split(), lines[1].split()
    swapped.write_text(f"{first[0]} {second[1]} {second[2]}\n")  # host2's key under host1
    config = _config(hosts, tmp_path, known_hosts=str(swapped))
    with pytest.raises(HostKeyChanged) as caught:
        SSHTransport(_host(config), config.ssh).connect()
    assert caught.value.presented == _ssh_keygen_fingerprint(hosts.hosts[0])
    assert caught.value.expected == _ssh_keygen_fingerprint(hosts.hosts[1])


def test_accept_new_records_every_new_key_once_even_when_hosts_connect_in_parallel(
        hosts, tmp_path):
    known = tmp_path / "known_hosts"
    config = _config(hosts, tmp_path, hosts=10, known_hosts=str(known), host_keys="accept-new")
    env = config.projects["app"].environments["prod"]
    with HostPool(env.hosts, transport_factory(config)) as pool:
        assert pool.connect() == {}
    recorded = known.read_text().splitlines()
    assert len(recorded) == 10 and len(set(recorded)) == 10
    # and the recorded keys are the hosts' real keys: strict checking now passes
    strict = dataclasses.replace(config.ssh, host_keys="strict")
    transport = SSHTransport(env.hosts[9], strict)
    transport.connect()
    transport.close()


def test_a_dead_address_is_unreachable_in_one_line(hosts, tmp_path):
    config = _config(hosts, tmp_path)
    hosts.hosts[0].kill()
    with pytest.raises(Unreachable) as caught:
        SSHTransport(_host(config), config.ssh).connect()
    assert "connection refused" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_one_connection_serves_every_command_of_an_operation(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    try:
        for _ in range(20):
            assert transport.run("true").ok
    finally:
        transport.close()
    assert hosts.hosts[0].connections() == 1


def test_cancel_terminates_the_remote_command_and_its_children(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    try:
        with pytest.raises(Cancelled):
            transport.run("sleep 301 & sleep 302; echo never", cancel=cancel)
    finally:
        transport.close()
    left = [c for c in hosts.hosts[0].processes() if "sleep 301" in c or "sleep 302" in c]
    assert left == [], f"remote processes survived the cancel: {left}"


def test_a_step_past_its_timeout_is_terminated_on_the_host(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    try:
        with pytest.raises(CommandTimedOut):
            transport.run("sleep 303", timeout=0.5)
    finally:
        transport.close()
    assert [c for c in hosts.hosts[0].processes() if "sleep 303" in c] == []


@pytest.mark.timeout(30)
def test_a_frozen_host_fails_the_running_command_within_the_connect_timeout(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path, connect_timeout=2))
    threading.Timer(0.5, hosts.hosts[0].freeze).start()
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionLost):
            transport.run("sleep 60")
    finally:
        transport.close()
        hosts.hosts[0].thaw()
    assert time.monotonic() - started < 8


def test_a_killed_host_fails_the_running_command_at_once(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    killer = threading.Timer(0.5, hosts.hosts[0].kill)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionLost):
            transport.run("sleep 60")
    finally:
        transport.close()
        killer.join()
    assert time.monotonic() - started < 5


def test_the_remote_command_never_waits_for_input(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    try:
        result = transport.run("cat; echo done", timeout=5, capture=True)
    finally:
        transport.close()
    assert result.stdout.strip() == "done"


def test_a_command_that_ends_without_reading_its_input_reports_its_status_not_a_lost_link(
        hosts, tmp_path):
    # the host closes the channel while input is still being sent: the command's own
    # status and words are the answer (a login shell without bash ends the same way)
    transport = _connected(_config(hosts, tmp_path))
    try:
        result = transport.run("echo unread >&2; exit 3", stdin=b"x" * (8 << 20),
                               timeout=20, capture=True)
        assert transport.run("echo still", capture=True, timeout=10).stdout == "still"
    finally:
        transport.close()
    assert result.exit_code == 3 and result.stderr.strip() == "unread"


def test_environment_values_reach_the_command_but_never_its_command_line(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    secret = "s3cr3t-value-in-env"
    seen: list[str] = []
    try:
        runner = threading.Thread(target=lambda: seen.append(transport.run(
            'echo "got=$TOKEN"; sleep 1', env={"TOKEN": secret}, capture=True).stdout))
        runner.start()
        time.sleep(0.5)
        listing = transport.run("ps -eo args", capture=True).stdout
        runner.join()
    finally:
        transport.close()
    assert seen == [f"got={secret}"]
    assert secret not in listing


def test_sudo_gets_its_password_without_it_showing_anywhere(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    lines: list[str] = []
    try:
        result = transport.run("sudo -k; sudo id -u", env={
            "DEPLOYTUI_SUDO_PASSWORD": hosts.sudo_password},
            on_lines=lambda batch, _s: lines.extend(batch), capture=True, timeout=20)
    finally:
        transport.close()
    assert result.stdout.strip() == "0"
    assert all(hosts.sudo_password not in line for line in lines)


def test_a_big_output_arrives_whole_and_fast(hosts, tmp_path):
    transport = _connected(_config(hosts, tmp_path))
    received: list[str] = []

    def on_lines(lines: list[str], _stream: str) -> None:
        received.extend(lines)

    try:
        result = transport.run("seq 1 300000", on_lines=on_lines)  # ~2 MB
    finally:
        transport.close()
    assert received == [str(n) for n in range(1, 300001)]  # nothing lost, nothing reordered
    assert result.duration < 10


def test_an_upload_arrives_byte_for_byte(hosts, tmp_path):
    payload = bytes(range(256)) * 4096
    local = tmp_path / "artifact.bin"
    local.write_bytes(payload)
    transport = _connected(_config(hosts, tmp_path))
    try:
        transport.upload(local, "/tmp/artifact.bin")
    finally:
        transport.close()
    assert hosts.hosts[0].path("/tmp/artifact.bin").read_bytes() == payload


def test_an_ssh_config_alias_is_honoured(hosts, tmp_path):
    target = hosts.hosts[2]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host web-alias\n  HostName {target.address}\n  Port {target.port}\n"
                          f"  User {hosts.user}\n  IdentityFile {hosts.client_key}\n")
    data = hosts.config(1)
    data["ssh"]["config"] = str(ssh_config)
    data["ssh"].pop("identity_file")
    data["projects"]["app"]["environments"]["prod"]["hosts"] = {"web": {"address": "web-alias"}}
    config = load_config(hosts.write_config(tmp_path / "deploytui.yml", data))
    transport = SSHTransport(_host(config), config.ssh)
    transport.connect()
    try:
        assert transport.run("hostname", capture=True).stdout.strip() == target.name
    finally:
        transport.close()


def test_thirty_simultaneous_connections_to_one_host_all_succeed(hosts, tmp_path):
    config = _config(hosts, tmp_path, hosts=1)
    host = _host(config)
    clones = [dataclasses.replace(host, name=f"clone{i}") for i in range(30)]
    with HostPool(clones, transport_factory(config), max_parallel=30) as pool:
        assert pool.connect() == {}
        outcomes = pool.map(lambda _h, t: t.run("hostname", capture=True).stdout.strip())
    assert {o.value for o in outcomes.values()} == {"host1"}


def _jump_config(fleet: Fleet, tmp_path: Path, known_hosts: Path) -> Config:
    bastion, inner = fleet.hosts[0], fleet.hosts[1]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host bastion\n  HostName {bastion.address}\n  Port {bastion.port}\n"
        f"  User {fleet.user}\n  IdentityFile {fleet.client_key}\n"
        f"Host inner\n  HostName {inner.address}\n  Port {inner.port}\n"
        f"  User {fleet.user}\n  IdentityFile {fleet.client_key}\n  ProxyJump bastion\n")
    data = fleet.config(1)
    data["ssh"].update(config=str(ssh_config), known_hosts=str(known_hosts))
    data["ssh"].pop("identity_file")
    data["projects"]["app"]["environments"]["prod"]["hosts"] = {"inner": {"address": "inner"}}
    return load_config(fleet.write_config(tmp_path / "deploytui.yml", data))


def test_a_proxyjump_from_ssh_config_reaches_the_host_through_the_bastion(hosts, tmp_path):
    config = _jump_config(hosts, tmp_path, hosts.known_hosts)
    transport = SSHTransport(_host(config), config.ssh)
    transport.connect()
    try:
        assert transport.run("hostname", capture=True).stdout.strip() == "host2"
    finally:
        transport.close()
    assert hosts.hosts[0].connections() == 1, "the bastion was not used"


def test_the_bastion_of_a_proxyjump_is_held_to_the_same_strict_host_keys(hosts, tmp_path):
    only_inner = tmp_path / "known_hosts"
    only_inner.write_text(hosts.known_hosts.read_text().splitlines()[1] + "\n")
    config = _jump_config(hosts, tmp_path, only_inner)
    with pytest.raises(HostKeyUnknown) as caught:
        SSHTransport(_host(config), config.ssh).connect()
    assert caught.value.fingerprint == _ssh_keygen_fingerprint(hosts.hosts[0])


def test_threads_stay_bounded_one_liveness_watchdog_serves_every_connection(
        hosts, tmp_path):
    config = _config(hosts, tmp_path, hosts=10)
    env = config.projects["app"].environments["prod"]
    before = threading.active_count()
    with HostPool(env.hosts, transport_factory(config)) as pool:
        assert pool.connect() == {}
        liveness = [t for t in threading.enumerate() if "liveness" in t.name]
        # paramiko's one reader thread per connection, plus the watchdog and its prober
        assert len(liveness) == 2
        assert threading.active_count() - before <= len(env.hosts) + 2
    deadline = time.monotonic() + 5
    while any("liveness" in t.name for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the watchdog outlived its last connection"
        time.sleep(0.05)


def test_an_idle_healthy_connection_answers_its_keepalives_and_stays_usable(hosts, tmp_path):
    config = _config(hosts, tmp_path, connect_timeout=1)  # a probe every 0.5 s, 1 s to answer
    transport = _connected(config)
    try:
        watch = transport._watch
        assert watch is not None
        deadline = time.monotonic() + 10
        while watch.replies < 4:  # four verdicts, each of which could have killed it
            assert not watch.dead and time.monotonic() < deadline
            time.sleep(0.05)
        assert transport.run("echo alive", capture=True).stdout.strip() == "alive"
    finally:
        transport.close()
