"""What a deploy ships: the commits since the release it replaces, for the team's chat.

Computed on the deploying machine, from the local mirror the ref was resolved with
(source.py), between the sha the hosts serve now (the current release's REVISION, or a
pull working copy's HEAD) and the sha being deployed. Costs two or three local git
calls, no host round trip: the hosts' current releases come from the lock's probe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from deploytui.config.model import Project
from deploytui.engine.events import Commit, Shipping
from deploytui.engine.operations.repo_links import compare_url
from deploytui.engine.operations.source import (
    Resolved,
    SourceError,
    cache_dir,
    changes_between,
    repo_url,
)
from deploytui.engine.remote.scan import HostScan

SHIPPED_LIMIT = 10  # commits a message lists; the rest is "N more"


def serving_sha(scans: Iterable[HostScan], heads: Iterable[str | None] = ()) -> str:
    """The sha most hosts serve now ("" when none is known): hosts left behind by an
    `--exclude` deploy must not make the message list the wrong span."""
    shas: list[str] = [h for h in heads if h]
    for scan in scans:
        rel = scan.releases.get(scan.current or "")
        if rel is not None:
            sha = rel.revision or (rel.meta.sha if rel.meta is not None else "")
            if sha:
                shas.append(sha)
    if not shas:
        return ""
    return Counter(shas).most_common(1)[0][0]


def shipping(resolved: Resolved, previous: str, remote: str) -> Shipping:
    """The Shipping event for a deploy of resolved.sha over `previous`."""
    if not previous:
        return Shipping(previous_sha="", sha=resolved.sha, direction="unknown")
    try:
        changes = changes_between(resolved, previous, SHIPPED_LIMIT, authors=True)
    except SourceError:  # a git that times out must not hold the deploy up
        return Shipping(previous_sha=previous, sha=resolved.sha, direction="unknown")
    commits = tuple(Commit(c[0], c[1], c[2]) for c in changes.commits if len(c) == 3)
    old, new = ((resolved.sha, previous) if changes.direction == "back"
                else (previous, resolved.sha))  # a link to what is taken back, then
    link = compare_url(remote, old, new) if changes.direction != "same" else ""
    return Shipping(previous_sha=previous, sha=resolved.sha, direction=changes.direction,
                    commits=commits, total=changes.total, compare_url=link)


def rollback_shipping(project: Project, scans: dict[str, HostScan], target: str | None,
                      target_sha: str = "") -> Shipping:
    """What a rollback takes back (or brings), from the local mirror as it is: no fetch,
    a rollback is how an incident ends and must not wait on the git server."""
    if not target_sha:
        for scan in scans.values():
            rel = scan.releases.get(target or "")
            if rel is not None:
                target_sha = (rel.meta.sha if rel.meta is not None and rel.meta.sha
                              else rel.revision)
                break
    heads = [scan.head_sha for scan in scans.values()] if project.strategy == "pull" else []
    previous = serving_sha([] if heads else scans.values(), heads)
    url = repo_url(project)
    cache = cache_dir(url)
    if not target_sha or not (cache / "HEAD").exists():
        return Shipping(previous_sha=previous, sha=target_sha, direction="unknown")
    resolved = Resolved(repo_url=url, ref="", branch="", sha=target_sha, subject="",
                        cache=cache)
    return shipping(resolved, previous, project.repo)
