"""`deploytui run PROJECT ENV [--host H[,H…]] [--role R] [--once] [--json] (-- CMD… | NAME)`.

The words after `--` are one shell command, joined with spaces as ssh joins them; one
word without `--` is a named command from the project's `commands:`. Output is printed
as a deploy's, `[host] line`; the end lists every host that did not exit 0, with its exit
status or why the command did not run there. Exit 0 only when every host exited 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import defaultdict

from deploytui.commands import EXIT_FAILED, UsageError, exit_status, select
from deploytui.commands.confirm import ask
from deploytui.commands.printer import Printer, format_event
from deploytui.commands.running import run_request
from deploytui.config.model import Config, NamedCommand
from deploytui.engine import (
    RunRefused,
    RunRequest,
    RunResult,
    choose_hosts,
    named_command,
    named_hosts,
    parse_hosts,
)
from deploytui.engine.events import (
    DeployStarted,
    Event,
    HostFailed,
    HostLine,
    HostLines,
    Sink,
)

SHOWN = (DeployStarted, HostLines, HostLine, HostFailed)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    words: list[str] = list(args.words or [])
    remote: list[str] | None = getattr(args, "remote", None)
    if (remote is not None and (words or not remote)) or (remote is None and len(words) != 1):
        raise UsageError("give one named command"
                         + (f" ({', '.join(project.commands)})" if project.commands else "")
                         + f" or a command after --: deploytui run {project.name} {env.name}"
                         " -- uptime")
    hosts = tuple(parse_hosts(args.host or []))
    named: NamedCommand | None = None
    try:
        if remote is None:
            named = named_command(project, words[0])
        if named is not None and not (hosts or args.role or args.once):
            chosen = named_hosts(project, env, named)
        else:
            chosen = choose_hosts(project, env, hosts=hosts, role=args.role, once=args.once)
    except RunRefused as exc:
        raise UsageError(str(exc)) from None
    if named is not None and named.confirm:
        refused = _confirmed(named, [h.name for h in chosen], args.yes)
        if refused is not None:
            return refused
    request = RunRequest(project, env, named.run if named else " ".join(remote or []),
                         hosts=tuple(h.name for h in chosen),
                         name=named.name if named else "")
    printer = Printer()
    collected = _Collected()
    result: RunResult | None = run_request(
        config, request, printer, shown=collected if args.json else _shown(printer),
        notify=request.notifies, locks=False, cancelling="stopping the command on every host")
    if result is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(to_json(request, result, collected), indent=2))
    else:
        report(result, printer)
    return exit_status(result)


def _shown(printer: Printer) -> Sink:
    """A deploy's printing, without phases and step headers: the command's own lines."""

    def show(event: Event) -> None:
        if isinstance(event, SHOWN):
            text = format_event(event)
            if text is not None:
                printer.write(text)

    return show


class _Collected:
    """Each host's output, by stream, for --json (already redacted by the engine)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def __call__(self, event: Event) -> None:
        if isinstance(event, HostLines | HostLine) and event.stream in ("out", "err"):
            batch = event.lines if isinstance(event, HostLines) else (event.line,)
            with self._lock:
                self.lines[event.host][event.stream].extend(batch)


def _confirmed(named: NamedCommand, hosts: list[str], yes: bool) -> int | None:
    """A `confirm: true` command: asked on a terminal (y/N), --yes without one."""
    if yes:
        return None
    what = f"run '{named.name}' ({named.run}) on {', '.join(hosts)}"
    return ask(f"command '{named.name}'", what, f"{what}? [y/N] ",
               lambda answer: answer.lower() in ("y", "yes"), "nothing run")


def report(result: RunResult, printer: Printer) -> None:
    """Every host that did not exit 0, with its status or why; the run's own error last."""
    failed = result.failed
    if not failed:
        printer.write(f"exit 0 on {len(result.hosts)} host(s) in {result.duration:.1f}s")
    elif not result.refused:  # refused: the one line below says it for every host
        printer.write(f"not 0 on {len(failed)} of {len(result.hosts)} host(s):")
        width = max(len(n) for n in failed)
        for name, host in failed.items():
            printer.write(f"  {name.ljust(width)}  {host.describe()}")
    if result.error:
        print(f"deploytui: run failed: {result.error}", file=sys.stderr)
    elif result.outcome == "cancelled":
        print("deploytui: run cancelled", file=sys.stderr)


def to_json(request: RunRequest, result: RunResult, collected: _Collected) -> dict:
    return {
        "project": request.project.name, "environment": request.environment.name,
        "command": result.command, "name": request.name or None,
        "ok": result.ok, "outcome": result.outcome, "error": result.error or None,
        "duration": round(result.duration, 3),
        "hosts": {name: {"exit_code": host.exit_code, "error": host.error or None,
                         "duration": round(host.duration, 3),
                         "stdout": collected.lines[name]["out"],
                         "stderr": collected.lines[name]["err"]}
                  for name, host in result.hosts.items()},
    }
