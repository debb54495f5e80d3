"""The `/` filter box under the main screen: hidden until opened, closes itself.

It filters one pane, the one that had the focus (hosts, or the log): finding a host and
searching its output are two different wishes, and one box for both hid the log's lines
while looking for a host, or every host while searching the log. Typing filters as you
go (the screen listens to `Input.Changed`); enter keeps the filter (the pane's title
shows it) and esc clears it; both hide the box and post `FilterBox.Closed`, so the
screen can hand the focus back to that pane.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input


class FilterBox(Input):
    """An Input for the hosts' or the log's filter; opens on demand, closes on enter/esc."""

    PLACEHOLDERS = {"hosts": "filter hosts by name, address or role (enter keeps, esc clears)",
                    "log": "filter this log's lines (enter keeps, esc clears)"}

    class Closed(Message):
        """Enter (filter kept) or esc (filter cleared): the focus should go back."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=self.PLACEHOLDERS["hosts"], id=id)
        self.target = "hosts"

    def on_mount(self) -> None:
        self.display = False

    def open(self, target: str, current: str) -> None:
        """Open on `target` ("hosts" or "log"), showing its filter as it stands."""
        self.target = target
        self.placeholder = self.PLACEHOLDERS[target]
        self.value = current
        self.cursor_position = len(current)
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.display = False  # the filter stays; the pane's title shows it
        self.post_message(self.Closed())

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            self.value = ""
            self.display = False
            self.post_message(self.Closed())
            event.stop()
