"""The all-or-nothing switch of `current` across hosts, with switch-back.

Per host the swap is atomic: a new symlink under a temporary name, then rename(2)
over `current` (`mv -T`). The link target is ABSOLUTE (`<deploy_to>/releases/<id>`),
as Capistrano writes it, so tools reading the link see the same thing. If any host
fails to switch, every host that did switch is put back to its previous target (or
`current` is removed when there was none), so no host is left serving a release the
others do not. Deploy and rollback both use `switch_all`.
"""

from __future__ import annotations

import posixpath
import threading
from dataclasses import dataclass, field

from deploytui.engine.events import HostFailed, Sink, Switched, SwitchedBack
from deploytui.engine.failure import Failure
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.safety import is_release_id
from deploytui.engine.shell import q

SWITCH_TIMEOUT = 30.0
_PREV = "DEPLOYTUI-PREV:"


@dataclass
class SwitchResult:
    ok: bool
    switched: list[str] = field(default_factory=list)  # hosts now on the new target
    failed: dict[str, str] = field(default_factory=dict)  # host -> one-line reason
    failures: dict[str, Failure] = field(default_factory=dict)  # the same, with its kind
    previous: dict[str, str | None] = field(default_factory=dict)  # host -> release id
    switched_back: list[str] = field(default_factory=list)
    switch_back_failed: dict[str, str] = field(default_factory=dict)
    previous_target: dict[str, str | None] = field(default_factory=dict)  # raw link


def release_of(target: str | None) -> str | None:
    """The release id a `current` link target names (absolute or relative), else it."""
    if not target:
        return None
    name = posixpath.basename(target.rstrip("/"))
    return name if is_release_id(name) else target


def link_command(layout: Layout, target: str) -> str:
    """Point `current` at `target` atomically; prints the previous target first."""
    cur = q(layout.current)
    return (f"prev=$(readlink {cur} 2>/dev/null || true); echo {_PREV}\"$prev\"; "
            f"tmp={q(layout.deploy_to)}/current.tmp-$$; "
            f"ln -sfn {q(target)} \"$tmp\" && mv -T \"$tmp\" {cur}"
            " || { rm -f \"$tmp\"; exit 1; }")


def _switch_command(layout: Layout, release_id: str) -> str:
    path = layout.release(release_id)
    return (f"if [ ! -d {q(path)} ] || [ -L {q(path)} ]; then"
            f" echo 'release {release_id} is missing' >&2; exit 3; fi; "
            + link_command(layout, path))


def _restore_command(layout: Layout, previous: str | None) -> str:
    if previous:
        return link_command(layout, previous)
    cur = q(layout.current)
    return f"if [ -L {cur} ]; then rm -f {cur}; fi"


def switch_all(pool: HostPool, targets: dict[str, tuple[Layout, str]], sink: Sink,
               cancel: threading.Event | None = None) -> SwitchResult:
    """Switch every host's `current` to its (layout, release_id), or none of them.

    A cancel seen before the first swap switches nothing; once swapping has begun it
    runs to the end (a half-switched fleet is worse than a finished switch).
    """
    result = SwitchResult(ok=False)
    if cancel is not None and cancel.is_set():
        result.failed = {h: "cancelled before the switch" for h in targets}
        return result

    def swap(host, transport: Transport) -> str | None:
        layout, release_id = targets[host.name]
        res = transport.run(_switch_command(layout, release_id), capture=True,
                            timeout=SWITCH_TIMEOUT)
        prev = None
        for line in res.stdout.splitlines():
            if line.startswith(_PREV):
                prev = line[len(_PREV):] or None
        if not res.ok:
            raise RuntimeError(res.last_line())
        return prev

    outcomes = pool.map(swap, [pool.host(n) for n in targets], step="switch")
    for name in targets:
        outcome = outcomes[name]
        failure = outcome.failure
        if failure is None:
            prev = outcome.value
            result.switched.append(name)
            result.previous_target[name] = prev
            result.previous[name] = release_of(prev)
            sink(Switched(host=name, release_id=targets[name][1], previous=release_of(prev)))
        else:
            result.failed[name] = failure.reason
            result.failures[name] = failure
            sink(HostFailed(host=name, phase="switch", step="switch current",
                            reason=failure.reason))
    if not result.failed:
        result.ok = True
        return result
    restore_all(pool, {h: (targets[h][0], result.previous_target[h]) for h in result.switched},
                sink, result)
    return result


def restore_all(pool: HostPool, previous: dict[str, tuple[Layout, str | None]], sink: Sink,
                result: SwitchResult | None = None) -> dict[str, str]:
    """Put `current` back to each host's previous target; returns host -> error."""
    outcomes = pool.map(
        lambda h, t: t.run(_restore_command(*previous[h.name]), capture=True,
                           timeout=SWITCH_TIMEOUT),
        [pool.host(n) for n in previous], step="switch back")
    errors: dict[str, str] = {}
    for name, outcome in outcomes.items():
        if outcome.failure is None:
            sink(SwitchedBack(host=name, release_id=release_of(previous[name][1])))
            if result is not None:
                result.switched_back.append(name)
        else:
            errors[name] = outcome.failure.reason
            sink(HostFailed(host=name, phase="switch", step="switch back",
                            reason=outcome.failure.reason))
    if result is not None:
        result.switch_back_failed.update(errors)
    return errors
