"""A rollback past a release whose `once` steps ran says that the database may be ahead."""

from __future__ import annotations

from deploytui.engine.operations.migrations import migration_warnings
from deploytui.engine.remote.layout import ReleaseMeta
from deploytui.engine.remote.scan import HostRelease, HostScan


def scan(host: str, current: str, **once: list[str]) -> HostScan:
    ids = ["20261201000001", "20261201000002", "20261201000003"]
    entries = {rid: HostRelease(rid, "dir", meta=ReleaseMeta(rid, "ok",
                                                            once=once.get(f"r{rid[-1]}", [])))
               for rid in ids}
    return HostScan(host, "/srv/app", current=current, entries=entries)


def test_going_back_past_a_migration_warns_naming_the_release_and_its_command() -> None:
    scans = [scan("web1", "20261201000003", r2=["python manage.py migrate"]),
             scan("web2", "20261201000003", r2=["python manage.py migrate"])]
    assert migration_warnings(scans, "20261201000001") == [
        "20261201000002 ran `python manage.py migrate`: the database may be ahead of the "
        "code you are going back to (20261201000001)"]


def test_going_back_to_the_release_that_migrated_itself_is_no_warning() -> None:
    scans = [scan("web1", "20261201000003", r2=["migrate"])]
    assert migration_warnings(scans, "20261201000002") == []


def test_a_failed_release_that_migrated_counts_too_newest_first() -> None:
    scans = [scan("web1", "20261201000002", r2=["migrate a"], r3=["migrate b", "seed"])]
    assert [w.split(" ran ")[0] for w in migration_warnings(scans, "20261201000001")] == [
        "20261201000003", "20261201000002"]
    assert "ran `migrate b; seed`" in migration_warnings(scans, "20261201000001")[0]
