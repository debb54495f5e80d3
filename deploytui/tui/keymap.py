"""Every console binding, each with an id, so users remap keys via `ui.keys` in the config.

`ui.keys: {deploy: "D", quit: "ctrl+q"}` is handed to `App.set_keymap`; ids not listed
here are reported once as a warning instead of silently ignored.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

# The footer shows what fits 80 columns; `?` lists every key.
MAIN_BINDINGS: list[BindingType] = [
    Binding("d", "deploy", "Deploy", id="deploy"),
    Binding("c", "cancel_deploy", "Stop", id="cancel"),
    Binding("r", "releases", "Releases", id="releases"),
    Binding("h", "history", "History", id="history"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("x", "run_command", "Commands", id="run-command", show=False),
    Binding("s", "shell", "Shell on the host (ssh)", id="shell", show=False),
    Binding("f", "toggle_follow", "Follow log on/off", id="follow", show=False),
    Binding("a", "all_hosts", "All hosts' log / one host", id="all-hosts", show=False),
    Binding("L", "logs", "Follow the hosts' logs", id="logs", show=False),
    Binding("n", "app.notifications", "Notifications", id="notifications", show=False),
    Binding("ctrl+r", "refresh", "Re-read hosts", id="refresh", show=False),
    Binding("tab", "app.focus_next", "Next pane", id="next-pane", show=False),
    Binding("shift+tab", "app.focus_previous", "Prev pane", id="prev-pane", show=False),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit_console", "Quit", id="quit"),
]

APP_BINDINGS: list[BindingType] = []

# j/k on the table, tree and logs (widgets' own bindings, also remappable)
VIM_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False, id="down"),
    Binding("k", "cursor_up", "Up", show=False, id="up"),
]
LOG_VIM_BINDINGS: list[BindingType] = [
    Binding("j", "scroll_down", "Down", show=False, id="down"),
    Binding("k", "scroll_up", "Up", show=False, id="up"),
]

BROWSER_BINDINGS: list[BindingType] = [
    Binding("b", "rollback", "Roll back to", id="rollback"),
    Binding("p", "prune", "Prune", id="prune"),
    Binding("P", "prune_keep", "Prune, keep N", id="prune-keep"),
    Binding("x", "delete", "Delete", id="delete-release"),
    Binding("u", "catch_up", "Catch up", id="catch-up"),  # hosts left out of a deploy
    Binding("escape", "close", "Back", id="back"),
]

HISTORY_BINDINGS: list[BindingType] = [
    Binding("enter", "open", "Logs", id="open-logs"),
    Binding("f", "toggle_fleet", "Fleet/local", id="history-fleet"),
    Binding("escape", "close", "Back", id="back"),
]

LOGS_BINDINGS: list[BindingType] = [  # the logs view; ids shared with the main screen's
    Binding("f", "toggle_follow", "Follow/pause", id="follow"),
    Binding("a", "all_hosts", "All hosts / one", id="all-hosts"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("escape", "close", "Back", id="back"),
]

ALL_IDS = {b.id for b in [*MAIN_BINDINGS, *VIM_BINDINGS, *BROWSER_BINDINGS,
                          *HISTORY_BINDINGS, *LOGS_BINDINGS]
           if isinstance(b, Binding) and b.id}


def user_keymap(keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The config's `ui.keys` split into a valid keymap and one warning per unknown id."""
    keymap = {k: v for k, v in keys.items() if k in ALL_IDS}
    warnings = [f"ui.keys: no binding with id {k!r} (known: {', '.join(sorted(ALL_IDS))})"
                for k in keys if k not in ALL_IDS]
    return keymap, warnings
