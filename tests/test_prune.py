"""Pruning: what goes, what never goes, and how a host that cannot delete is reported."""

from __future__ import annotations

import json
import os

from fleet import Fleet
from release_fleet import R1, R2, R3, R4, cli, du_bytes, load, make_release, own, set_current

from deploytui.engine.events import Recorder
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.operations.prune import delete_release, prune_hosts, run_prune

R5, R6 = "20240105120000", "20240106120000"


def releases_on(host) -> list[str]:
    return sorted(p.name for p in host.path("/srv/app/releases").iterdir())


def test_prune_keeps_the_newest_n_and_deletes_older_ones_with_their_metadata(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    for host in hosts.hosts[:2]:
        for rid in (R1, R2, R3, R4):
            make_release(host, rid)
        set_current(host, R4)
    result = run_prune(config, "app", "prod", keep=2)
    assert result.ok
    for host in hosts.hosts[:2]:
        assert releases_on(host) == [R3, R4]
        assert sorted(p.name for p in host.path("/srv/app/.deploytui/releases").iterdir()) == [
            f"{R3}.json", f"{R4}.json"]
    assert [d.release_id for d in result.hosts["host1"].deletions] == [R2, R1]


def test_failed_and_unfinished_releases_go_first_and_do_not_count_toward_keep(
        hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    make_release(host, R1)
    make_release(host, R2)
    make_release(host, R3, state="failed")
    make_release(host, R4)
    make_release(host, R5, state="preparing")
    set_current(host, R4)
    result = run_prune(config, "app", "prod", keep=2)
    assert result.ok
    assert releases_on(host) == [R2, R4]
    reasons = {d.release_id: d.reason for d in result.hosts["host1"].deletions}
    assert reasons == {R5: "unfinished", R3: "failed", R1: "beyond keep=2"}


def test_current_and_the_rollback_target_survive_even_keep_one(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    for rid in (R1, R2, R3, R4):
        make_release(host, rid)
    make_release(host, R3, state="failed")
    set_current(host, R4)
    run_prune(config, "app", "prod", keep=1)
    assert releases_on(host) == [R2, R4]  # R2 is the newest ok before current


def test_a_dry_run_reports_bytes_matching_du_and_deletes_nothing(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    old = make_release(host, R1, size_kb=64)
    for rid in (R2, R3):
        make_release(host, rid)
    set_current(host, R3)
    result = run_prune(config, "app", "prod", keep=1, dry_run=True)
    plan = result.hosts["host1"]
    assert [d.release_id for d in plan.deletions] == [R1]
    assert plan.bytes_planned == du_bytes(old)
    assert plan.bytes_freed == 0
    assert releases_on(host) == [R1, R2, R3]
    assert json.loads(json.dumps(result.to_json()))["dry_run"] is True


def test_a_symlink_named_like_a_release_is_never_followed_and_its_target_survives(
        hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    outside = host.path("/srv/outside")
    outside.mkdir()
    (outside / "canary").write_text("alive")
    own(hosts, outside)
    for rid in (R2, R3, R4):
        make_release(host, rid)
    set_current(host, R4)
    rels = host.path("/srv/app/releases")
    (rels / R1).symlink_to("/srv/outside")
    (rels / "20230101000000").symlink_to("/")
    (rels / "with spaces").mkdir()
    (rels / "..x").mkdir()
    own(hosts, rels)
    result = run_prune(config, "app", "prod", keep=1)
    assert result.ok
    assert (outside / "canary").read_text() == "alive"
    assert (rels / R1).is_symlink() and (rels / "20230101000000").is_symlink()
    assert (rels / "with spaces").is_dir() and (rels / "..x").is_dir()
    assert not (rels / R2).exists()  # beyond keep=1 and not the rollback target
    assert (rels / R3).is_dir() and (rels / R4).is_dir()


def test_a_release_that_cannot_be_deleted_is_a_clear_host_error_and_others_go_on(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    one, two = hosts.hosts[:2]
    for host in (one, two):
        for rid in (R1, R2, R3, R4):
            make_release(host, rid)
        set_current(host, R4)
    res = one.run_inside(f"mkdir /srv/app/releases/{R1}/locked && touch "
                         f"/srv/app/releases/{R1}/locked/f && chmod 555 "
                         f"/srv/app/releases/{R1}/locked")
    assert res.returncode == 0, res.stderr
    recorder = Recorder()
    result = run_prune(config, "app", "prod", keep=2, sink=recorder)
    assert not result.ok
    error = result.hosts["host1"].error
    assert f"could not delete release {R1}" in error and "Permission denied" in error
    assert "\n" not in error
    assert releases_on(one) == [R1, R3, R4]  # R2 went, R1 stayed (partly), nothing else
    assert (one.path(f"/srv/app/.deploytui/releases/{R1}.json")).exists()
    assert releases_on(two) == [R3, R4]
    assert result.hosts["host2"].error == ""


def test_prune_hosts_protects_what_the_caller_names(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    make_release(host, R1, state="ready")
    for rid in (R2, R3, R4):
        make_release(host, rid)
    set_current(host, R4)
    env = config.projects["app"].environments["prod"]
    with HostPool(env.hosts, transport_factory(config)) as pool:
        pool.connect()
        result = prune_hosts(pool, config.projects["app"], env.hosts, keep=1,
                             sink=Recorder(), protect={R1})
    assert result.ok
    assert releases_on(host) == [R1, R3, R4]  # R1 is unfinished but protected


def test_delete_release_refuses_current_and_deletes_one_other(hosts: Fleet) -> None:
    config = load(hosts, 2)
    for host in hosts.hosts[:2]:
        make_release(host, R1)
        make_release(host, R2)
        set_current(host, R2)
    refused = delete_release(config, "app", "prod", R2)
    assert not refused.ok and "current" in refused.errors["host1"]
    done = delete_release(config, "app", "prod", R1)
    assert done.ok
    for host in hosts.hosts[:2]:
        assert releases_on(host) == [R2]


def test_prune_takes_the_lock_and_refuses_while_someone_holds_it(hosts: Fleet) -> None:
    config = load(hosts, 1)
    host = hosts.hosts[0]
    for rid in (R1, R2, R3):
        make_release(host, rid)
    lock = host.path("/srv/app/.deploytui/lock")
    lock.mkdir(parents=True)
    (lock / "info").write_text(json.dumps({"user": "bob@ci", "operation": "deploy"}))
    own(hosts, host.path("/srv/app"))
    result = run_prune(config, "app", "prod", keep=1)
    assert result.locked and "bob@ci" in result.error
    assert releases_on(host) == [R1, R2, R3]
    assert os.path.isdir(lock)


def test_the_prune_command_dry_run_shows_each_host_and_the_bytes_it_would_free(
        hosts: Fleet, tmp_path) -> None:
    host = hosts.hosts[0]
    for rid in (R1, R2, R3):
        make_release(host, rid)
    set_current(host, R3)
    out = cli(hosts, tmp_path, "prune", "app", "prod", "--keep", "1", "--dry-run",
              config=hosts.config(1))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"host1: would delete {R1} (12.0 KiB, beyond keep=1)"
    assert releases_on(host) == [R1, R2, R3]


def test_the_prune_command_on_a_confirm_environment_needs_yes_without_a_terminal(
        hosts: Fleet, tmp_path) -> None:
    host = hosts.hosts[0]
    for rid in (R1, R2, R3):
        make_release(host, rid)
    set_current(host, R3)
    config = hosts.config(1)
    config["projects"]["app"]["environments"]["prod"]["confirm"] = True
    refused = cli(hosts, tmp_path, "prune", "app", "prod", "--keep", "1", config=config)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert releases_on(host) == [R1, R2, R3]
    done = cli(hosts, tmp_path, "prune", "app", "prod", "--keep", "1", "--yes", config=config)
    assert done.returncode == 0, done.stderr
    assert releases_on(host) == [R2, R3]


def test_the_prune_command_exits_3_when_locked(hosts: Fleet, tmp_path) -> None:
    host = hosts.hosts[0]
    make_release(host, R1)
    lock = host.path("/srv/app/.deploytui/lock")
    lock.mkdir(parents=True)
    own(hosts, host.path("/srv/app"))
    out = cli(hosts, tmp_path, "prune", "app", "prod", config=hosts.config(1))
    assert out.returncode == 3 and "locked by" in out.stderr
