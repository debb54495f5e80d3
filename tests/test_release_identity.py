"""A deploy in the same second as the last one takes the next free second as its id."""

from __future__ import annotations

import time

from deploytui.engine.operations.deploy.release_identity import next_release_id
from deploytui.engine.remote.layout import release_id_now
from deploytui.engine.remote.scan import HostRelease, HostScan


def listing(*ids: str) -> HostScan:
    return HostScan("web1", "/srv/app", entries={rid: HostRelease(rid, "dir") for rid in ids})


def test_a_clashing_id_becomes_the_next_second_no_host_has() -> None:
    now = release_id_now()
    fresh = next_release_id(now, [listing(now)])
    assert fresh is not None and len(fresh) == 14 and fresh > now


def test_ids_too_far_ahead_to_wait_for_give_none() -> None:
    ahead = release_id_now(time.time() + 3600)
    assert next_release_id(release_id_now(), [listing(ahead)], max_wait=0.1) is None
