"""The end of a successful deploy, as ONE command per host.

Metadata `ok`, the revisions.log line (Capistrano's wording), the prune deletions and
the lock release share a command: each part runs in its own subshell and reports its
own status, so a failed part is a warning naming host and part, never a failed deploy
(the release is live by now). The prune is planned here, from the release listing the
preflight probe took under the same lock plus the release just switched to, with
prune.plan_host's rules; every deletion is safety.delete_release_command, so the host
still refuses a symlink, a non-directory or the current release when it deletes.
"""

from __future__ import annotations

from collections.abc import Callable

from deploytui.config.model import Host
from deploytui.engine.events import HostLine, Sink
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations.prune import (
    HostPrune,
    delete_command,
    human_bytes,
    plan_host,
    record_deletions,
)
from deploytui.engine.remote.layout import Layout, ReleaseMeta
from deploytui.engine.remote.revisions import append_command
from deploytui.engine.remote.scan import HostRelease, HostScan
from deploytui.engine.remote.script import tag_results, tagged
from deploytui.engine.shell import q

_META, _REV, _UNLOCK, _SIZE = "Z-META", "Z-REV", "Z-UNLOCK", "Z-SIZE"


def plan_after_deploy(scan: HostScan, release_id: str, sha: str, keep: int) -> HostPrune:
    """The prune plan for the host as it is once `release_id` is current and ok."""
    entries = dict(scan.entries)
    entries[release_id] = HostRelease(release_id, "dir", 0, sha, ReleaseMeta(release_id, "ok"))
    after = HostScan(host=scan.host, deploy_to=scan.deploy_to, current=release_id,
                     entries=entries, log=scan.log)
    return plan_host(after, keep, protect={release_id})


def plan_prunes(hosts: list[str], scans: dict[str, HostScan], release_id: str, sha: str,
                keep: int) -> tuple[dict[str, HostPrune], list[str]]:
    """host -> prune plan; a host without a listing is skipped with a warning."""
    plans = {h: plan_after_deploy(scans[h], release_id, sha, keep) for h in hosts if h in scans}
    return plans, [f"{h}: prune: skipped (no release listing)" for h in hosts if h not in scans]


def finish_command(layout: Layout, meta_command: str, revisions_line: str,
                   prune: HostPrune | None, unlock_command: str) -> str:
    parts = [tagged(_META, meta_command), tagged(_REV, append_command(layout, revisions_line))]
    if prune is not None and prune.deletions:
        for d in prune.deletions:  # sized here: the preflight listing skips `du`
            path = q(layout.release(d.release_id))
            parts.append(f"echo \"{_SIZE} {d.release_id} $(du -sk -- {path} 2>/dev/null"
                         " | cut -f1)\"")
        parts.append(delete_command(layout, [d.release_id for d in prune.deletions]))
    parts.append(tagged(_UNLOCK, unlock_command))
    return "\n".join(parts)


def finish_hosts(pool: HostPool, hosts: list[Host], layouts: dict[str, Layout], *,
                 meta_command: Callable[[str], str], revisions_line: str,
                 prunes: dict[str, HostPrune], unlock_command: Callable[[str], str],
                 sink: Sink, timeout: float) -> tuple[list[str], set[str]]:
    """Run the finish on every host; returns (warnings, hosts whose lock was released)."""
    def finish(host: Host, transport: Transport) -> list[str]:
        name = host.name
        prune = prunes.get(name)
        res = transport.run(finish_command(layouts[name], meta_command(name), revisions_line,
                                           prune, unlock_command(name)),
                            capture=True, timeout=timeout)
        status = tag_results(res.stdout, (_META, _REV, _UNLOCK))
        problems = []
        if status[_META]:
            problems.append(f"{name}: write metadata: {status[_META]}")
        if status[_REV]:
            problems.append(f"{name}: revisions.log: {status[_REV]}")
        if prune is not None and prune.deletions:
            _sizes(prune, res.stdout)
            for d in prune.deletions:
                sink(HostLine(name, f"deleting release {d.release_id}"
                                    f" ({human_bytes(d.size_bytes)}, {d.reason})", "info"))
            record_deletions(prune, res.stdout, sink)
            if prune.error:
                problems.append(f"{name}: prune: {prune.error}")
        if status[_UNLOCK] is None:
            unlocked.add(name)
        return problems

    unlocked: set[str] = set()
    warnings: list[str] = []
    outcomes = pool.map(finish, hosts)
    for host in hosts:
        outcome = outcomes[host.name]
        if outcome.error is not None:
            warnings.append(f"finish: {outcome.error}")
        else:
            warnings.extend(outcome.value or [])
    return warnings, unlocked


def _sizes(prune: HostPrune, output: str) -> None:
    by_id = {d.release_id: d for d in prune.deletions}
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        rid, _, kb = rest.partition(" ")
        if tag == _SIZE and rid in by_id and kb.strip().isdigit():
            by_id[rid].size_bytes = int(kb.strip()) * 1024
