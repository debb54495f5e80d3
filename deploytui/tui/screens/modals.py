"""Small modal dialogs: confirm, host key, outcome summary, text viewer.

Destructive confirmations have an `$error` border and never focus the destructive
button by default (a stray Enter cancels).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "no", "Cancel", id="modal-cancel")]

    def __init__(self, title: str, body: str, yes: str = "Yes", *, danger: bool = True) -> None:
        super().__init__(classes="danger" if danger else "")
        self._title, self._body, self._yes = title, body, yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self._title
            yield Static(self._body, id="body", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no", variant="default")
                yield Button(self._yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


class HostKeyModal(ConfirmModal):
    """An unknown host key: show host and fingerprint; accepting writes known_hosts."""

    def __init__(self, host: str, key_name: str, key_type: str, fingerprint: str,
                 known_hosts: str) -> None:
        body = (f"The host {host} ({key_name}) presented a key that is not in\n"
                f"{known_hosts}.\n\n  {key_type}  {fingerprint}\n\n"
                "Accept it only if this fingerprint matches the one your admin gave you.")
        super().__init__(f"Unknown host key · {host}", body, "Accept key", danger=True)


class SecretPromptModal(ModalScreen[str | None]):
    """A secret the keyring does not hold: asked once, kept in memory for this session."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="secret-cancel")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = f"Secret · {self._name}"
            yield Static(f"The keyring holds no secret '{self._name}'. Type it for this session "
                         f"only\n(store it with: deploytui secret set {self._name}).",
                         id="body", markup=False)
            yield Input(password=True, id="secret", placeholder=self._name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SummaryModal(ModalScreen[None]):
    """The outcome of an operation, failed hosts first."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="modal-close")]

    def __init__(self, title: str, lines: list[str], *, ok: bool) -> None:
        super().__init__(classes="" if ok else "danger")
        self._title, self._lines = title, lines

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self._title
            with VerticalScroll(id="summary"):
                yield Static("\n".join(self._lines), markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class MessageModal(SummaryModal):
    def __init__(self, title: str, text: str) -> None:
        super().__init__(title, text.splitlines(), ok=True)


class Busy(ModalScreen[None]):
    """Shown while a background call runs; `close()` dismisses it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = "working"
            yield Label(self._text)


def error_line(exc: BaseException) -> str:
    """One line for a user: the exception's first line, never a traceback."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
