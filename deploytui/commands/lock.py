"""`deploytui lock|unlock PROJECT ENV`: take the deploy lock by hand, or remove one.

`lock` holds the lock until `unlock` (it records this process's user and pid, but the
lock does not die with the process: that is the point of locking by hand). `unlock`
removes whatever lock is there and says whose it was.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from deploytui.commands import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, select
from deploytui.config.model import Config
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.hosts.transport import TransportError
from deploytui.engine.remote import fleet_log
from deploytui.engine.remote.fleet_log import FleetRecord
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import (
    Locked,
    LockInfo,
    break_locks,
    local_user,
    lock_problem,
    take_locks,
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
        record = FleetRecord.now("lock", project.name, env.name, info.user)
        try:  # the record is written by the lock command itself, once the lock is ours
            take_locks(pool, layouts, info,
                       probe=lambda name: fleet_log.append_command(layouts[name], record))
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
    record = FleetRecord.now("unlock", project, env, local_user())

    def recorded(name: str, holder: LockInfo | None) -> str:
        noted = replace(record, note=f"removed the lock of {holder.describe()}" if holder
                        else "was not locked")
        return fleet_log.append_command(layouts[name], noted)

    try:
        holders = break_locks(pool, layouts, after=recorded)
    except TransportError as exc:
        print(f"deploytui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    held = {h: info for h, info in holders.items() if info is not None}
    if not held:
        print(f"{project}/{env} was not locked")
    for host, info in held.items():
        print(f"[{host}] removed the lock of {info.describe()}")
    return EXIT_OK
