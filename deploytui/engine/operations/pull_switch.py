"""Moving `pull` working copies to a commit: the one checkout a deploy and a rollback share.

A pull project has no release directories to switch between: its "switch" is every
host's working copy checked out at the exact commit (`git checkout -f --detach`, never a
merge), and its way back is the same checkout of the commit each host had. A deploy
moves forward and, on a failure, back (deploy/pull_activation.py); a rollback moves back to a
recorded commit and, if some host cannot, puts the others where they were
(rollback.py). Both go through `checkout_all`, so both report the same steps.
"""

from __future__ import annotations

from collections.abc import Callable

from deploytui.config.model import Host
from deploytui.engine.events import Sink
from deploytui.engine.hosts.pool import HostPool, PoolResult
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations.strategies.pull import checkout_command
from deploytui.engine.remote.steps import run_step


def checkout_all(pool: HostPool, hosts: list[Host], deploy_to: Callable[[str], str],
                 sha_for: Callable[[str], str | None], *, sink: Sink, timeout: float,
                 phase: str = "switch", step: str = "checkout") -> PoolResult[None]:
    """Check each host's working copy out at sha_for(host); a host with no sha is left."""
    def move(host: Host, transport: Transport) -> None:
        sha = sha_for(host.name)
        if sha:
            run_step(transport, phase, step, checkout_command(deploy_to(host.name), sha),
                     sink=sink, timeout=timeout)

    return pool.map(move, hosts, step=step)
