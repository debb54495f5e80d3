"""The end of a successful deploy, as ONE command per host.

Metadata `ok`, the revisions.log line (Capistrano's wording), the prune deletions and
the lock release share a command: each part reports its own status (in a subshell
only where it could exit: the prune's deletions), so a failed part is a warning naming
host and part, never a failed deploy (the release is live by now). The prune is
planned here, from the release listing the preflight probe took under the same lock
plus the release just switched to, with prune.plan_host's rules; every deletion is
safety.delete_release_command, so the host still refuses a symlink, a non-directory or
the current release when it deletes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
_FLEET = "Z-FLEET"


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


@dataclass(frozen=True)
class Part:
    """One part of a host's last command, with its own status line (`tag`).

    `what` names it in a warning; `after` runs it only if the part tagged `after`
    succeeded; a part with no tag is raw shell whose output its caller reads.
    """

    tag: str
    command: str
    what: str = ""
    after: str = ""
    inline: bool = False  # never exits, `cd`s or sets options: no subshell (tagged())

    def shell(self) -> str:
        if not self.tag:
            return self.command
        text = tagged(self.tag, self.command, inline=self.inline)
        return f"if [ \"${{__dt_rc:-0}}\" -eq 0 ]; then {text}; fi" if self.after else text


@dataclass
class LastCommand:
    """What `run_last_commands` found on every host."""

    problems: dict[str, list[str]] = field(default_factory=dict)  # host -> "host: what: why"
    unlocked: set[str] = field(default_factory=set)  # hosts whose lock was released
    output: dict[str, str] = field(default_factory=dict)  # host -> stdout (raw parts)

    @property
    def warnings(self) -> list[str]:
        return [w for problems in self.problems.values() for w in problems]


def run_last_commands(pool: HostPool, hosts: list[str], parts: Callable[[str], list[Part]],
                      unlock_command: Callable[[str], str], *, step: str, timeout: float,
                      record: Callable[[str], str] | None = None) -> LastCommand:
    """ONE command per host: its `parts`, the fleet record (`record(host)`), then the
    lock release, each reporting its own status, so a failed part is a warning naming
    host and part, never a failed operation. Deploy's finish, deploy's cleanup and
    rollback's finish all end here."""
    unlock = Part(_UNLOCK, "")
    found = LastCommand()

    def last(host: Host, transport: Transport) -> None:
        name = host.name
        recorded = [Part(_FLEET, record(name), "fleet record", inline=True)] if record else []
        own = [*parts(name), *recorded, Part(_UNLOCK, unlock_command(name), inline=True)]
        res = transport.run("\n".join(p.shell() for p in own), capture=True, timeout=timeout)
        found.output[name] = res.stdout
        status = tag_results(res.stdout, [p.tag for p in own if p.tag])
        if status[unlock.tag] is None:
            found.unlocked.add(name)
        found.problems[name] = [f"{name}: {p.what}: {status[p.tag]}" for p in own
                                if p.tag and p.what and status[p.tag]
                                and not (p.after and status.get(p.after))]

    outcomes = pool.map(last, [pool.host(n) for n in hosts], step=step)
    for name, failure in outcomes.failed.items():
        found.problems.setdefault(name, []).append(str(failure))
    return found


def finish_parts(layout: Layout, meta_command: str, revisions_line: str,
                 prune: HostPrune | None) -> list[Part]:
    """A successful deploy's last command: metadata ok, revisions.log, the prune."""
    parts = [Part(_META, meta_command, "write metadata", inline=True),
             Part(_REV, append_command(layout, revisions_line), "revisions.log", inline=True)]
    if prune is not None and prune.deletions:
        for d in prune.deletions:  # sized here: the preflight listing skips `du`
            path = q(layout.release(d.release_id))
            parts.append(Part("", f"echo \"{_SIZE} {d.release_id} $(du -sk -- {path}"
                                  " 2>/dev/null | cut -f1)\""))
        parts.append(Part("", delete_command(layout, [d.release_id for d in prune.deletions])))
    return parts


def finish_hosts(pool: HostPool, hosts: list[Host], layouts: dict[str, Layout], *,
                 meta_command: Callable[[str], str], revisions_line: str,
                 prunes: dict[str, HostPrune], unlock_command: Callable[[str], str],
                 sink: Sink, timeout: float, record: Callable[[str], str] | None = None
                 ) -> tuple[list[str], set[str]]:
    """Run the finish on every host; returns (warnings, hosts whose lock was released)."""
    done = run_last_commands(
        pool, [h.name for h in hosts],
        lambda name: finish_parts(layouts[name], meta_command(name), revisions_line,
                                  prunes.get(name)),
        unlock_command, step="finish", timeout=timeout, record=record)
    for name, output in done.output.items():
        prune = prunes.get(name)
        if prune is None or not prune.deletions:
            continue
        _sizes(prune, output)
        for d in prune.deletions:
            sink(HostLine(name, f"deleting release {d.release_id}"
                                f" ({human_bytes(d.size_bytes)}, {d.reason})", "info"))
        record_deletions(prune, output, sink)
        if prune.error:
            done.problems[name].append(f"{name}: prune: {prune.error}")
    return [w for h in hosts for w in done.problems.get(h.name, [])], done.unlocked


def _sizes(prune: HostPrune, output: str) -> None:
    by_id = {d.release_id: d for d in prune.deletions}
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        rid, _, kb = rest.partition(" ")
        if tag == _SIZE and rid in by_id and kb.strip().isdigit():
            by_id[rid].size_bytes = int(kb.strip()) * 1024
