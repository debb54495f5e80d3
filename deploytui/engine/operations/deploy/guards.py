"""Guards a team asks for: a deploy that ships too much, a deploy that ships nothing.

Both read what the hosts serve from what the operation already read (the lock probe's
listing, the plan's inspection) and count commits with the deploying machine's git
(source.changes_between, on the local mirror): no extra round to the hosts.
"""

from __future__ import annotations

from collections.abc import Mapping

from deploytui.config.model import Project
from deploytui.engine.operations.source import Changes, Resolved, changes_between
from deploytui.engine.remote.scan import HostScan


def serving_shas(project: Project, names: list[str], scans: Mapping[str, HostScan],
                 heads: Mapping[str, str | None]) -> dict[str, str]:
    """host -> the commit it serves now ("" when nothing, or unknown)."""
    out: dict[str, str] = {}
    for name in names:
        if project.strategy == "pull":
            out[name] = heads.get(name) or ""
            continue
        scan = scans.get(name)
        rel = scan.entries.get(scan.current) if scan is not None and scan.current else None
        if rel is None:
            out[name] = ""
        else:
            out[name] = rel.meta.sha if rel.meta is not None and rel.meta.sha else rel.revision
    return out


def already_served(serving: Mapping[str, str], sha: str) -> bool:
    """Every host serves exactly `sha` already."""
    return bool(serving) and bool(sha) and all(v == sha for v in serving.values())


def most_served(serving: Mapping[str, str]) -> str:
    shas = [s for s in serving.values() if s]
    return max(set(shas), key=shas.count) if shas else ""


def too_many(changes: Changes | None, max_commits: int) -> str | None:
    """The warning for a deploy that ships more than `max_commits` commits, or None."""
    if changes is None or changes.direction != "forward" or changes.total <= max_commits:
        return None
    return (f"this deploy ships {changes.total} commits, more than max_commits"
            f" {max_commits}: consider deploying smaller steps")


def commit_warning(project: Project, resolved: Resolved, serving: Mapping[str, str]
                   ) -> str | None:
    old = most_served(serving)
    if not old or old == resolved.sha:
        return None
    return too_many(changes_between(resolved, old, limit=1), project.max_commits)


def unchanged_line(project: str, environment: str, sha: str) -> str:
    return (f"every host of {project}/{environment} already serves {sha[:12]}: nothing to"
            " deploy (deploy it again with --force)")
