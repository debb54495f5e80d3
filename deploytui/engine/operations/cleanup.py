"""Undoing a deploy that stopped before it went live (failure or cancel).

Per host ONE command: remove the unfinished release directory (only where this deploy
created it, through safety.delete_release_command), keep its metadata as `failed` (so
listings still show the attempt), and release the lock. For `pull`, the hosts that
already moved their working copy are moved back to the commit they had.
"""

from __future__ import annotations

from collections.abc import Callable

from deploytui.config.model import Host
from deploytui.engine.events import Sink
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.operations.strategies.pull import move_step
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.safety import delete_release_command
from deploytui.engine.remote.script import tag_results, tagged
from deploytui.engine.remote.steps import run_step
from deploytui.engine.shell import q

_RM, _META, _UNLOCK = "Z-RM", "Z-META", "Z-UNLOCK"


def cleanup_command(layout: Layout, release_id: str, *, remove: bool, meta_command: str | None,
                    unlock_command: str) -> str:
    parts = []
    if remove:
        path = q(layout.release(release_id))
        parts.append(tagged(_RM, f"if [ -e {path} ] || [ -L {path} ]; then "
                                 f"{delete_release_command(layout.deploy_to, release_id)}; fi"))
    if meta_command is not None:  # kept as `failed` only once its directory is gone
        meta = tagged(_META, meta_command)
        parts.append(f"if [ \"${{__dt_rc:-0}}\" -eq 0 ]; then {meta}; fi" if remove else meta)
    parts.append(tagged(_UNLOCK, unlock_command))
    return "\n".join(parts)


def cleanup_hosts(pool: HostPool, hosts: list[Host], layouts: dict[str, Layout],
                  release_id: str, *, remove: set[str], marked: set[str],
                  meta_command: Callable[[str], str] | None,
                  unlock_command: Callable[[str], str], timeout: float
                  ) -> tuple[list[str], set[str]]:
    """Clean every host up; returns (warnings, hosts whose lock was released).

    `remove`: hosts where this deploy created its release directory; `marked`: hosts
    whose metadata becomes `failed`; every host's lock is released.
    """
    def clean(host: Host, transport: Transport) -> list[str]:
        name = host.name
        removing = name in remove
        marking = meta_command is not None and name in marked
        cmd = cleanup_command(layouts[name], release_id, remove=removing,
                              meta_command=meta_command(name) if marking else None,
                              unlock_command=unlock_command(name))
        res = transport.run(cmd, capture=True, timeout=timeout)
        tags = [_RM] if removing else []
        tags += [_META] if marking else []
        status = tag_results(res.stdout, [*tags, _UNLOCK])
        if status[_UNLOCK] is None:
            unlocked.add(name)
        if removing and status[_RM]:
            return [f"cleanup: {name}: remove unfinished release: {status[_RM]}"]
        if marking and status[_META]:
            return [f"cleanup: {name}: write metadata: {status[_META]}"]
        return []

    unlocked: set[str] = set()
    warnings: list[str] = []
    outcomes = pool.map(clean, hosts)
    for host in hosts:
        outcome = outcomes[host.name]
        if outcome.error is not None:
            warnings.append(f"cleanup: {outcome.error}")
        else:
            warnings.extend(outcome.value or [])
    return warnings, unlocked


def move_back(pool: HostPool, hosts: list[Host], contexts: dict[str, HostContext],
              previous_head: dict[str, str | None], sink: Sink, timeout: float
              ) -> dict[str, BaseException | None]:
    """pull: check the previous commit out again on `hosts`; host -> error (None: ok)."""
    def back(host: Host, transport: Transport) -> None:
        prev = previous_head.get(host.name)
        if prev:
            step = move_step(contexts[host.name], prev)
            run_step(transport, "switch", "switch back", step.command, sink=sink,
                     timeout=timeout)

    return {name: outcome.error for name, outcome in pool.map(back, hosts).items()}
