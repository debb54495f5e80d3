"""Which release a deploy is, and what every host records about it.

The release id is the deploy's start time (14 digits, so Capistrano-layout readers sort
it); two deploys in the same second would clash, so the later one takes the next free
second. The metadata every host writes names the commit, who deployed it and when, and
who was left out; a catch-up carries the fleet's record instead of making a new one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from deploytui.engine.clock import utc_iso
from deploytui.engine.operations.request import DeployRequest
from deploytui.engine.operations.source import Resolved
from deploytui.engine.remote.layout import ReleaseMeta, release_id_now
from deploytui.engine.remote.scan import HostScan

MAX_ID_WAIT = 3.0  # seconds a deploy may wait for a release id no host has yet


def release_meta(release_id: str, resolved: Resolved, request: DeployRequest,
                 excluded: list[str], env: dict[str, Any] | None = None) -> ReleaseMeta:
    """What every host records about this release: a catch-up carries the fleet's
    record (who deployed it, when, who was left out, its env)."""
    r, again = resolved, request.catch_up
    if again is None:
        return ReleaseMeta(release_id, "preparing", sha=r.sha, subject=r.subject,
                           ref=r.ref, deployed_at=utc_iso(),
                           deployed_by=request.user, excluded=list(excluded), env=env)
    return ReleaseMeta(release_id, "preparing", sha=r.sha,
                       subject=again.subject or r.subject, ref=again.ref or r.ref,
                       deployed_at=again.deployed_at or utc_iso(),
                       deployed_by=again.deployed_by or request.user,
                       excluded=list(again.excluded), once=list(again.once),
                       env=again.env)


def next_release_id(current: str, scans: Iterable[HostScan],
                    max_wait: float = MAX_ID_WAIT) -> str | None:
    """A deploy started in the same second as the last one: wait for the next second
    newer than every id the hosts list; None if they list ids too far ahead to wait for."""
    taken = max([current, *(rid for scan in scans for rid in scan.releases)])
    deadline = time.monotonic() + max_wait
    while (fresh := release_id_now()) <= taken:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    return fresh
