"""Modal dialogs: confirm (by typing a name where the environment asks), host key, secret,
outcome summary, notifications.

Every dialog has the same shape at any terminal size from 80x24 up: a body that scrolls
(↑ ↓ PgUp PgDn Home End, never a focus stop of its own) above a docked foot holding the
prompt, the input and the buttons, which therefore always stay on screen. Escape always
backs out. Which button Enter hits is the confirmation rule of deploy_flow.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

if TYPE_CHECKING:
    from textual.app import App

    from deploytui.engine import HostKeyUnknown

T = TypeVar("T")

_SCROLL_BINDINGS = [
    Binding("up", "scroll_body('up')", "Scroll up", show=False),
    Binding("down", "scroll_body('down')", "Scroll down", show=False),
    Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
    Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    Binding("home", "scroll_body('home')", "Top", show=False),
    Binding("end", "scroll_body('end')", "Bottom", show=False),
]


class DialogBody(VerticalScroll, can_focus=False):
    """The scrolling part of a dialog: scrolled by the dialog's keys, not a focus stop."""


class Dialog(ModalScreen[T]):
    """A modal with a scrolling body and a docked foot (prompt, input, buttons)."""

    BINDINGS = [Binding("escape", "back", "Back", id="modal-cancel"), *_SCROLL_BINDINGS]
    hint = ""  # shown on the dialog's bottom border, after the scrolling hint

    def __init__(self, title: str, *, danger: bool = False, wide: bool = False) -> None:
        super().__init__(classes="danger" if danger else "")
        self.heading = title  # what the dialog is about, on its top border
        self._wide = wide

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide" if self._wide else "") as box:
            box.border_title = self.heading
            with Vertical(id="dialog-foot"):
                yield from self.compose_foot()
            with DialogBody(id="dialog-body"):
                yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose_foot(self) -> ComposeResult:
        yield from ()

    def on_resize(self) -> None:
        self.call_after_refresh(self._hint_scrolling)

    def _hint_scrolling(self) -> None:
        body = self.query_one(DialogBody)
        box = self.query_one("#dialog")
        scroll = "↑↓ PgUp PgDn scroll" if body.max_scroll_y > 0 else ""
        box.border_subtitle = " · ".join(part for part in (scroll, self.hint) if part)

    def action_scroll_body(self, how: str) -> None:
        body = self.query_one(DialogBody)
        {"up": body.scroll_up, "down": body.scroll_down, "page_up": body.scroll_page_up,
         "page_down": body.scroll_page_down, "home": body.scroll_home,
         "end": body.scroll_end}[how](animate=False)

    def action_back(self) -> None:
        self.dismiss(self.backed_out())

    def backed_out(self) -> T | None:
        """What Escape returns."""
        return None


class ConfirmModal(Dialog[bool]):
    """Yes or no, saying what each button does.

    `type_name`: the action is enabled only once this name is typed (a `confirm: true`
    environment); Enter in the box then confirms, and a wrong name says why nothing
    happened. `focus_yes`: Enter on the open dialog does the action (only for what the
    user just asked for and may undo: the deploy whose plan is on screen).
    """

    def __init__(self, title: str, body: str, yes: str = "Yes", no: str = "Back", *,
                 danger: bool = True, type_name: str | None = None,
                 focus_yes: bool = False, wide: bool = False) -> None:
        super().__init__(title, danger=danger, wide=wide)
        self._danger = danger
        self._body, self._yes, self._no = body, yes, no
        self.type_name = type_name
        # focused when the dialog opens (Screen.AUTO_FOCUS, which Textual reads per instance)
        focus = "#confirm-name" if type_name is not None else "#yes" if focus_yes else "#no"
        self.AUTO_FOCUS = focus  # type: ignore[misc]

    def compose_body(self) -> ComposeResult:
        yield Static(self._body, id="body", markup=False)

    def compose_foot(self) -> ComposeResult:
        if self.type_name is not None:
            yield Label(f"Type [b]{self.type_name}[/b] to enable {self._yes}:", id="prompt")
            yield Input(placeholder=self.type_name, id="confirm-name")
            yield Label("", id="confirm-why")
        with Horizontal(classes="buttons"):
            yield Button(self._no, id="no", variant="default")
            yield Button(self._yes, id="yes", variant="error" if self._danger else "success",
                         disabled=self.type_name is not None)

    def ready(self) -> bool:
        """May the action run? (The name typed where asked; subclasses add conditions.)"""
        if self.type_name is None:
            return True
        return self.query_one("#confirm-name", Input).value.strip() == self.type_name

    def update_ready(self) -> None:
        self.query_one("#yes", Button).disabled = not self.ready()

    @on(Input.Changed, "#confirm-name")
    def _typed(self, event: Input.Changed) -> None:
        self.update_ready()
        self.query_one("#confirm-why", Label).update("")

    @on(Input.Submitted, "#confirm-name")
    def _submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        if self.ready():
            self.dismiss(True)
            return
        if typed == self.type_name:  # typed right, but something else is not ready
            return
        why = (f"type {self.type_name} exactly, or press Escape to go back" if typed
               else f"nothing typed: type {self.type_name}, or press Escape to go back")
        self.query_one("#confirm-why", Label).update(why)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes" and self.ready())

    def backed_out(self) -> bool:
        return False


class HostKeyModal(ConfirmModal):
    """An unknown host key: show host and fingerprint; accepting writes known_hosts."""

    def __init__(self, host: str, key_name: str, key_type: str, fingerprint: str,
                 known_hosts: str) -> None:
        body = (f"The host {host} ({key_name}) presented a key that is not in\n"
                f"{known_hosts}.\n\n  {key_type}  {fingerprint}\n\n"
                "Accept it only if this fingerprint matches the one your admin gave you.")
        super().__init__(f"Unknown host key · {host}", body, "Accept key", "Do not connect")


async def ask_host_keys(app: App[int], known_hosts: Path,
                        unknown: dict[str, HostKeyUnknown]) -> int:
    """One modal per unknown key; accepted keys are written to known_hosts (off the UI
    thread). Returns how many were accepted."""
    from deploytui.engine import add_host_key

    accepted = 0
    asked: set[tuple[str, str]] = set()
    for host, err in unknown.items():
        if (err.key_name, err.key_base64) in asked:
            continue  # a bastion's key, met again through the next host behind it
        asked.add((err.key_name, err.key_base64))
        server = f"jump host {err.hop}" if err.hop else host
        ok = await app.push_screen_wait(HostKeyModal(
            server, err.key_name, err.key_type, err.fingerprint, str(known_hosts)))
        if not ok:
            app.notify(f"{server}: host key rejected; not connecting", severity="warning")
            continue
        await asyncio.to_thread(add_host_key, known_hosts, err.key_name, err.key_type,
                                err.key_base64)
        accepted += 1
    if accepted:
        app.notify(f"{accepted} host key(s) added to {known_hosts}")
    return accepted


class SecretPromptModal(Dialog[str | None]):
    """A secret the keyring does not hold: asked once, kept in memory for this session."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Secret · {name}")
        self._name = name

    def compose_body(self) -> ComposeResult:
        yield Static(f"The keyring holds no secret '{self._name}'. Type it for this session "
                     f"only\n(store it with: deploytui secret set {self._name}).",
                     id="body", markup=False)

    def compose_foot(self) -> ComposeResult:
        yield Label(f"Value of {self._name}:", id="prompt")
        yield Input(password=True, id="secret", placeholder=self._name or "")
        with Horizontal(classes="buttons"):
            yield Button("Stop the operation", id="no")
            yield Button("Use it", id="yes", variant="primary")

    AUTO_FOCUS = "#secret"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value or None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        value = self.query_one("#secret", Input).value
        self.dismiss(value or None if event.button.id == "yes" else None)


class NumberPrompt(Dialog[int | None]):
    """Ask for a whole number of at least `minimum` (e.g. the releases prune keeps)."""

    AUTO_FOCUS = "#number"

    def __init__(self, title: str, prompt: str, value: int, minimum: int = 1) -> None:
        super().__init__(title)
        self._prompt, self._value, self._minimum = prompt, value, minimum

    def compose_foot(self) -> ComposeResult:
        yield Label(self._prompt, id="prompt")
        yield Input(str(self._value), type="integer", id="number")
        yield Label("", id="confirm-why")
        with Horizontal(classes="buttons"):
            yield Button("Back", id="no")
            yield Button("Preview", id="yes", variant="primary")

    def _chosen(self) -> None:
        text = self.query_one("#number", Input).value.strip()
        if text.isdigit() and int(text) >= self._minimum:
            self.dismiss(int(text))
        else:
            self.query_one("#confirm-why", Label).update(
                f"a whole number, {self._minimum} or more")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._chosen()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._chosen()
        else:
            self.dismiss(None)


class SummaryModal(Dialog[None]):
    """The outcome of an operation, failed hosts first."""

    BINDINGS = [Binding("enter", "back", "Close", id="modal-close")]

    def __init__(self, title: str, lines: list[str], *, ok: bool) -> None:
        super().__init__(title, danger=not ok)
        self.lines = lines

    def compose_body(self) -> ComposeResult:
        yield Static("\n".join(self.lines), id="body", markup=False)

    def compose_foot(self) -> ComposeResult:
        with Horizontal(classes="buttons"):
            yield Button("Close", id="close", variant="primary")

    AUTO_FOCUS = "#close"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)


class MessageModal(SummaryModal):
    def __init__(self, title: str, text: str) -> None:
        super().__init__(title, text.splitlines(), ok=True)


def error_line(exc: BaseException) -> str:
    """One line for a user: the exception's first line, never a traceback."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
