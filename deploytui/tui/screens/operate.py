"""The main screen's ways to operate the running app: named commands and a shell.

`x` (or the palette) picks one of the project's `commands:` and runs it on the
operation Runner, like a deploy: its output fills the per-host log panels, its hosts'
rows show it running and done; `confirm: true` ones ask first. `s` opens a shell on the
selected host: the session is prepared off the UI thread (engine/operations/session.py),
then the console suspends itself, hands the terminal to OpenSSH, and comes back when
the shell exits. A mixin of MainScreen: it uses the screen's config, runner and widgets.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.screen import Screen

from deploytui.tui.widgets.hosts_table import HostsTable

if TYPE_CHECKING:
    from deploytui.config.model import Config, Environment
    from deploytui.engine import Request, Session
    from deploytui.tui.runner import Runner


class SessionReady(Message):
    """A shell session was prepared (env left on the host): run it in the terminal."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


class SessionFailed(Message):
    def __init__(self, host: str, error: str) -> None:
        super().__init__()
        self.host = host
        self.error = error


class OperateActions(Screen[None]):
    """The main screen's run-a-command and shell actions; it declares the screen's state
    it uses, and MainScreen provides it."""

    config: Config
    runner: Runner
    project: str | None
    environment: str | None
    all_hosts: bool

    @property
    def env(self) -> Environment | None:
        """The selected environment (MainScreen's)."""
        raise NotImplementedError

    if TYPE_CHECKING:  # the screen's own
        def start(self, op: Request | None) -> None: ...

        def action_all_hosts(self) -> None: ...

    # -- named commands --------------------------------------------------------------------
    def action_run_command(self) -> None:
        from deploytui.tui.screens.command_picker import CommandPicker

        if self.env is None or self.project is None or self.environment is None:
            return
        if self.runner.running:
            self.notify("an operation is running: wait for it to end", severity="warning")
            return
        commands = self.config.projects[self.project].commands
        if not commands:
            self.notify(f"no commands in project {self.project}: add `commands:` to it "
                        "(see config.example.yml)", severity="warning", timeout=8)
            return

        def chosen(name: str | None) -> None:
            if name:
                self.run_named(name)

        self.app.push_screen(CommandPicker(self.project, self.environment, commands), chosen)

    def run_named(self, name: str) -> None:
        """Run the project's command `name` where it says (after asking, if it says so)."""
        from deploytui.engine import RunRefused, RunRequest, named_hosts

        if self.env is None or self.project is None or self.runner.running:
            return
        project = self.config.projects[self.project]
        command = project.commands[name]
        try:
            hosts = [h.name for h in named_hosts(project, self.env, command)]
        except RunRefused as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        op = RunRequest(project, self.env, command.run, hosts=tuple(hosts), name=name)

        def go() -> None:
            self.start(op)
            if self.runner.operation is op and len(hosts) > 1 and not self.all_hosts:
                self.action_all_hosts()  # every host's output, each line prefixed

        if not command.confirm:
            go()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                go()

        from deploytui.tui.screens.modals import ConfirmModal

        self.app.push_screen(ConfirmModal(
            f"Run {name} on {project.name}/{self.env.name}?",
            f"$ {command.run}\n\non {', '.join(hosts)}, in current, with the project's env."
            "\nIt is marked `confirm: true`: it may change the servers.",
            f"Run {name}", "Back"), confirmed)

    # -- a shell ---------------------------------------------------------------------------
    def action_shell(self) -> None:
        if self.env is None or self.project is None:
            return
        host = self.query_one(HostsTable).selected_host
        self.notify(f"opening a shell on {host or 'the once-host'}…")
        self.prepare_shell(self.project, self.env.name, host)

    @work(thread=True, exclusive=True, exit_on_error=False, group="shell")
    def prepare_shell(self, project: str, environment: str, host: str | None) -> None:
        from deploytui.engine import prepare_session

        proj = self.config.projects[project]
        try:
            session = prepare_session(self.config, proj, proj.environments[environment],
                                      host, None, tty=True, resolver=self.runner.resolver)
        except Exception as exc:
            from deploytui.tui.screens.modals import error_line

            self.post_message(SessionFailed(host or "", error_line(exc)))
            return
        self.post_message(SessionReady(session))

    def on_session_failed(self, message: SessionFailed) -> None:
        self.notify(f"no shell: {message.error}", severity="error", timeout=15)

    def on_session_ready(self, message: SessionReady) -> None:
        """Hand the terminal to the session; the console comes back when it ends."""
        from deploytui.tui.screens.modals import error_line

        session = message.session
        try:
            with self.app.suspend():
                print(f"deploytui: {session.host}, in {session.cwd} (exit returns to the "
                      "console)", flush=True)
                code = subprocess.run(session.argv).returncode
        except Exception as exc:  # a terminal that cannot be suspended (headless, web)
            self.notify(f"cannot open a terminal here: {error_line(exc)}", severity="error",
                        timeout=15)
            return
        self.notify(f"shell on {session.host} ended (exit {code})",
                    severity="information" if code == 0 else "warning")
