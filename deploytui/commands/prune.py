"""`deploytui prune PROJECT ENV [--keep N] [--dry-run] [--yes]`: per host, what goes and
the bytes freed; then it deletes (never current, never the rollback target)."""

from __future__ import annotations

import argparse
import sys

from deploytui.commands import (
    EXIT_FAILED,
    exit_status,
    select,
)
from deploytui.commands.confirm import confirmed
from deploytui.commands.printer import Printer
from deploytui.commands.running import run_request
from deploytui.config.model import Config
from deploytui.engine import PruneRequest, PruneResult, human_bytes, run_operation
from deploytui.engine.events import Event, HostFailed


def report(result: PruneResult) -> str:
    lines = []
    for name, plan in result.hosts.items():
        if not plan.deletions and not plan.error:
            lines.append(f"{name}: nothing to delete (keeps {len(plan.kept)})")
            continue
        for d in plan.deletions:
            status = ("would delete" if result.dry_run else
                      "deleted" if d.deleted else "NOT deleted")
            lines.append(f"{name}: {status} {d.release_id} ({human_bytes(d.size_bytes)},"
                         f" {d.reason})")
        if plan.error:
            lines.append(f"{name}: FAILED: {plan.error}")
        amount = plan.bytes_planned if result.dry_run else plan.bytes_freed
        verb = "would free" if result.dry_run else "freed"
        lines.append(f"{name}: {verb} {human_bytes(amount)}")
    return "\n".join(lines)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    keep = args.keep or project.keep_releases
    if not args.dry_run and env.confirm and not args.yes and sys.stdin.isatty():
        plan = run_operation(config, PruneRequest(project.name, env.name, keep=keep,
                                                  dry_run=True))
        print(report(plan))
    if not args.dry_run:
        refused = confirmed(env, args.yes, f"prune {project.name}/{env.name}")
        if refused is not None:
            return refused
    printer = Printer()

    def show(event: Event) -> None:
        if isinstance(event, HostFailed):
            printer(event)

    request = PruneRequest(project.name, env.name, keep=keep, dry_run=args.dry_run,
                           wait_lock=getattr(args, "wait_lock", 0.0))
    result: PruneResult | None = run_request(
        config, request, printer, shown=show, journal=not args.dry_run,  # a dry run
        cancelling="nothing is deleted if the deletions have not begun, else they"  # changes
        " finish; then the lock is released")  # nothing: not journaled, not notified
    if result is None:
        return EXIT_FAILED
    if result.cancelled:
        if result.hosts:  # the deletions had begun: say what they did
            print(report(result))
        print(f"deploytui: prune cancelled: {result.error or 'the deletions begun finished'}",
              file=sys.stderr)
        return exit_status(result)
    if result.error and not result.hosts:  # it could not run: the lock, a connection
        print(f"deploytui: prune failed: {result.error}", file=sys.stderr)
        return exit_status(result)
    print(report(result))
    return exit_status(result)
