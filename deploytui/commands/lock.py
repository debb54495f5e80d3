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
from deploytui.engine import lock_by_hand, unlock_by_hand


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    if args.command == "unlock":
        done = unlock_by_hand(config, project, env)
    else:
        done = lock_by_hand(config, project, env)
    for error in done.errors:
        print(f"deploytui: {error}", file=sys.stderr)
    if done.errors:
        return EXIT_FAILED
    if done.locked_by:
        print(f"deploytui: {done.locked_by}", file=sys.stderr)
        return EXIT_LOCKED
    if args.command == "lock":
        print(f"locked {project.name}/{env.name} on {len(env.hosts)} host(s) as {done.user};"
              f" 'deploytui unlock {project.name} {env.name}' removes it")
    elif not done.removed:
        print(f"{project.name}/{env.name} was not locked")
    for host, whose in done.removed.items():
        print(f"[{host}] removed the lock of {whose}")
    return EXIT_OK
