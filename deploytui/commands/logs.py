"""`deploytui logs PROJECT ENV [--host H] [--role R] [-n N] [-f] [--since D] [--grep RE]`.

Prints `[host] line` as lines arrive (the deploy's printer). Without -f: exit 0 when
every host's logs were shown, 1 when a host could not be reached (each named at the
end). With -f: follows until Ctrl-C, which stops following on every host (the remote
`tail`s are terminated) and exits 0: stopping to watch is the normal end, not a failure.

The engine runs in a thread of its own so that Ctrl-C reaches this (main) thread at
once, wherever the engine is: the main thread only waits, and on Ctrl-C sets cancel.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading

from deploytui.commands import EXIT_FAILED, EXIT_OK, UsageError, select
from deploytui.commands.printer import Printer
from deploytui.config.model import Config
from deploytui.engine import (
    LogsRefused,
    LogsRequest,
    LogsResult,
    check_grep,
    show_logs,
    sources,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
STOP_WAIT = 15.0  # seconds Ctrl-C waits for the hosts' tails to be terminated


def parse_duration(text: str) -> float:
    """`30s`, `10m`, `2h`, `1d` or plain seconds; a UsageError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"--since: expected a duration like 30s, 10m, 2h or 1d, got '{text}'")
    return float(match.group(1)) * _UNIT[match.group(2)]


def names(values: list[str] | None) -> tuple[str, ...]:
    """`--host a,b --host c` -> (a, b, c)."""
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def request_from(args: argparse.Namespace, config: Config) -> LogsRequest:
    project, env = select(config, args.project, args.env)
    if args.grep is not None and (problem := check_grep(args.grep)):
        raise UsageError(problem)
    return LogsRequest(project, env, hosts=names(args.host), roles=names(args.role),
                       lines=args.lines, follow=args.follow,
                       since=parse_duration(args.since) if args.since else None,
                       grep=args.grep)


def run(args: argparse.Namespace, config: Config) -> int:
    request = request_from(args, config)
    try:
        chosen = sources(request)
    except LogsRefused as exc:
        raise UsageError(str(exc)) from None
    if request.since is not None and any(s.files for s in chosen.values()):
        print("deploytui: --since: log files carry no timestamps deploytui can trust, so a "
              "file not modified within it shows no past lines and the others show their "
              "last lines; journalctl gets --since", file=sys.stderr)
    printer = Printer(steps=False)
    cancel = threading.Event()
    outcome: list[LogsResult | BaseException] = []

    done = threading.Event()  # not Thread.join: a join Ctrl-C interrupts returns at once after

    def work() -> None:
        try:
            outcome.append(show_logs(config, request, sink=printer, cancel=cancel))
        except BaseException as exc:  # handed to the main thread, said in one line there
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="deploytui-logs", daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: leave now
            done.wait(STOP_WAIT)
        return EXIT_OK
    result = outcome[0] if outcome else None
    if isinstance(result, LogsRefused):
        raise UsageError(str(result))
    if not isinstance(result, LogsResult):
        print(f"deploytui: logs failed: {result}", file=sys.stderr)
        return EXIT_FAILED
    for host, reason in result.failed.items():
        print(f"deploytui: {host}: {reason}", file=sys.stderr)
    return EXIT_FAILED if result.failed else EXIT_OK
