"""Undoing a deploy that stopped before it went live (failure or cancel).

Per host ONE command (finish.run_last_commands): remove the unfinished release
directory (only where this deploy created it, through safety.delete_release_command),
keep its metadata as `failed` (so listings still show the attempt), and release the
lock. (A `pull` deploy's hosts that already moved their working copy are moved back by
pull_switch.py.)
"""

from __future__ import annotations

from collections.abc import Callable

from deploytui.config.model import Host
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.operations.finish import Part, run_last_commands
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.safety import delete_release_command
from deploytui.engine.shell import q

_RM, _META = "Z-RM", "Z-META"


def cleanup_parts(layout: Layout, release_id: str, *, remove: bool, meta_command: str | None
                  ) -> list[Part]:
    parts = []
    if remove:
        path = q(layout.release(release_id))
        parts.append(Part(_RM, f"if [ -e {path} ] || [ -L {path} ]; then "
                               f"{delete_release_command(layout.deploy_to, release_id)}; fi",
                          "remove unfinished release"))
    if meta_command is not None:  # kept as `failed` only once its directory is gone
        parts.append(Part(_META, meta_command, "write metadata", after=_RM if remove else ""))
    return parts


def cleanup_hosts(pool: HostPool, hosts: list[Host], layouts: dict[str, Layout],
                  release_id: str, *, remove: set[str], marked: set[str],
                  meta_command: Callable[[str], str] | None,
                  unlock_command: Callable[[str], str], timeout: float,
                  record: Callable[[str], str] | None = None) -> tuple[list[str], set[str]]:
    """Clean every host up; returns (warnings, hosts whose lock was released).

    `remove`: hosts where this deploy created its release directory; `marked`: hosts
    whose metadata becomes `failed`; every host's lock is released.
    """
    def parts(name: str) -> list[Part]:
        marking = meta_command is not None and name in marked
        return cleanup_parts(layouts[name], release_id, remove=name in remove,
                             meta_command=meta_command(name)
                             if meta_command is not None and marking else None)

    done = run_last_commands(pool, [h.name for h in hosts], parts, unlock_command,
                             step="cleanup", timeout=timeout, record=record)
    return [f"cleanup: {w}" for h in hosts for w in done.problems.get(h.name, [])], \
        done.unlocked

