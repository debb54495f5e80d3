"""A fleet bigger than one /24 of loopback addresses (the 500-host benchmark) spreads over
as many slots as it needs; its hosts answer, and a deploy reaches them all, whichever
/24 they are on. Tested small: three hosts per slot instead of 254."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from fleet import Fleet, FleetUnavailable

from deploytui.config import load_config_text
from deploytui.engine import DeployRequest, run_operation

pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def spread() -> Iterator[Fleet]:
    try:
        started = Fleet.start(5, per_net=3)
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    try:
        yield started
    finally:
        started.stop()


def test_hosts_beyond_one_slot_live_on_the_next_slots_own_addresses(spread: Fleet) -> None:
    nets = [h.address.rsplit(".", 1)[0] for h in spread.hosts]
    assert len(spread.slots) == 2 and nets[:3] == [nets[0]] * 3 and nets[3:] == [nets[3]] * 2
    assert nets[0] != nets[3]
    assert [h.address.rsplit(".", 1)[1] for h in spread.hosts] == ["1", "2", "3", "1", "2"]
    for host in spread.hosts:
        done = subprocess.run(host.ssh_argv("hostname"), capture_output=True, text=True,
                              timeout=20)
        assert done.returncode == 0 and done.stdout.strip() == host.name, done.stderr


def test_a_deploy_reaches_every_host_across_the_two_slots(spread: Fleet,
                                                          monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    spread.reset()
    config = load_config_text(json.dumps(spread.config(5)), "test.yml")
    project = config.projects["app"]
    result = run_operation(config, DeployRequest(project, project.environments["prod"]))
    assert result.ok, result.error
    assert all(h.path("/srv/app/current").is_symlink() for h in spread.hosts)


def test_stopping_the_fleet_frees_every_slot_it_took() -> None:
    try:
        fleet = Fleet.start(4, per_net=2, slot=120)
    except FleetUnavailable as reason:
        pytest.skip(f"no SSH test fleet on this machine: {reason}")
    taken = list(fleet.slots)
    fleet.stop()
    again = Fleet.start(4, per_net=2, slot=taken[0])
    try:
        assert again.slots == taken  # both were free again
    finally:
        again.stop()
