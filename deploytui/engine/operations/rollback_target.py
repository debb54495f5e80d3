"""Which release a rollback goes to, and why a request is refused before anything runs.

Checked twice: the id's shape before connecting (`check_release_id`), then against every
host's releases once the locks are held (`choose_target`; `pull_target` for a `pull`
project, from revisions.log). A refusal is one line and changes nothing.
"""

from __future__ import annotations

from deploytui.engine.failure import Refused
from deploytui.engine.operations.lifecycle import Stop
from deploytui.engine.operations.releases import FleetReleases
from deploytui.engine.remote.safety import is_release_id
from deploytui.engine.remote.scan import HostScan


class RollbackRefused(Stop, Refused):
    """Nothing was changed: no target, a target missing on some hosts, ..."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, step="choose target", kind="refused", text=reason)


class NotARelease(RollbackRefused):
    usage = True

    def __init__(self, to: str) -> None:
        super().__init__(f"'{to}' is not a release id (14 digits)")


class AlreadyCurrent(RollbackRefused):
    """The target is what every host serves: a request that asks for nothing."""

    usage = True

    def __init__(self, target: str) -> None:
        super().__init__(f"release {target} is already current on every host")


def choose_target(fleet: FleetReleases, to: str | None) -> str:
    """The release to roll back to, or RollbackRefused saying why not (one line)."""
    if to is None:
        target = fleet.rollback_target()
        if target is None:
            raise RollbackRefused("no earlier release is ok on every host; nothing to roll "
                                  "back to (name one with --to)")
        return target
    check_release_id(to)
    missing = fleet.missing_on(to)
    if missing:
        late = [h for h in missing if fleet.position.is_behind(h)]
        hint = (f" ({', '.join(late)} behind: `deploytui catch-up` brings "
                f"{'it' if len(late) == 1 else 'them'} to {fleet.fleet_current})"
                if late and to == fleet.fleet_current else "")
        raise RollbackRefused(f"release {to} is not on every host: missing on "
                              f"{', '.join(missing)}{hint}")
    if all(fleet.hosts[h].current == to for h in fleet.hosts):
        raise AlreadyCurrent(to)
    return to


def check_release_id(to: str) -> None:
    """RollbackRefused unless `to` can name a release at all (checked before connecting)."""
    if not is_release_id(to):
        raise NotARelease(to)


def pull_target(scan: HostScan, to: str | None) -> tuple[str, str]:
    """(release id or '', sha) of the commit a pull project goes back to."""
    deploys = [e for e in scan.log if not e.rollback and e.sha]
    if to is not None:
        for e in reversed(deploys):
            if to in (e.release_id, e.sha) or (len(to) >= 7 and e.sha.startswith(to)):
                return e.release_id, e.sha
        raise RollbackRefused(f"{scan.host}: '{to}' is not a deployed release or commit "
                              "in revisions.log")
    head = scan.head_sha
    shas = [e.sha for e in deploys]
    # Walk back from the newest deploy of HEAD to the deploy before it with another sha.
    idx = max((i for i, s in enumerate(shas) if head.startswith(s) or s.startswith(head)),
              default=len(shas))
    for e in reversed(deploys[:idx]):
        if not (head.startswith(e.sha) or e.sha.startswith(head)):
            return e.release_id, e.sha
    raise RollbackRefused(f"{scan.host}: no earlier deployed commit in revisions.log")


