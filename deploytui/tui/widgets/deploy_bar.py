"""The one-line bar above the hosts during an operation: phase, progress, elapsed time.

Its labels have fixed widths and are only updated when their text changes, without a
layout pass: a layout-refreshing update on every tick re-laid out the whole screen 15
times a second.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from deploytui.tui.log_buffer import PhaseProgress


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def ended_label(outcome: str, phase: str) -> str:
    """Where an ended operation stopped, in words ("barrier" is the engine's own)."""
    if outcome == "success":
        return "done"
    outcome = outcome.replace("_", " ")
    return f"{outcome} before switch" if phase == "barrier" else f"{outcome} in {phase}"


class DeployBar(Horizontal):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._labels: dict[str, str] = {}
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._before_plan: tuple[bool, str, float | None, float] | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="phase-label")
        yield ProgressBar(id="phase-progress", show_eta=False)
        yield Label("", id="op-elapsed")

    def reset(self) -> None:
        self.started_at = self.finished_at = None
        self.display = False

    def started(self, now: float) -> None:
        self.started_at, self.finished_at = now, None
        self.display = True

    def planning(self) -> None:
        """While a deploy's plan is read from the hosts (a second or more on a real fleet),
        say so here: a toast would still be showing over the plan once it opens."""
        if self._before_plan is None:
            bar = self.query_one(ProgressBar)
            self._before_plan = (self.display, self._labels.get("#phase-label", ""),
                                 bar.total, bar.progress)
        self.display = True
        self._set("#phase-label", "planning…")
        self.query_one(ProgressBar).update(total=None)  # no steps to count: it pulses

    def planned(self) -> None:
        """The plan is in (or failed): the bar shows what it showed before."""
        if self._before_plan is None:
            return
        display, label, total, progress = self._before_plan
        self._before_plan = None
        self._set("#phase-label", label)
        self.query_one(ProgressBar).update(total=total, progress=progress)
        self.display = display

    def show_progress(self, p: PhaseProgress) -> None:
        self._set("#phase-label", f"{p.phase} {p.done}/{p.total}")
        self.query_one(ProgressBar).update(total=max(p.total, 1), progress=p.done)

    def show_elapsed(self, now: float) -> None:
        if self.started_at is not None:
            end = self.finished_at if self.finished_at is not None else now
            self._set("#op-elapsed", format_elapsed(end - self.started_at))

    def ended(self, now: float, outcome: str, phase: str) -> None:
        self.finished_at = now
        self._set("#phase-label", ended_label(outcome, phase))

    def _set(self, selector: str, text: str) -> None:
        if self._labels.get(selector) != text:
            self._labels[selector] = text
            self.query_one(selector, Label).update(text, layout=False)
