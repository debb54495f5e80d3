"""A fleet bigger than one /24 spreads over consecutive slots, each locked, all released.

The 500-host scale benchmark needs two /24s of loopback addresses; here the same path
is taken cheaply: 5 hosts with at most 3 per slot (`per_slot=3`) land on two slots.
"""

from __future__ import annotations

import fcntl
import socket

import pytest
from fleet import SLOTS_DIR, Fleet, FleetUnavailable

pytestmark = [pytest.mark.fleet, pytest.mark.timeout(90)]


def _locked(slot: int) -> bool:
    """Whether some process holds slot's flock (tried without waiting, let go at once)."""
    with open(SLOTS_DIR / f"slot-{slot}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_five_hosts_three_per_slot_answer_from_two_nets_and_stop_frees_both() -> None:
    try:
        fleet = Fleet.start(5, per_slot=3)
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    try:
        first, second = fleet.slots
        assert second == first + 1 and fleet.slot == first
        # spread evenly and in order: host1..host3 on the first /24, host4, host5 on the next
        assert [h.address for h in fleet.hosts] == [
            f"127.88.{first}.1", f"127.88.{first}.2", f"127.88.{first}.3",
            f"127.88.{second}.1", f"127.88.{second}.2"]
        assert [h.name for h in fleet.hosts] == [f"host{i}" for i in range(1, 6)]
        assert _locked(first) and _locked(second)  # flock: another open file conflicts
        for host in (fleet.hosts[0], fleet.hosts[4]):  # one host on each /24
            result = host.ssh("true && hostname")
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == host.name
        known = fleet.known_hosts.read_text()
        assert f"[127.88.{second}.2]:2200 " in known  # strict keys for every net
    finally:
        fleet.stop()
    assert not fleet.root.exists()
    assert not _locked(first) and not _locked(second)
    for host in (fleet.hosts[0], fleet.hosts[4]):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host.address, host.port), timeout=2)


def test_a_deploy_reaches_every_host_across_the_two_slots(tmp_path, monkeypatch) -> None:
    import json

    from deploytui.config import load_config_text
    from deploytui.engine import DeployRequest, run_operation

    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    try:
        fleet = Fleet.start(5, per_slot=3)
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    try:
        config = load_config_text(json.dumps(fleet.config(5)), "test.yml")
        project = config.projects["app"]
        result = run_operation(config, DeployRequest(project, project.environments["prod"]))
        assert result.ok, result.error
        assert all(h.path("/srv/app/current").is_symlink() for h in fleet.hosts)
    finally:
        fleet.stop()
