"""The main screen's reading of the selected environment's hosts.

Current release, locks, health and reachability, read in a worker (never on the UI
thread) when the environment is chosen, periodically while idle (main.py), after an
operation, and on coming back to the screen; an unknown host key is asked about. The
base of MainScreen: it declares the screen's state it reads (config, buffer, runner,
host_info, the selection) and the two members MainScreen provides (`env`,
`_update_header`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from deploytui.config.model import Config, Environment
from deploytui.engine.events import HostLine
from deploytui.tui.log_buffer import LogBuffer
from deploytui.tui.messages import StatusFailed, StatusLoaded
from deploytui.tui.widgets.hosts_table import HostInfo, HostsTable

if TYPE_CHECKING:
    from deploytui.engine import EnvStatus, HostKeyUnknown
    from deploytui.tui.runner import Runner

RESUME_REFRESH_AFTER = 5.0  # s: back on this screen, re-read if older than this


class HostStatusReading(Screen[None]):
    """Reads and shows the hosts' status; `action_refresh` (ctrl+r) reads it again."""

    config: Config
    buffer: LogBuffer
    runner: Runner
    host_info: dict[str, HostInfo]
    project: str | None
    environment: str | None
    load_status_enabled: bool
    read_at: float | None  # wall clock of the last status read (set by the screen)
    frozen: str  # the freeze in force the last read found ("" none)
    _first_frame: bool  # status loading waits for the app's first frame
    _reading: bool

    @property
    def env(self) -> Environment | None:
        """The selected environment (MainScreen's)."""
        raise NotImplementedError

    def _update_header(self) -> None:
        """Show the selection and its current release in the header (MainScreen's)."""
        raise NotImplementedError

    def _show_read_at(self) -> None:
        """When the hosts were last read (and whether a read is under way)."""
        read = ("not read yet" if self.read_at is None else
                "read " + time.strftime("%H:%M:%S", time.localtime(self.read_at)))
        self.query_one(HostsTable).border_subtitle = read + (" · reading…" if self._reading
                                                             else "")

    def action_refresh(self) -> None:
        if self.load_status_enabled and self.project and self.environment:
            self._reading = True
            self._show_read_at()
            self.load_status(self.project, self.environment)

    def _periodic_refresh(self) -> None:
        """While idle and on top: re-read, so changes made elsewhere (a CLI deploy) show."""
        if not self.runner.running and self.is_current:
            self.action_refresh()

    def on_screen_resume(self) -> None:
        if (self._first_frame and not self.runner.running
                and (self.read_at is None or time.time() - self.read_at > RESUME_REFRESH_AFTER)):
            self.action_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load_status(self, project: str, environment: str) -> None:
        from deploytui.engine import load_status
        from deploytui.tui.screens.modals import error_line

        try:
            status = load_status(self.config, project, environment)
        except Exception as exc:
            self.post_message(StatusFailed(project, environment, error_line(exc)))
            return
        self.post_message(StatusLoaded(project, environment, status, time.time()))

    def on_status_failed(self, message: StatusFailed) -> None:
        self._reading = False
        self.notify(f"status of {message.project}/{message.environment}: {message.error}",
                    severity="error", timeout=10)
        self._update_header()

    def on_status_loaded(self, message: StatusLoaded) -> None:
        if (message.project, message.environment) != (self.project, self.environment):
            return
        status: EnvStatus = message.status
        self.frozen = status.frozen
        self.read_at = message.read_at
        self._reading = False
        table = self.query_one(HostsTable)
        for host in table.hosts:
            info = HostInfo(reachable=status.reachable.get(host),
                            error=status.errors.get(host, ""),
                            current=status.current.get(host, "")
                            + (" ⇣ behind" if host in status.behind else ""),
                            lock=status.locks.get(host, ""),
                            health=status.health.get(host, ""))
            before = self.host_info.get(host)
            if info.error and (before is None or before.error != info.error):
                # the reason stays readable in the host's log pane, not only in a cell
                self.buffer(HostLine(host, f"cannot reach {host}: {info.error}", "err"))
            self.host_info[host] = info
            table.set_info(host, info)
        table.flush()
        self._update_header()
        if status.unknown_keys:
            self.ask_host_keys(status.unknown_keys)

    @work(exclusive=True, group="host-keys")
    async def ask_host_keys(self, unknown: dict[str, HostKeyUnknown]) -> None:
        from deploytui.tui.screens.modals import ask_host_keys

        if await ask_host_keys(self.app, self.config.ssh.known_hosts, unknown):
            self.action_refresh()
