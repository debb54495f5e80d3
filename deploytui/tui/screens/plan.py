"""The plan of a deploy, shown before anything changes; confirm (by typing for `confirm: true`)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


def plan_text(plan: Any) -> str:
    """The engine's own description of the plan; the console adds nothing of its own."""
    lines = plan.lines() if hasattr(plan, "lines") else [str(plan)]
    return "\n".join(ln for ln in lines if not ln.startswith("dry run:"))


class PlanScreen(ModalScreen[bool]):
    """Dismisses True to deploy. A production-like environment needs its name typed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="plan-cancel")]

    def __init__(self, plan: Any, project: str, environment: str, *, confirm: bool,
                 request: Any = None) -> None:
        super().__init__(classes="danger" if confirm else "")
        self.plan = plan
        self.project = project
        self.environment = environment
        self.needs_typing = confirm
        self.request = request  # a DeployRequest: its hosts may be left out (--exclude)
        self.hosts = [h.name for h in request.environment.hosts] if request else []
        self.excluded: list[str] = []  # what "Leave out" names, once valid
        self.exclude_error = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide") as box:
            box.border_title = f"Deploy {self.project} → {self.environment}"
            with VerticalScroll(id="plan-body"):
                yield Static(plan_text(self.plan), id="plan-text", markup=False)
            if len(self.hosts) > 1:  # deploy --exclude: explicit, shown before Deploy
                yield Input(placeholder="leave out hosts (e.g. a dead one): host,host",
                            id="exclude-hosts")
                yield Static("", id="exclude-note", markup=False)
            if self.needs_typing:
                yield Label(f"Type [b]{self.environment}[/b] to enable Deploy:")
                yield Input(placeholder=self.environment, id="confirm-name")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Deploy", id="deploy", variant="error" if self.needs_typing
                             else "success", disabled=self.needs_typing)

    def on_mount(self) -> None:
        if self.needs_typing:
            self.query_one("#confirm-name", Input).focus()
        else:
            self.query_one("#deploy", Button).focus()

    def _ready(self) -> bool:
        typed = (not self.needs_typing
                 or self.query_one("#confirm-name", Input).value.strip() == self.environment)
        return typed and not self.exclude_error

    @on(Input.Changed, "#confirm-name")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#deploy", Button).disabled = not self._ready()

    @on(Input.Submitted, "#confirm-name")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._ready():
            self.dismiss(True)

    @on(Input.Changed, "#exclude-hosts")
    def _exclude_changed(self, event: Input.Changed) -> None:
        from deploytui.engine.operations.exclusion import (
            ExcludeRefused,
            parse_hosts,
            remaining_hosts,
        )

        names = parse_hosts([event.value])
        self.excluded, self.exclude_error = [], ""
        note = ""
        try:  # the engine's own check: unknown names, all hosts, a `once` role emptied
            remaining_hosts(self.request.project, self.request.environment, names)
            self.excluded = names
            if names:
                note = (f"Leaving out {', '.join(names)}: they keep serving what they serve"
                        " (behind until catch-up)")
        except ExcludeRefused as exc:
            self.exclude_error = note = str(exc)
        self.query_one("#exclude-note", Static).update(note)
        self.query_one("#deploy", Button).disabled = not self._ready()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "deploy" and self._ready())

    def action_cancel(self) -> None:
        self.dismiss(False)
