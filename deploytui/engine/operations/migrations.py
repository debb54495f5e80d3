"""Going back past a migration: which releases newer than a rollback target ran `once`.

A release records the `once` commands (migrations) that ran with it. Rolling back to an
older release does not undo them, so the plan, the confirmation and the journal say so.
A failed release counts too: its migration ran even if it never served.
"""

from __future__ import annotations

from collections.abc import Iterable

from deploytui.engine.remote.scan import HostScan


def migrations_after(scans: Iterable[HostScan], target: str) -> dict[str, list[str]]:
    """release id -> its `once` commands, for every release newer than `target`."""
    found: dict[str, list[str]] = {}
    for scan in scans:
        for rid, release in scan.entries.items():
            if rid > target and release.meta is not None and release.meta.once:
                found.setdefault(rid, list(release.meta.once))
    return dict(sorted(found.items(), reverse=True))


def migration_warnings(scans: Iterable[HostScan], target: str) -> list[str]:
    """One line per release that migrated after `target`, newest first."""
    return [f"{rid} ran `{'; '.join(commands)}`: the database may be ahead of the code you "
            f"are going back to ({target})"
            for rid, commands in migrations_after(scans, target).items()]
