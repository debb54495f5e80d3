"""`deploytui rollback PROJECT ENV [--to RELEASE] [--yes]`: every host back to one release.

Also home of the confirmation an environment may ask for, shared with prune.
"""

from __future__ import annotations

import argparse
import sys

from deploytui.commands import (
    EXIT_FAILED,
    EXIT_USAGE,
    exit_status,
    select,
)
from deploytui.commands.confirm import confirmed
from deploytui.commands.printer import Printer
from deploytui.commands.running import run_request
from deploytui.config.model import Config
from deploytui.engine import (
    RollbackRefused,
    RollbackRequest,
    RollbackResult,
    check_release_id,
    choose_target,
    list_releases,
    migration_warnings,
    rollback_env_lines,
)


def _before_asking(config: Config, project, env, to: str | None) -> str:
    """What the confirmation must say: the env differences between the current and the
    target release (never a secret value), and any migration gone back past; raises
    RollbackRefused for what the rollback would refuse (already current, missing on a
    host, nothing to go back to), so nobody confirms a rollback that cannot happen.
    One read of the hosts, no lock, only when a question will be asked: the rollback
    refuses the same things under its lock, so a `--yes` run connects once."""
    if project.strategy == "pull":
        return ""
    try:
        fleet = list_releases(config, project, env)
    except Exception:  # the rollback itself will say what is wrong with the hosts
        return ""
    target = choose_target(fleet, to)
    warnings = migration_warnings(fleet.scans.values(), target)
    current = next((h.current for h in fleet.hosts.values() if h.current != target), None)
    changes = rollback_env_lines(fleet.scans, current, target)
    return "".join([f"env ({current or '?'} → {target}):\n",
                    *(f"  {line}\n" for line in changes),
                    *(f"warning: {w}\n" for w in warnings)])


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    try:
        if args.to is not None and project.strategy != "pull":
            check_release_id(args.to)
        if env.confirm and not args.yes:
            note = _before_asking(config, project, env, args.to)
            if note:
                print(note, end="", file=sys.stderr)
    except RollbackRefused as exc:
        return _refused(str(exc), usage=exc.usage)
    refused = confirmed(env, args.yes, f"roll back {project.name}/{env.name}")
    if refused is not None:
        return refused
    request = RollbackRequest(project.name, env.name, to=args.to,
                              wait_lock=getattr(args, "wait_lock", 0.0))
    result: RollbackResult | None = run_request(
        config, request, Printer(), cancelling="no host is switched if the switch has not"
        " begun, else every host is; then the rollback is recorded and the lock released")
    if result is None:
        return EXIT_FAILED
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.ok:
        print(f"rolled back {project.name}/{env.name} to {result.target} on "
              f"{len(result.hosts)} host(s) in {result.duration:.1f}s")
    elif result.refused:
        _refused(result.error, usage=result.usage_error)
    else:
        print(f"deploytui: rollback {'cancelled' if result.cancelled else 'failed'}:"
              f" {result.error}", file=sys.stderr)
    return exit_status(result)


def _refused(reason: str, *, usage: bool) -> int:
    """Nothing was changed. A request wrong in itself (not a release id, the release
    already served) is a usage error, exit 2; a fleet that cannot go where asked
    (missing on a host, nothing earlier) is a failed rollback, exit 1."""
    if usage:
        print(f"deploytui: rollback refused: {reason}", file=sys.stderr)
        return EXIT_USAGE
    print(f"deploytui: rollback failed: {reason}", file=sys.stderr)
    return EXIT_FAILED
