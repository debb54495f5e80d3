"""Which release the fleet serves, and which hosts are behind it.

A deploy with `--exclude` leaves hosts on the release they served; catch-up brings them
to the fleet's release later. "The fleet's release" is decided by a vote that counts the
exclusions every deployed host records (ReleaseMeta.excluded): a release wins when it is
served by more than half of the listed hosts NOT excluded from it. So one host of two
left out of a deploy is behind (it had no vote on that release), while two hosts of
three serving different releases with nothing recorded is a real disagreement, which
catch-up refuses to settle by guessing. When several releases win (each of several
deploys excluded many hosts), the newest wins: a later deploy supersedes an earlier one.

Pure functions over release scans (engine/remote/scan.py): testable without a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploytui.engine.remote.scan import HostScan


@dataclass
class Behind:
    """One host that does not serve the fleet's release."""

    host: str
    serving: str | None  # the release it serves; None: nothing, or unknown (unreachable)
    excluded: bool  # the fleet's release records it as left out on purpose
    error: str = ""  # could not be listed: it is behind only by the record

    def describe(self, release: str) -> str:
        """The drift line: "h05: excluded from release R, serving O"."""
        serving = (f"unknown (could not list: {self.error})" if self.error
                   else self.serving or "nothing")
        if self.excluded:
            return f"{self.host}: excluded from release {release}, serving {serving}"
        return f"{self.host}: behind release {release}, serving {serving}"


@dataclass
class FleetPosition:
    release: str | None = None  # what the fleet serves; None: nothing deployed, or disagree
    behind: dict[str, Behind] = field(default_factory=dict)  # in configured order
    excluded: dict[str, list[str]] = field(default_factory=dict)  # release -> hosts left out
    disagreement: str = ""  # one line when no release serves the majority

    def is_behind(self, host: str) -> bool:
        return host in self.behind


def excluded_from(scans: Mapping[str, HostScan], release_id: str) -> list[str]:
    """The hosts left out of release_id, as the hosts that hold it record."""
    left: set[str] = set()
    for scan in scans.values():
        rel = scan.entries.get(release_id)
        if rel is not None and rel.meta is not None:
            left.update(rel.meta.excluded)
    return sorted(left)


def fleet_position(host_order: list[str], scans: Mapping[str, HostScan],
                   errors: Mapping[str, str] | None = None) -> FleetPosition:
    """The fleet's release and who is behind it (see the module docstring)."""
    errors = errors or {}
    currents = {h: scans[h].current for h in host_order if h in scans}
    position = FleetPosition()
    candidates = sorted({c for c in currents.values() if c}, reverse=True)
    for rid in candidates:
        left = excluded_from(scans, rid)
        if left:
            position.excluded[rid] = left
    winners = [rid for rid in candidates if _majority(rid, currents,
                                                      position.excluded.get(rid, []))]
    if not winners:
        if len(candidates) > 1:
            groups: dict[str, list[str]] = {}
            for host, cur in currents.items():
                groups.setdefault(cur or "no release", []).append(host)
            position.disagreement = ("the hosts disagree, no release serves the majority: "
                                     + "; ".join(f"{', '.join(hs)} on {rid}"
                                                 for rid, hs in groups.items()))
        return position
    release = position.release = winners[0]
    left_out = set(position.excluded.get(release, []))
    for host in host_order:
        if host in currents and currents[host] != release:
            position.behind[host] = Behind(host, currents[host], host in left_out)
        elif host not in currents and host in left:
            position.behind[host] = Behind(host, None, True,
                                           error=errors.get(host, "not listed"))
    return position


def _majority(release_id: str, currents: Mapping[str, str | None], left: list[str]) -> bool:
    voters = [h for h in currents if h not in left]
    serving = sum(1 for h in voters if currents[h] == release_id)
    return serving * 2 > len(voters)


def rollback_steps(currents: Mapping[str, str | None], target: str,
                   position: FleetPosition) -> dict[str, str]:
    """host -> what a rollback to `target` does there, one line each; a host that is
    behind and already serves the target is left alone (nothing to switch or restart)."""
    steps: dict[str, str] = {}
    for host, current in currents.items():
        late = position.behind.get(host)
        tag = ""
        if late is not None:
            tag = (f"behind (excluded from {position.release}); " if late.excluded
                   else f"behind {position.release}; ")
        if current == target:
            steps[host] = f"{tag}already serves {target}: unchanged"
        else:
            steps[host] = f"{tag}switch {current or 'nothing'} -> {target}, restart"
    return steps
