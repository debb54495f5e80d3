"""`?`: every key of the console, with the user's remapping applied."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from deploytui.tui.keymap import BROWSER_BINDINGS, HISTORY_BINDINGS, MAIN_BINDINGS


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide") as box:
            box.border_title = "Keys"
            box.border_subtitle = "remap with ui.keys: {id: key} · esc closes"
            yield DataTable(id="help-keys", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "key", "does", "id")
        keymap = self.app._keymap  # the active remapping (App.set_keymap)
        sections = [("console", MAIN_BINDINGS),
                    ("console", [Binding("j/k", "", "Down / up"),
                                 Binding("ctrl+p", "", "Command palette")]),
                    ("releases", BROWSER_BINDINGS), ("history", HISTORY_BINDINGS)]
        for where, bindings in sections:
            for b in bindings:
                key = keymap.get(b.id, b.key) if b.id else b.key
                shown = key if "/" in key else self.app.get_key_display(Binding(key, ""))
                table.add_row(where, shown, b.description, b.id or "")

    def action_close(self) -> None:
        self.dismiss(None)
