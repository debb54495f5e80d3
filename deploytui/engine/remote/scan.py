"""Reading one host's release picture in ONE remote command, and parsing it.

The listing (`releases`), prune, a deploy's preflight probe and a rollback's lock probe
all read hosts with this one command, trimmed by flags for what each needs, so the
readers cannot drift apart. The output is line-tagged; `parse_scan` reads any trim of it.
Capistrano layouts (no metadata) are read too: their history comes from the release
ids, REVISION files and revisions.log.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.remote.layout import Layout, ReleaseMeta
from deploytui.engine.remote.safety import is_release_id
from deploytui.engine.shell import q

LOG_TAIL = 500
META_DIR = ".deploytui/releases"  # relative to deploy_to, as Layout.metadata_dir
# Capistrano's revisions.log wording (deploytui writes the same lines).
DEPLOY_LINE = re.compile(
    r"^Branch (?P<branch>\S*) \(at (?P<sha>[^)]*)\) deployed as release (?P<id>\d{14})"
    r" by (?P<user>.+?)\s*$")
ROLLBACK_LINE = re.compile(r"^(?P<user>.+?) rolled back to release (?P<id>\d{14})\s*$")

# Host-level states of a release, as shown and as in --json.
CURRENT, PREVIOUS, OK, FAILED, UNFINISHED, ROLLED_BACK = (
    "current", "previous", "ok", "failed", "unfinished", "rolled_back")
GOOD_STATES = (OK, PREVIOUS)


def scan_command(layout: Layout, *, sizes: bool = True, log: bool = True) -> str:
    """The single command that prints a host's release picture, line-tagged.

    `sizes`: per-release `du` and free disk, the forks that make a scan dear on the
    host's CPU (a du per directory: one du over all would count shared hard links
    once); `log`: the revisions.log tail (a pull project's history). Without them it
    starts one process (`readlink current`): where `current` and `releases/` really
    are comes from `cd -P` and $PWD, builtins. It never exits and runs in the caller's
    shell (a lock command's probe), so it leaves that shell in deploy_to.
    """
    free = "stat -f -c 'F %a %S' . 2>/dev/null; " if sizes else ""
    size = "du -sk -- \"$p\" 2>/dev/null || echo; " if sizes else "echo; "
    tail = (f"if [ -f revisions.log ]; then tail -n {LOG_TAIL} revisions.log | sed 's/^/L /'; fi; "
            if log else "")
    return (
        f"if cd -- {q(layout.deploy_to)} 2>/dev/null; then "
        "if [ -L current ]; then echo \"C $(readlink current)\"; "
        "  if cd -P ./current 2>/dev/null; then echo \"R $PWD\"; cd -- \"$OLDPWD\"; "
        "  elif [ -e current ]; then echo \"R $(readlink -f current)\"; fi; "
        "elif [ -e current ]; then echo 'C!'; fi; "
        "if cd -P ./releases 2>/dev/null; then echo \"P $PWD\"; cd -- \"$OLDPWD\";"
        " else echo 'P '; fi; "
        f"{free}"
        "if [ -d .git ]; then echo \"G $(git rev-parse HEAD 2>/dev/null)\"; fi; "
        "for p in releases/*; do n=${p#releases/}; "
        "  [[ $n =~ ^[0-9]{14}$ ]] || continue; "
        "  if [ -L \"$p\" ]; then echo \"E $n l\"; "
        f"  elif [ -d \"$p\" ]; then printf 'E %s d ' \"$n\"; {size}"
        "    if [ -f \"$p/REVISION\" ] && [ ! -L \"$p/REVISION\" ]; then "
        "      v=; read -r v < \"$p/REVISION\"; echo \"V $n $v\"; fi; "
        "  else echo \"E $n o\"; fi; "
        f"  m={META_DIR}/$n.json; "
        "  if [ -f \"$m\" ] && [ ! -L \"$m\" ]; then "
        "    v=; IFS= read -r v < \"$m\"; echo \"M $n $v\"; fi; "
        "done; "
        # a pull project keeps metadata without release dirs (who was left out, ...)
        f"if [ -d .git ]; then for m in {META_DIR}/*.json; do n=${{m##*/}}; n=${{n%.json}}; "
        "  [[ $n =~ ^[0-9]{14}$ ]] && [ -f \"$m\" ] && [ ! -L \"$m\" ] || continue; "
        "  v=; IFS= read -r v < \"$m\"; echo \"M $n $v\"; done; fi; "
        f"{tail}true; "
        "else echo 'X nodir'; fi"
    )


def free_kb(fields: str) -> int | None:
    """KiB free to a non-root user, from `stat -f -c '%a %S'` (blocks available, block
    size): the figure `df -Pk` calls Available."""
    parts = fields.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]) * int(parts[1]) // 1024


def is_scan_output(output: str) -> bool:
    """Whether `output` holds a scan (every scan prints its `P` or `X` line)."""
    return any(line.startswith(("P ", "X ")) for line in output.splitlines())


@dataclass
class HostRelease:
    """One entry named like a release id under `releases/` on one host."""

    release_id: str
    kind: str  # dir | symlink | other | virtual (a pull deploy); symlink/other = drift
    size_bytes: int = 0
    revision: str = ""
    meta: ReleaseMeta | None = None


@dataclass
class LogEntry:
    release_id: str
    sha: str = ""
    user: str = ""
    branch: str = ""
    rollback: bool = False


@dataclass
class HostScan:
    """The parsed output of scan_command for one host."""

    host: str
    deploy_to: str
    exists: bool = True
    current: str | None = None  # release id `current` resolves to, when it is a release
    current_target: str | None = None  # readlink current, raw
    current_problem: str = ""  # dangling / outside releases/ / not a symlink
    free_bytes: int | None = None
    head_sha: str = ""  # pull projects: the working copy's HEAD
    entries: dict[str, HostRelease] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def releases(self) -> dict[str, HostRelease]:
        """Real release directories only (symlinks and files named like ids excluded);
        for a pull project, its deploys."""
        return {k: v for k, v in self.entries.items() if v.kind in ("dir", "virtual")}

    def state(self, release_id: str) -> str:
        """current, previous, ok, failed, unfinished or rolled_back on this host."""
        if release_id == self.current:
            return CURRENT
        state = self._base_state(release_id)
        if state == OK and release_id == self.previous:
            return PREVIOUS
        return state

    def _base_state(self, release_id: str) -> str:
        rel = self.entries[release_id]
        if rel.meta is not None:
            return {"preparing": UNFINISHED, "ready": UNFINISHED, "failed": FAILED,
                    "rolled_back": ROLLED_BACK}.get(rel.meta.state, OK)
        return OK if rel.revision else UNFINISHED

    @property
    def previous(self) -> str | None:
        """The rollback target on this host: the newest ok release before current."""
        if self.current is None:
            return None
        older = [rid for rid in self.releases if rid < self.current
                 and self._base_state(rid) == OK]
        return max(older, default=None)


def parse_scan(host: str, deploy_to: str, output: str) -> HostScan:
    """Any trim of scan_command's output (lines with other tags are ignored)."""
    scan = HostScan(host=host, deploy_to=deploy_to)
    resolved = releases_real = None
    current_flag = False
    loose: dict[str, ReleaseMeta | None] = {}  # metadata without a release dir (pull)
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        rest = rest.rstrip()
        if tag == "X":
            scan.exists = False
        elif tag == "C":
            scan.current_target = rest
        elif tag == "C!":
            current_flag = True
        elif tag == "R":
            resolved = rest
        elif tag == "P":
            releases_real = rest
        elif tag == "F" and (kb := free_kb(rest)) is not None:
            scan.free_bytes = kb * 1024
        elif tag == "G":
            scan.head_sha = rest
        elif tag == "E":
            parts = rest.split()
            if len(parts) >= 2 and is_release_id(parts[0]):
                kind = {"d": "dir", "l": "symlink"}.get(parts[1], "other")
                size = int(parts[2]) * 1024 if len(parts) > 2 and parts[2].isdigit() else 0
                scan.entries[parts[0]] = HostRelease(parts[0], kind, size)
        elif tag in ("V", "M"):
            rid, _, value = rest.partition(" ")
            rel = scan.entries.get(rid)
            if rel is None:
                if tag == "M":
                    loose[rid] = ReleaseMeta.from_json(value)
                continue
            if tag == "V":
                rel.revision = value.strip()
            else:
                rel.meta = ReleaseMeta.from_json(value)
        elif tag == "L":
            entry = parse_log_line(rest)
            if entry is not None:
                scan.log.append(entry)
    _resolve_current(scan, resolved, releases_real, current_flag)
    if scan.head_sha and not scan.entries:
        _pull_history(scan)
        for rid, meta in loose.items():
            if rid in scan.entries and scan.entries[rid].meta is None:
                scan.entries[rid].meta = meta
    return scan


def _pull_history(scan: HostScan) -> None:
    """A pull project's working copy: its deploys (revisions.log) stand in for releases.

    They are `virtual` entries (nothing on disk to size or delete); current is the
    newest deploy of the working copy's HEAD.
    """
    for entry in scan.log:
        if not entry.rollback and entry.sha:
            scan.entries[entry.release_id] = HostRelease(entry.release_id, "virtual",
                                                         revision=entry.sha)
    heads = [rid for rid, rel in scan.entries.items()
             if scan.head_sha.startswith(rel.revision) or rel.revision.startswith(scan.head_sha)]
    scan.current = max(heads, default=None)


def _resolve_current(scan: HostScan, resolved: str | None, releases_real: str | None,
                     not_a_link: bool) -> None:
    if not_a_link:
        scan.current_problem = "current is not a symlink"
        return
    if scan.current_target is None:
        return
    if resolved is None:
        scan.current_problem = (f"current is dangling: it points at {scan.current_target},"
                                " which does not exist")
        return
    name = posixpath.basename(resolved)
    entry = scan.entries.get(name)
    if (releases_real and posixpath.dirname(resolved) == releases_real and entry
            and entry.kind == "dir"):
        scan.current = name
    else:
        scan.current_problem = f"current points outside releases/: {resolved}"


def parse_log_line(line: str) -> LogEntry | None:
    match = DEPLOY_LINE.match(line)
    if match:
        return LogEntry(match["id"], sha=match["sha"], user=match["user"],
                        branch=match["branch"])
    match = ROLLBACK_LINE.match(line)
    if match:
        return LogEntry(match["id"], user=match["user"], rollback=True)
    return None


def scan_host(transport: Transport, layout: Layout, timeout: float = 120.0, *,
              sizes: bool = True, log: bool = True) -> HostScan:
    """One round trip: run scan_command and parse it; raises TransportError on failure."""
    result = transport.run(scan_command(layout, sizes=sizes, log=log), capture=True,
                           timeout=timeout)
    if not result.ok:
        raise TransportError(transport.name, f"listing releases: {result.last_line()}")
    return parse_scan(transport.name, layout.deploy_to, result.stdout)
