"""The picker of a project's named commands (`x` on the main screen): one list, Enter runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from deploytui.config.model import NamedCommand
from deploytui.tui.screens.modals import Dialog


def describe(command: NamedCommand) -> str:
    where = {"all": "every host", "once": "the once-host"}.get(command.on,
                                                                f"role {command.on}")
    ask = " · asks first" if command.confirm else ""
    return f"{command.name}  {command.run}  ({where}{ask})"


class CommandPicker(Dialog[str | None]):
    """Returns the chosen command's name, or None (Escape)."""

    hint = "Enter runs · Esc back"

    def __init__(self, project: str, environment: str,
                 commands: dict[str, NamedCommand]) -> None:
        super().__init__(f"Run a command on {project}/{environment}", danger=False, wide=True)
        self.commands = commands

    def compose_body(self) -> ComposeResult:
        yield OptionList(*(Option(describe(c), id=name) for name, c in self.commands.items()),
                         id="commands")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
