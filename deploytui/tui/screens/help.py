"""`?`: every key of the console, with the user's remapping applied (scrolls at 80x24)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from deploytui.tui.keymap import (
    BROWSER_BINDINGS,
    HISTORY_BINDINGS,
    LOGS_BINDINGS,
    MAIN_BINDINGS,
)
from deploytui.tui.screens.modals import Dialog

MODAL_KEYS = [Binding("esc", "", "Back out of any dialog"),
              Binding("↑↓ PgUp PgDn", "", "Scroll a dialog"),
              Binding("tab", "", "Next button")]


class HelpScreen(Dialog[None]):
    BINDINGS = [Binding("question_mark,q", "back", "Close", id="help-close")]
    hint = "remap: ui.keys {id: key} · esc closes"

    def __init__(self) -> None:
        super().__init__("Keys", wide=True)

    def compose_body(self) -> ComposeResult:
        yield Static(id="help-keys", markup=False)

    def on_mount(self) -> None:
        keymap = self.app._keymap  # the active remapping (App.set_keymap)
        sections: list[tuple[str, Sequence[BindingType]]] = [("console", MAIN_BINDINGS),
                    ("console", [Binding("j/k", "", "Down / up"),
                                 Binding("ctrl+p", "", "Command palette")]),
                    ("releases", BROWSER_BINDINGS), ("history", HISTORY_BINDINGS),
                    ("logs", LOGS_BINDINGS),
                    ("dialogs", MODAL_KEYS)]
        rows = [("where", "key", "does", "id (ui.keys)")]
        for where, bindings in sections:
            for b in bindings:
                if not isinstance(b, Binding):
                    continue
                key = keymap.get(b.id, b.key) if b.id else b.key
                shown = key if ("/" in key or " " in key or key == "esc") else (
                    self.app.get_key_display(Binding(key, "")))
                rows.append((where, shown, b.description, b.id or ""))
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        self.query_one("#help-keys", Static).update("\n".join(
            f"{w:<{width[0]}}  {k:<{width[1]}}  {d:<{width[2]}}  {i}".rstrip()
            for w, k, d, i in rows))
