"""The CLI's sink: phase headers, `[host] line` as lines arrive, and the summary table.

Called from engine threads, so every write holds one lock and flushes: lines of two
hosts never interleave mid-line, and CI logs show progress as it happens.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from deploytui.engine.event_text import event_text
from deploytui.engine.events import (
    DeployStarted,
    Event,
    HostFailed,
    HostLine,
    HostStepStarted,
    PhaseStarted,
    Switched,
    SwitchedBack,
)


class Printer:
    def __init__(self, out: TextIO | None = None, *, steps: bool = True) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._steps = steps

    def write(self, text: str) -> None:
        out = self._out or sys.stdout  # looked up late: capsys swaps sys.stdout
        with self._lock:
            out.write(text + "\n")
            out.flush()

    def __call__(self, event: Event) -> None:
        line = format_event(event, steps=self._steps)
        if line is not None:
            self.write(line)


SHOWN = (DeployStarted, PhaseStarted, HostLine, HostStepStarted, HostFailed, Switched,
         SwitchedBack)  # the rest (step done, phase done, the end) is in the summary


def format_event(event: Event, *, steps: bool = True) -> str | None:
    """One printed line for an event, or None for events the CLI does not show."""
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
