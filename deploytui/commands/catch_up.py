"""`deploytui catch-up PROJECT ENV [HOST…] [--yes]`: bring hosts that are behind (left out
of a deploy with --exclude) to the release the rest of the fleet serves.

Exit 0 when every host asked for is up to date afterwards (also when nothing was behind:
it says so), 1 when a host failed or is still unreachable (named), 2 for a host name that
is not in the environment or a fleet that disagrees on its release (nothing changed).
"""

from __future__ import annotations

import argparse
import sys

from deploytui.commands import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    exit_status,
    select,
)
from deploytui.commands.confirm import confirmed
from deploytui.commands.printer import Printer, summary_table
from deploytui.commands.running import run_request
from deploytui.config.model import Config
from deploytui.engine import (
    CatchUpRefused,
    CatchUpRequest,
    CatchUpResult,
    OperationResult,
    configured_freeze,
    list_releases,
    plan_catch_up,
    refusal,
)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    only = list(args.hosts) or None
    force_freeze = getattr(args, "force_freeze", False)
    frozen = configured_freeze(env)
    if frozen is not None and not force_freeze:  # before any host is read
        print(f"deploytui: catch-up refused: {refusal(project.name, env.name, frozen)}",
              file=sys.stderr)
        return EXIT_FAILED
    try:  # read first: nothing behind needs no confirmation, no journal row, no lock
        plan = plan_catch_up(list_releases(config, project, env), only)
    except CatchUpRefused as exc:
        raise UsageError(str(exc)) from None
    printer = Printer()
    for line in plan.lines():
        printer.write(line)
    if plan.nothing_to_do or plan.release is None:
        return EXIT_OK
    if not plan.targets:
        print(f"deploytui: catch-up failed: {_unreachable(plan.unreachable)}", file=sys.stderr)
        return EXIT_FAILED
    refused = confirmed(env, args.yes, f"catch up {project.name}/{env.name}")
    if refused is not None:
        return refused
    request = CatchUpRequest(project.name, env.name, tuple(only or ()),
                             force_freeze=force_freeze)
    result: CatchUpResult | OperationResult | None = run_request(
        config, request, printer, cancelling="stopping remote commands, removing the"
        " unfinished release, releasing the lock")
    if result is None:
        return EXIT_FAILED
    if not isinstance(result, CatchUpResult):  # refused: the fleet changed since it was read
        if result.usage_error:
            raise UsageError(result.error)
        print(f"deploytui: catch-up refused: {result.error}", file=sys.stderr)
        return exit_status(result)
    deploy = result.deploy
    if deploy is None:  # caught up by someone else in the meantime
        printer.write("\n".join(result.plan.lines()))
        return exit_status(result)
    rows = [(h, r.outcome, r.duration, deploy.release_id if r.outcome == "deployed" else "-")
            for h, r in deploy.hosts.items() if r.outcome != "excluded"]
    printer.write("")
    for line in summary_table(rows):
        printer.write(line)
    for warning in deploy.warnings:
        printer.write(f"warning: {warning}")
    if deploy.outcome == "success":
        printer.write(f"caught up {', '.join(result.plan.targets)} to release "
                      f"{deploy.release_id} ({deploy.sha[:12]}) in {deploy.duration:.1f}s")
    if not result.ok:
        print(f"deploytui: catch-up {'cancelled' if result.cancelled else 'failed'}:"
              f" {result.error}", file=sys.stderr)
    return exit_status(result)


def _unreachable(hosts: dict[str, str]) -> str:
    return "still unreachable: " + "; ".join(f"{h}: {why}" for h, why in hosts.items())
