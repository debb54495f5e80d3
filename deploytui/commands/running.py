"""One operation from the command line, the same way for every command: its sinks (the
journal, the webhooks, what the terminal shows), the engine's one entry run in a
thread that Ctrl-C cancels (interrupt.py), the sinks closed whatever happens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from deploytui.commands.interrupt import run_cancellable
from deploytui.commands.printer import Printer
from deploytui.config.model import Config
from deploytui.engine import run_operation
from deploytui.engine.events import Sink

if TYPE_CHECKING:
    from deploytui.engine import Request


def run_request(config: Config, request: Request, printer: Printer, *, cancelling: str,
                shown: Sink | None = None, journal: bool = True, notify: bool = True,
                locks: bool = True) -> Any:
    """The request's result, or None (said on stderr) when it ended without one.

    `shown`: what the terminal prints of the events (default: every event, `printer`);
    `journal=False`: nothing is recorded on this machine (a dry run changes nothing).
    One secrets resolver serves the operation and its sinks: the vault is asked once.
    """
    from deploytui.commands.sinks import build_sinks
    from deploytui.config.secrets import resolver_for

    resolver = resolver_for(config)
    project, environment = request.target
    sink: Sink = shown or printer
    close = lambda: None  # noqa: E731
    if journal:
        sink, close = build_sinks(config, project=project, environment=environment,
                                  operation=request.verb, printer=sink, resolver=resolver,
                                  notify=notify)
    try:
        result = run_cancellable(
            lambda cancel: run_operation(config, request, sink=sink, cancel=cancel,
                                         resolver=resolver),
            printer, name=request.verb, cancelling=cancelling, locks=locks)
    finally:
        close()
    if result is None:
        print(f"deploytui: the {request.verb} stopped without a result", file=sys.stderr)
    return result
