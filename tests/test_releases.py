"""Listing releases across a fleet: one round trip per host, states, sizes and drift.

Layouts are written straight into each host's private /srv (as a deploy, or Capistrano,
would have left them) and read back over real SSH.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fleet import Fleet
from release_fleet import R1, R2, R3, R4, cli, du_bytes, load, make_release, own, set_current

from deploytui.engine.operations.releases import list_releases


def test_a_fleet_lists_each_release_once_newest_first_with_states_and_hosts(
        hosts: Fleet) -> None:
    config = load(hosts, 3)
    for host in hosts.hosts[:3]:
        make_release(host, R1)
        make_release(host, R2, subject="fix the cart")
        make_release(host, R3, state="failed")
        set_current(host, R2)
    fleet = list_releases(config, "app", "prod")
    assert [r.release_id for r in fleet.releases] == [R3, R2, R1]
    assert [r.state for r in fleet.releases] == ["failed", "current", "previous"]
    row = fleet.row(R2)
    assert row.subject == "fix the cart"
    assert row.deployed_by == "ann@laptop"
    assert row.deployed_at == "2024-01-02T12:00:00Z"
    assert row.hosts == ["host1", "host2", "host3"]
    assert fleet.hosts["host1"].current == R2
    assert fleet.hosts["host1"].previous == R1
    assert fleet.hosts["host1"].free_bytes > 0
    assert fleet.drift == []
    assert fleet.rollback_target() == R1


def test_free_space_is_what_df_calls_available(hosts: Fleet) -> None:
    config = load(hosts, 1)
    make_release(hosts.hosts[0], R1)
    fleet = list_releases(config, "app", "prod")
    df = subprocess.run(["df", "-Pk", str(hosts.hosts[0].path("/srv/app"))],
                        capture_output=True, text=True, check=True).stdout.splitlines()[1]
    available = int(df.split()[3]) * 1024
    # the suite writes to the same disk meanwhile: equal to within 64 MiB
    assert abs(fleet.hosts["host1"].free_bytes - available) < 64 << 20


def test_a_releases_directory_that_is_a_symlink_still_holds_current(hosts: Fleet) -> None:
    """deploy_to/releases may live on another disk through a symlink; where current and
    releases/ really are is compared, not the paths as written."""
    host = hosts.hosts[0]
    make_release(host, R1)
    make_release(host, R2)
    app = host.path("/srv/app")
    (app / "releases").rename(app / "releases-disk")
    (app / "releases").symlink_to("/srv/app/releases-disk")
    set_current(host, R2)
    fleet = list_releases(load(hosts, 1), "app", "prod")
    assert fleet.hosts["host1"].current == R2 and fleet.hosts["host1"].previous == R1
    assert fleet.drift == []


def test_reported_sizes_are_exactly_what_du_reports(hosts: Fleet) -> None:
    config = load(hosts, 2)
    rels = [make_release(h, R1, size_kb=37 + i * 100) for i, h in enumerate(hosts.hosts[:2])]
    fleet = list_releases(config, "app", "prod")
    assert fleet.row(R1).size_bytes == {"host1": du_bytes(rels[0]),
                                        "host2": du_bytes(rels[1])}
    assert fleet.row(R1).size_bytes["host2"] > fleet.row(R1).size_bytes["host1"]


def test_listing_costs_one_connection_and_one_command_per_host(hosts: Fleet) -> None:
    config = load(hosts, 3)
    for host in hosts.hosts[:3]:
        for rid in (R1, R2, R3):
            make_release(host, rid)
        set_current(host, R3)
    list_releases(config, "app", "prod")
    for host in hosts.hosts[:3]:
        assert host.connections() == 1
        assert host.sshd_log().count("Starting session: command") == 1


def test_a_trimmed_scan_reads_the_same_releases_states_and_current_as_the_full_one(
        hosts: Fleet) -> None:
    from deploytui.engine.hosts.pool import HostPool, transport_factory
    from deploytui.engine.remote.layout import Layout
    from deploytui.engine.remote.scan import scan_host

    config = load(hosts, 1)
    host = hosts.hosts[0]
    make_release(host, R1, state=None, sha="aaa111")
    make_release(host, R2)
    make_release(host, R3, state="failed")
    set_current(host, R2)
    host.path("/srv/app/revisions.log").write_text(
        f"Branch master (at aaa111) deployed as release {R1} by alice\n")
    env = config.projects["app"].environments["prod"]
    pool = HostPool(env.hosts, transport_factory(config))
    try:
        pool.connect()
        transport = pool.transports["host1"]
        full = scan_host(transport, Layout("/srv/app"))
        trimmed = scan_host(transport, Layout("/srv/app"), sizes=False, log=False)
    finally:
        pool.close()
    assert (trimmed.current, trimmed.previous) == (full.current, full.previous) == (R2, R1)
    assert {r: trimmed.state(r) for r in trimmed.releases} == \
        {r: full.state(r) for r in full.releases} == \
        {R1: "previous", R2: "current", R3: "failed"}
    assert all(r.size_bytes > 0 for r in full.releases.values()) and full.free_bytes
    assert all(r.size_bytes == 0 for r in trimmed.releases.values())
    assert trimmed.free_bytes is None and not trimmed.log and len(full.log) == 1


def test_a_capistrano_layout_shows_its_history_from_revisions_log(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    make_release(host, R1, state=None, sha="aaa111")
    make_release(host, R2, state=None, sha="bbb222")
    set_current(host, R2)
    log = host.path("/srv/app/revisions.log")
    log.write_text(f"Branch master (at aaa111) deployed as release {R1} by alice\n"
                   f"Branch master (at bbb222) deployed as release {R2} by bob\n")
    fleet = list_releases(config, "app", "prod")
    rows = {r.release_id: r for r in fleet.releases}
    assert rows[R2].deployed_by == "bob" and rows[R2].sha == "bbb222"
    assert rows[R1].deployed_by == "alice" and rows[R1].state == "previous"
    assert rows[R1].deployed_at == "2024-01-01T12:00:00Z"
    assert rows[R2].subject == ""
    assert rows[R2].state == "current"


def test_drift_names_hosts_on_another_current_and_releases_missing_somewhere(
        hosts: Fleet) -> None:
    config = load(hosts, 3)
    one, two, three = hosts.hosts[:3]
    for host in (one, two, three):
        make_release(host, R1)
    for host in (one, two):
        make_release(host, R2)
    set_current(one, R2)
    set_current(two, R2)
    set_current(three, R1)
    fleet = list_releases(config, "app", "prod")
    assert fleet.row(R2).hosts == ["host1", "host2"]
    assert any("current differs" in line and "host3 on " + R1 in line for line in fleet.drift)
    assert any(f"release {R2} is missing on host3" in line for line in fleet.drift)


def test_a_dangling_current_and_one_pointing_outside_releases_are_called_out(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    one, two = hosts.hosts[:2]
    make_release(one, R1)
    make_release(two, R1)
    set_current(one, R4)  # no such release
    set_current(two, "/etc")
    fleet = list_releases(config, "app", "prod")
    assert fleet.hosts["host1"].current is None
    assert any(line.startswith("host1: current is dangling") for line in fleet.drift)
    assert any(line == "host2: current points outside releases/: /etc"
               for line in fleet.drift)
    assert fleet.row(R1).state == "ok"


def test_symlinks_and_odd_names_in_releases_are_never_listed_as_releases(
        hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    make_release(host, R1)
    rels = host.path("/srv/app/releases")
    (rels / R2).symlink_to("/")
    (rels / "with spaces").mkdir()
    (rels / "..x").mkdir()
    own(hosts, rels)
    fleet = list_releases(config, "app", "prod")
    assert [r.release_id for r in fleet.releases] == [R1]
    assert fleet.hosts["host1"].ignored == [R2]
    assert any(f"releases/{R2} is a symlink" in line for line in fleet.drift)


def test_an_unreachable_host_carries_an_error_while_the_others_are_listed(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    make_release(hosts.hosts[0], R1)
    hosts.hosts[1].kill()
    fleet = list_releases(config, "app", "prod")
    assert fleet.row(R1).hosts == ["host1"]
    assert fleet.hosts["host2"].error.startswith("host2")
    assert fleet.drift[0].startswith("host2: could not list releases")


def test_the_json_form_is_plain_data_that_round_trips(hosts: Fleet) -> None:
    config = load(hosts, 1)
    make_release(hosts.hosts[0], R1)
    set_current(hosts.hosts[0], R1)
    data = list_releases(config, "app", "prod").to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["releases"][0]["id"] == R1
    assert data["releases"][0]["state"] == "current"
    assert data["hosts"]["host1"]["current"] == R1
    assert set(data) >= {"project", "environment", "releases", "hosts", "drift",
                         "rollback_target", "fleet_current"}  # keys are only ever added
    assert data["fleet_current"] == R1


@pytest.mark.parametrize("state,shown", [("preparing", "unfinished"), ("ready", "unfinished"),
                                         ("rolled_back", "rolled_back")])
def test_metadata_states_survive_on_the_host(hosts: Fleet, state: str, shown: str) -> None:
    config = load(hosts, 1)
    make_release(hosts.hosts[0], R1, state=state)
    assert list_releases(config, "app", "prod").row(R1).state == shown


def test_the_releases_command_prints_a_table_with_drift_lines_below(
        hosts: Fleet, tmp_path: Path) -> None:
    for host in hosts.hosts[:3]:
        make_release(host, R1)
        make_release(host, R2, subject="fix the cart")
        set_current(host, R2)
    set_current(hosts.hosts[2], R1)
    out = cli(hosts, tmp_path, "releases", "app", "prod")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["RELEASE", "SHA", "SUBJECT", "WHEN", "BY", "STATE", "SIZE",
                                "HOSTS"]
    assert lines[1].startswith(R2) and "fix the cart" in lines[1] and "current*" in lines[1]
    assert lines[-1] == (f"drift: current differs between hosts: host1, host2 on {R2}; "
                         f"host3 on {R1}")


def test_the_releases_command_json_is_the_documented_shape(hosts: Fleet, tmp_path: Path
                                                           ) -> None:
    for host in hosts.hosts[:3]:
        make_release(host, R1)
        set_current(host, R1)
    out = cli(hosts, tmp_path, "releases", "app", "prod", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["releases"][0]["hosts"] == ["host1", "host2", "host3"]
    assert data["hosts"]["host2"]["current"] == R1
    assert data["drift"] == []


def test_the_releases_command_exits_1_when_a_host_cannot_be_listed(
        hosts: Fleet, tmp_path: Path) -> None:
    hosts.hosts[1].kill()
    out = cli(hosts, tmp_path, "releases", "app", "prod")
    assert out.returncode == 1
    assert "drift: host2: could not list releases" in out.stdout
