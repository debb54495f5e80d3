"""`deploytui deploy PROJECT ENV [--ref REF] [--yes] [--dry-run] [--break-lock]
[--exclude HOST[,HOST…]]`.

Ctrl-C sets the engine's cancel event (before the switch nothing changes on any
host; the engine cleans up and releases the lock); a second Ctrl-C exits at once
with 130 (commands/interrupt.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from deploytui.commands import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    exit_status,
    select,
)
from deploytui.commands.confirm import asks_confirmation, confirmed
from deploytui.commands.printer import Printer, summary_table
from deploytui.commands.running import run_request
from deploytui.config.model import Config
from deploytui.engine import (
    DeployRequest,
    DeployResult,
    ExcludeRefused,
    SourceError,
    build_plan,
    configured_freeze,
    parse_hosts,
    refusal,
)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    exclude = tuple(parse_hosts(getattr(args, "exclude", None) or []))
    request = DeployRequest(project, env, ref=args.ref, break_lock=args.break_lock,
                            wait_lock=getattr(args, "wait_lock", 0.0), exclude=exclude,
                            force_freeze=getattr(args, "force_freeze", False),
                            if_changed=not getattr(args, "force", False))
    try:
        request.hosts  # noqa: B018 - validates the exclusion before anything runs
    except ExcludeRefused as exc:
        raise UsageError(str(exc)) from None
    if args.dry_run:
        try:
            plan = build_plan(config, request)
        except SourceError as exc:
            print(f"deploytui: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print("\n".join(plan.lines()))
        return EXIT_OK
    frozen = configured_freeze(env)
    if frozen is not None and not request.force_freeze:  # before any host is touched
        print(f"deploytui: deploy refused: {refusal(project.name, env.name, frozen)}",
              file=sys.stderr)
        return EXIT_FAILED
    if asks_confirmation(env, args.yes):  # the guards' warnings come before the question
        for line in guard_lines(config, request):
            print(line, file=sys.stderr)
    refused = confirmed(env, args.yes, f"deploy to {project.name}/{env.name}")
    if refused is not None:
        return refused
    as_json = getattr(args, "json", False)
    printer = Printer(sys.stderr) if as_json else Printer()  # --json: stdout is the result
    result: DeployResult | None = run_request(
        config, request, printer, cancelling="stopping remote commands, removing the"
        " unfinished release, releasing the lock")
    if result is None:
        return EXIT_FAILED
    code = report(result, printer)
    if as_json:
        print(json.dumps(result_json(project.name, env.name, result, code), indent=2))
    return code


def result_json(project: str, environment: str, result: DeployResult, code: int) -> dict:
    """`deploy --json` (docs/ci.md): keys are only ever added."""
    return {"project": project, "environment": environment, "outcome": result.outcome,
            "exit_status": code, "release": result.release_id, "sha": result.sha,
            "subject": result.subject, "duration": round(result.duration, 3),
            "error": result.error, "warnings": list(result.warnings),
            "hosts": {name: {"outcome": r.outcome, "duration": round(r.duration, 3),
                             "step": r.step, "error": r.error}
                      for name, r in result.hosts.items()}}


def guard_lines(config: Config, request: DeployRequest) -> list[str]:
    """The plan's warnings (too many commits, nothing to ship), read from the hosts once
    without the lock: only when someone is about to answer a question."""
    try:
        plan = build_plan(config, request)
    except Exception:  # the deploy itself will say what is wrong, with host and step
        return []
    return [f"warning: {w}" for w in plan.warnings()]


def report(result: DeployResult, printer: Printer) -> int:
    rows = [(h, r.outcome, r.duration, result.release_id if r.outcome == "deployed" else "-")
            for h, r in result.hosts.items()]
    printer.write("")
    for line in summary_table(rows):
        printer.write(line)
    for warning in result.warnings:
        printer.write(f"warning: {warning}")
    left = [h for h, r in result.hosts.items() if r.outcome == "excluded"]
    if result.forced:
        printer.write(f"override: {', '.join(result.forced)} (recorded on the hosts)"
                      + (f"; freeze: {result.freeze}" if result.freeze else ""))
    if result.outcome == "unchanged":
        printer.write(result.error)
    elif result.outcome == "success":
        printer.write(f"deployed release {result.release_id} ({result.sha[:12]}) to"
                      f" {len(result.hosts) - len(left)} host(s) in {result.duration:.1f}s")
        if left:
            printer.write(f"left out: {', '.join(left)} — still serving the earlier release"
                          " (behind); bring it up with `deploytui catch-up` once it is back")
    else:
        outcome = result.outcome.replace("_", " ")  # rolled_back -> rolled back
        print(f"deploytui: deploy {outcome}: {result.error}", file=sys.stderr)
    return exit_status(result)
