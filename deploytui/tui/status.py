"""The console's host status: loading it off the UI thread, showing it, and unknown host keys.

A mixin of DeployConsole (deploytui.tui.app), kept apart so the app module stays about
layout and the live view. Status loading runs in a thread worker (SSH and its imports
never touch the UI thread); each unknown host key gets one modal, and accepted keys
are written to known_hosts before the status reloads.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work

from deploytui.config.model import Config, Environment
from deploytui.tui.screens.modals import HostKeyModal, error_line
from deploytui.tui.widgets.hosts_table import HostInfo, HostsTable

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


class StatusMixin(_AppBase):
    """Host status for DeployConsole: uses its config, selection and host_info."""

    config: Config
    project: str | None
    environment: str | None
    load_status_enabled: bool
    host_info: dict[str, HostInfo]

    if TYPE_CHECKING:
        @property
        def env(self) -> Environment | None: ...

        def _update_header(self) -> None: ...

    def action_refresh(self) -> None:
        if self.load_status_enabled and self.env is not None:
            self.load_status(self.project, self.environment)

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load_status(self, project: str, environment: str) -> None:
        from deploytui.tui.operations import load_status

        try:
            status = load_status(self.config, project, environment)
        except Exception as exc:
            self.call_from_thread(self.notify, f"status: {error_line(exc)}", severity="error")
            return
        self.call_from_thread(self.apply_status, project, environment, status)

    def apply_status(self, project: str, environment: str, status: Any) -> None:
        if (project, environment) != (self.project, self.environment):
            return
        table = self.query_one(HostsTable)
        for host in table.hosts:
            info = HostInfo(reachable=status.reachable.get(host),
                            error=status.errors.get(host, ""),
                            current=status.current.get(host, "")
                            + (" ⇣ behind" if host in status.behind else ""),
                            lock=status.locks.get(host, ""),
                            health=status.health.get(host, ""))
            self.host_info[host] = info
            table.set_info(host, info)
        table.flush()
        self._update_header()
        if status.unknown_keys:
            self.ask_host_keys(status.unknown_keys)

    @work(exclusive=True, group="host-keys")
    async def ask_host_keys(self, unknown: dict[str, Any]) -> None:
        """One modal per unknown key; accepted keys are written, then status reloads."""
        from deploytui.engine.hosts.hostkeys import add_host_key

        accepted = 0
        for host, err in unknown.items():
            known = str(self.config.ssh.known_hosts)
            ok = await self.push_screen_wait(HostKeyModal(
                host, err.key_name, err.key_type, err.fingerprint, known))
            if not ok:
                self.notify(f"{host}: host key rejected; not connecting", severity="warning")
                continue
            await asyncio.to_thread(add_host_key, self.config.ssh.known_hosts, err.key_name,
                                    err.key_type, err.key_base64)
            accepted += 1
        if accepted:
            self.notify(f"{accepted} host key(s) added to {self.config.ssh.known_hosts}")
            self.action_refresh()
