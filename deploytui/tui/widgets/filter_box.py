"""The `/` filter box under the main screen: hidden until opened, closes itself.

Typing filters as you go (the screen listens to `Input.Changed`); enter keeps the
filter, esc clears it and hides the box. Either way it posts `FilterBox.Closed` so the
screen can hand the focus back where it belongs.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input


class FilterBox(Input):
    """An Input for the host/log filter that opens on demand and closes on enter/esc."""

    class Closed(Message):
        """Enter (filter kept) or esc (filter cleared): the focus should go back."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter hosts and log lines (enter keeps, esc clears)",
                         id=id)

    def on_mount(self) -> None:
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.post_message(self.Closed())

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            self.value = ""
            self.display = False
            self.post_message(self.Closed())
            event.stop()
