"""What a deploy checks on each host before it changes anything, asked in the lock command.

The probe runs only once the host's lock is ours (lock.take_locks), so preflight costs
no command of its own: free disk, whether the release id is already taken, the pull
working copy's HEAD (for the move-back), and for release/artifact projects the release
listing (engine/scan.py, trimmed) that finish plans the prune from.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.operations.strategies.pull import head_command
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.scan import (
    HostScan,
    free_kb,
    is_scan_output,
    parse_scan,
    scan_command,
)
from deploytui.engine.remote.steps import StepFailed
from deploytui.engine.shell import q

_CLASH = "Z-CLASH"
_FREE = "Z-FREE"
_HEAD = "Z-HEAD"


def release_scan_command(layout: Layout) -> str:
    """scan.scan_command without the per-release `du` and the revisions.log tail: those
    made the probe ~4x dearer on the hosts' CPUs. Sizes of the releases a finish deletes
    are measured there (finish.py), only for those."""
    return scan_command(layout, sizes=False, log=False)


def probe_command(ctx: HostContext) -> str:
    """The shell text run under the lock; one tagged line per fact, unknown tags ignored."""
    lay, rel = ctx.layout, q(ctx.layout.release(ctx.release_id))
    parts = [f"if [ -e {rel} ] || [ -L {rel} ]; then echo {_CLASH}; fi",
             f"stat -f -c '{_FREE} %a %S' -- {q(lay.deploy_to)} 2>/dev/null"]
    if ctx.project.strategy == "pull":
        parts.append(f"echo {_HEAD} $({head_command(ctx)})")
    else:
        parts.append(release_scan_command(lay))  # last: it leaves the shell in deploy_to
    return "\n".join(parts)


@dataclass
class Probed:
    free_kb: int | None
    clash: bool
    head: str | None  # pull: the working copy's commit before this deploy
    scan: HostScan | None  # release/artifact: the releases before this deploy


def parse_probe(host: str, layout: Layout, output: str) -> Probed:
    free: int | None = None
    clash, head = False, None
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == _CLASH:
            clash = True
        elif tag == _FREE:
            free = free_kb(rest)
        elif tag == _HEAD:
            head = rest.strip() or None
    scan = parse_scan(host, layout.deploy_to, output) if is_scan_output(output) else None
    return Probed(free, clash, head, scan)


def check(ctx: HostContext, probed: Probed) -> None:
    """Raises StepFailed (`check disk`, `check release id`) when the host must not go on."""
    project, host = ctx.project, ctx.host.name
    if probed.free_kb is not None and probed.free_kb < project.min_free_mb * 1024:
        raise StepFailed(host, "check disk", f"only {probed.free_kb // 1024} MB free on"
                         f" {ctx.layout.deploy_to} (min_free_mb {project.min_free_mb})")
    if probed.clash:
        raise StepFailed(host, "check release id", f"release {ctx.release_id} already exists")


def read_probes(contexts: dict[str, HostContext], outputs: dict[str, str]
                ) -> tuple[dict[str, Probed], dict[str, StepFailed]]:
    """Every host's probe output parsed, and the hosts refused (in configured order)."""
    probes: dict[str, Probed] = {}
    refused: dict[str, StepFailed] = {}
    for name, ctx in contexts.items():
        probes[name] = parse_probe(name, ctx.layout, outputs.get(name, ""))
        try:
            check(ctx, probes[name])
        except StepFailed as exc:
            refused[name] = exc
    return probes, refused
