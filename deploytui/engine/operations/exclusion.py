"""Leaving hosts out of a deploy on purpose (`deploy --exclude HOST[,HOST…]`).

All-or-nothing stays the default: an unreachable host fails the deploy before anything
changes, and the failure names the flag that lets the operator go on without it. With
the flag, the deploy runs all-or-nothing over the remaining hosts; every host that gets
the release records who was left out (ReleaseMeta.excluded), `releases` shows them
behind (behind.py) and `catch-up` brings them to the same release later.
"""

from __future__ import annotations

from collections.abc import Iterable

from deploytui.config.model import Environment, Host, Project
from deploytui.engine.failure import Refused


class ExcludeRefused(Refused, ValueError):
    """The exclusion cannot be honoured; str() is one line, nothing was attempted."""


def parse_hosts(values: Iterable[str]) -> list[str]:
    """`--exclude a,b --exclude c` -> [a, b, c] (blanks dropped, order kept, no repeats)."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def remaining_hosts(project: Project, environment: Environment, exclude: Iterable[str], *,
                    once_runs: bool = True) -> list[Host]:
    """The hosts a deploy runs on once `exclude` is left out, or ExcludeRefused.

    Refused: a name that is no host of the environment (the valid ones listed),
    leaving out every host, or every host of a role whose `once` steps (migrations)
    must run somewhere (`once_runs`: a catch-up runs none, they ran with the fleet).
    """
    left_out = list(exclude)
    if not left_out:
        return list(environment.hosts)
    known = [h.name for h in environment.hosts]
    unknown = [name for name in left_out if name not in known]
    if unknown:
        raise ExcludeRefused(f"--exclude: no host {', '.join(unknown)} in "
                             f"{project.name}/{environment.name} (hosts: {', '.join(known)})")
    remaining = [h for h in environment.hosts if h.name not in left_out]
    if not remaining:
        raise ExcludeRefused(f"--exclude: that leaves no host of {project.name}/"
                             f"{environment.name} to deploy to")
    for name, role in project.roles.items() if once_runs else ():
        members = [h for h in environment.hosts if name in h.roles]
        if role.once and members and not any(h in remaining for h in members):
            raise ExcludeRefused(f"--exclude: role {name} has `once` steps and every one of "
                                 f"its hosts ({', '.join(h.name for h in members)}) would "
                                 "be left out")
    return remaining


def exclude_hint(hosts: Iterable[str]) -> str:
    """What a failure caused by unreachable hosts tells the operator to do."""
    names = ",".join(hosts)
    return (f"nothing was changed; to deploy to the other hosts without it, run again with"
            f" --exclude {names} (then `deploytui catch-up` once it is back)")
