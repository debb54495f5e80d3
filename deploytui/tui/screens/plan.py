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

    def __init__(self, plan: Any, project: str, environment: str, *, confirm: bool) -> None:
        super().__init__(classes="danger" if confirm else "")
        self.plan = plan
        self.project = project
        self.environment = environment
        self.needs_typing = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide") as box:
            box.border_title = f"Deploy {self.project} → {self.environment}"
            with VerticalScroll(id="plan-body"):
                yield Static(plan_text(self.plan), id="plan-text", markup=False)
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

    @on(Input.Changed, "#confirm-name")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#deploy", Button).disabled = event.value.strip() != self.environment

    @on(Input.Submitted, "#confirm-name")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.environment:
            self.dismiss(True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "deploy")

    def action_cancel(self) -> None:
        self.dismiss(False)
