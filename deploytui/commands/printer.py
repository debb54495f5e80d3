"""The CLI's sink: phase headers, `[host] line` as lines arrive, and the summary table.

Called from engine threads, so every write holds one lock and flushes: lines of two
hosts never interleave mid-line, and CI logs show progress as it happens. A batch of
lines (HostLines) is one write and one flush, so a flood costs a write per read.

Colour: a tool's ANSI codes are passed on as the tool wrote them. To a terminal they
show as colour, and each coloured line gets a reset after it so that a tool that never
resets cannot paint the next `[host]` prefix; to a file or pipe the bytes are untouched.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from deploytui.engine.event_text import event_text
from deploytui.engine.events import (
    DeployStarted,
    Event,
    HealthChecked,
    HostFailed,
    HostLine,
    HostLines,
    HostStepStarted,
    LogFollow,
    PhaseStarted,
    Switched,
    SwitchedBack,
)

RESET = "\x1b[0m"


class Printer:
    def __init__(self, out: TextIO | None = None, *, steps: bool = True) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._steps = steps

    def write(self, text: str) -> None:
        out = self._out or sys.stdout  # looked up late: capsys swaps sys.stdout
        if "\x1b" in text and _is_terminal(out):
            text = "\n".join(ln + RESET if "\x1b" in ln else ln for ln in text.split("\n"))
        with self._lock:
            out.write(text + "\n")
            out.flush()

    def __call__(self, event: Event) -> None:
        line = format_event(event, steps=self._steps)
        if line is not None:
            self.write(line)


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # a closed or minimal stream
        return False


SHOWN = (DeployStarted, PhaseStarted, HostLines, HostLine, HostStepStarted, HostFailed,
         Switched, SwitchedBack, HealthChecked,
         LogFollow)  # the rest (step/phase done, the end): summary


def format_event(event: Event, *, steps: bool = True) -> str | None:
    """The printed text of an event (a batch's lines joined, each `[host] line`), or None
    for events the CLI does not show."""
    if not isinstance(event, SHOWN) or (isinstance(event, HostStepStarted) and not steps):
        return None
    return event_text(event)


def summary_table(rows: list[tuple[str, str, float, str]]) -> list[str]:
    """host / outcome / duration / release, aligned; `rows` in host order."""
    header = ("HOST", "OUTCOME", "DURATION", "RELEASE")
    cells = [header] + [(h, o, f"{d:.1f}s", r) for h, o, d, r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]
