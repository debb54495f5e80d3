"""`deploytui lock|unlock PROJECT ENV`: take the deploy lock by hand, or remove one.

`lock` holds the lock until `unlock` (it records this process's user and pid, but the
lock does not die with the process: that is the point of locking by hand). `unlock`
removes whatever lock is there and says whose it was.
"""

from __future__ import annotations

import argparse
import sys

from deploytui.commands import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, select
from deploytui.config.model import Config
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.hosts.transport import TransportError
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import (
    Locked,
    LockInfo,
    acquire_locks,
    break_locks,
    lock_problem,
)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    layouts = {h.name: Layout(project.host_deploy_to(h)) for h in env.hosts}
    with HostPool(env.hosts, transport_factory(config),
                  max_parallel=config.ssh.max_parallel) as pool:
        failed = pool.connect()
        if failed:
            for err in failed.values():
                print(f"deploytui: {err}", file=sys.stderr)
            return EXIT_FAILED
        if args.command == "unlock":
            return _unlock(pool, layouts, project.name, env.name)
        info = LockInfo(project=project.name, environment=env.name, operation="lock")
        try:
            acquire_locks(pool, layouts, info)
        except Locked as exc:
            print(f"deploytui: {exc.host}: {lock_problem(exc, project.name, env.name)}",
                  file=sys.stderr)
            return EXIT_LOCKED
        except TransportError as exc:
            print(f"deploytui: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"locked {project.name}/{env.name} on {len(layouts)} host(s) as {info.user};"
          f" 'deploytui unlock {project.name} {env.name}' removes it")
    return EXIT_OK


def _unlock(pool: HostPool, layouts: dict[str, Layout], project: str, env: str) -> int:
    try:
        holders = break_locks(pool, layouts)
    except TransportError as exc:
        print(f"deploytui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    held = {h: info for h, info in holders.items() if info is not None}
    if not held:
        print(f"{project}/{env} was not locked")
    for host, info in held.items():
        print(f"[{host}] removed the lock of {info.describe()}")
    return EXIT_OK
