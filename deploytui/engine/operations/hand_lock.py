"""`lock` and `unlock` by hand: the environment's lock taken until removed, or removed.

A lock taken by hand records this process's user and pid but does not die with the
process (that is the point); its fleet record is written by the lock command itself.
Unlocking removes whatever lock is there and says whose it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from deploytui.config.model import Config, Environment, Project
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


@dataclass
class HandLock:
    """What `lock` / `unlock` did; `errors` and `locked_by` say why it did not."""

    user: str = ""  # whose lock it is (lock)
    errors: list[str] = field(default_factory=list)  # hosts not reached, one line each
    locked_by: str = ""  # lock: someone else's lock, in one line with its remedy
    removed: dict[str, str] = field(default_factory=dict)  # unlock: host -> whose it was

    @property
    def ok(self) -> bool:
        return not self.errors and not self.locked_by


def _pool(config: Config, env: Environment) -> HostPool:
    return HostPool(env.hosts, transport_factory(config), max_parallel=config.ssh.max_parallel)


def lock_by_hand(config: Config, project: Project, env: Environment) -> HandLock:
    """Take the lock on every host of `env` (every host or none), recorded on each."""
    layouts = {h.name: Layout(project.host_deploy_to(h)) for h in env.hosts}
    info = LockInfo(project=project.name, environment=env.name, operation="lock")
    done = HandLock(user=info.user)
    with _pool(config, env) as pool:
        failed = pool.connect()
        if failed:
            done.errors = [str(err) for err in failed.values()]
            return done
        record = FleetRecord.now("lock", project.name, env.name, info.user)
        try:  # the record is written by the lock command itself, once the lock is ours
            take_locks(pool, layouts,
                       info, probe=lambda name: fleet_log.append_command(layouts[name], record))
        except Locked as exc:
            done.locked_by = f"{exc.host}: {lock_problem(exc, project.name, env.name)}"
        except TransportError as exc:
            done.errors = [str(exc)]
    return done


def unlock_by_hand(config: Config, project: Project, env: Environment) -> HandLock:
    """Remove whatever lock each host of `env` holds, recording whose it was."""
    layouts = {h.name: Layout(project.host_deploy_to(h)) for h in env.hosts}
    record = FleetRecord.now("unlock", project.name, env.name, local_user())
    done = HandLock(user=record.user)

    def recorded(name: str, holder: LockInfo | None) -> str:
        noted = replace(record, note=f"removed the lock of {holder.describe()}" if holder
                        else "was not locked")
        return fleet_log.append_command(layouts[name], noted)

    with _pool(config, env) as pool:
        failed = pool.connect()
        if failed:
            done.errors = [str(err) for err in failed.values()]
            return done
        try:
            holders = break_locks(pool, layouts, after=recorded)
        except TransportError as exc:
            done.errors = [str(exc)]
            return done
    done.removed = {h: info.describe() for h, info in holders.items() if info is not None}
    return done
