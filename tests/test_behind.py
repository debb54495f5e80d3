"""Which release the fleet serves, and who is behind it: the vote, without any host."""

from __future__ import annotations

from deploytui.engine.operations.behind import fleet_position, rollback_steps
from deploytui.engine.remote.layout import ReleaseMeta
from deploytui.engine.remote.scan import HostRelease, HostScan

OLD, NEW, NEWER = "20261130000000", "20261201000000", "20261202000000"


def host(name: str, current: str | None, *held: str, excluded: dict | None = None
         ) -> HostScan:
    scan = HostScan(host=name, deploy_to="/srv/app", current=current)
    for rid in held or ((current,) if current else ()):
        meta = ReleaseMeta(rid, "ok", excluded=list((excluded or {}).get(rid, [])))
        scan.entries[rid] = HostRelease(rid, "dir", revision="abc", meta=meta)
    return scan


def fleet(*scans: HostScan):
    return fleet_position([s.host for s in scans], {s.host: s for s in scans})


def test_one_host_of_two_left_out_is_behind_not_a_disagreement() -> None:
    pos = fleet(host("h1", NEW, OLD, NEW, excluded={NEW: ["h2"]}), host("h2", OLD))
    assert pos.release == NEW and list(pos.behind) == ["h2"]
    assert pos.behind["h2"].describe(NEW) == f"h2: excluded from release {NEW}, serving {OLD}"


def test_without_a_record_the_majority_decides_and_a_tie_is_a_disagreement() -> None:
    pos = fleet(host("h1", NEW), host("h2", NEW), host("h3", OLD))
    assert pos.release == NEW and pos.behind["h3"].describe(NEW) == (
        f"h3: behind release {NEW}, serving {OLD}")
    tie = fleet(host("h1", NEW), host("h2", OLD))
    assert tie.release is None and not tie.behind
    assert tie.disagreement == (f"the hosts disagree, no release serves the majority: "
                                f"h1 on {NEW}; h2 on {OLD}")


def test_the_newest_of_several_recorded_exclusions_wins() -> None:
    pos = fleet(host("h1", NEWER, excluded={NEWER: ["h2", "h3"]}), host("h2", OLD),
                host("h3", OLD))
    assert pos.release == NEWER and list(pos.behind) == ["h2", "h3"]


def test_an_unreachable_host_is_behind_only_by_the_record() -> None:
    scans = {"h1": host("h1", NEW, excluded={NEW: ["h3"]}), "h2": host("h2", NEW)}
    pos = fleet_position(["h1", "h2", "h3", "h4"], scans, {"h3": "refused", "h4": "refused"})
    assert list(pos.behind) == ["h3"]
    assert pos.behind["h3"].describe(NEW) == (
        f"h3: excluded from release {NEW}, serving unknown (could not list: refused)")


def test_nothing_deployed_anywhere_is_nothing_behind() -> None:
    pos = fleet(host("h1", None), host("h2", None))
    assert pos.release is None and not pos.behind and not pos.disagreement


def test_a_rollback_plan_names_the_hosts_behind_and_what_each_does() -> None:
    pos = fleet(host("h1", NEW, excluded={NEW: ["h2"]}), host("h2", OLD))
    assert rollback_steps({"h1": NEW, "h2": OLD}, OLD, pos) == {
        "h1": f"switch {NEW} -> {OLD}, restart",
        "h2": f"behind (excluded from {NEW}); already serves {OLD}: unchanged"}
