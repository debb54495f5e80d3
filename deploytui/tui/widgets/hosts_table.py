"""The selected environment's hosts: one row per host (row key = host name), no per-host widgets."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from deploytui.config.model import Environment
from deploytui.tui.keymap import VIM_BINDINGS
from deploytui.tui.log_buffer import HostState

# (key, label, width): None = sized to the content at load; the rest change live.
# What changes during a deploy comes first, so a narrow terminal still shows it.
COLUMNS = [("name", "host", None), ("status", "status", 20), ("elapsed", "elapsed", 7),
           ("release", "current release", 15), ("reach", "reachable", 9), ("lock", "lock", 16),
           ("roles", "roles", None), ("address", "address", None),
           ("last", "last output", 60)]

_PLAIN = {"release", "elapsed"}  # our own values: plain str cells
_STATUS_STYLE = {"failed": "error", "done": "success", "switched": "success",
                 "running": "primary", "cancelled": "warning", "stopped": "warning",
                 "rolled back": "warning"}


@dataclass(frozen=True)
class HostInfo:
    """What the status worker learned about one host (reachability, release, lock)."""

    reachable: bool | None = None  # None: not checked yet
    error: str = ""
    current: str = ""
    lock: str = ""
    health: str = ""  # "", "healthy" or "unhealthy: role: what the check saw"


class HostsTable(DataTable):
    BINDINGS = VIM_BINDINGS
    DEFAULT_CSS = "HostsTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.hosts: list[str] = []
        self._addresses: dict[str, tuple[str, str]] = {}
        self.filter_text = ""
        # (host, column) -> (text, style) on screen: a cell is only updated when it changes.
        # Every update_cell re-keys ALL of DataTable's render caches (by _update_count), so
        # a no-op update still costs a full re-render of the visible table.
        self._shown: dict[tuple[str, str], tuple[str, str]] = {}
        self._dirty = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def _style(self, name: str) -> str:
        theme = self.app.current_theme
        return str(getattr(theme, name, None) or "")

    def show_environment(self, env: Environment | None) -> None:
        """Rows for one environment only (fast start with thousands of hosts elsewhere)."""
        self._addresses = {}
        self.hosts = []
        if env is not None:
            for host in env.hosts:
                self.hosts.append(host.name)
                self._addresses[host.name] = (host.address if host.transport != "local"
                                              else "local", ",".join(host.roles))
        self._rebuild()

    def _rebuild(self) -> None:
        selected = self.selected_host
        self.clear()
        self._shown.clear()
        needle = self.filter_text.lower()
        for name in self.hosts:
            address, roles = self._addresses[name]
            if needle and needle not in f"{name} {address} {roles}".lower():
                continue
            initial = {"name": name, "address": address, "roles": roles, "reach": "…",
                       "status": "idle"}
            self.add_row(*(initial.get(key, "") for key, _label, _width in COLUMNS), key=name)
        if selected and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild()

    @property
    def selected_host(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def _put(self, host: str, column: str, text: str, style: str = "") -> None:
        key = (host, column)
        if self._shown.get(key) == (text, style):
            return
        self._shown[key] = (text, style)
        # Text, never str, for anything from a host: DataTable parses str cells as markup
        self.update_cell(host, column, text if column in _PLAIN else Text(text, style=style))
        self._dirty = True

    def flush(self) -> None:
        """After a batch of updates: drop DataTable's render caches at once.

        They are keyed by an update counter, so after an update every cached cell, row
        and line is unreachable by lookup but stays alive until LRU eviction (10,000
        cells): tens of thousands of objects the garbage collector scans on every full
        collection. Dropping them now keeps the live heap small.
        """
        if self._dirty:
            self._dirty = False
            self._clear_caches()

    def set_info(self, host: str, info: HostInfo) -> None:
        if host not in self.rows:
            return
        if info.reachable is None:
            self._put(host, "reach", "…")
        elif info.reachable and info.health.startswith("unhealthy"):
            self._put(host, "reach", "unhealthy", self._style("error"))
            self._put(host, "last", info.health, self._style("error"))
        elif info.reachable:
            self._put(host, "reach", "healthy" if info.health else "yes",
                      self._style("success"))
        else:
            self._put(host, "reach", "no", self._style("error"))
        self._put(host, "release", info.current or "-")
        self._put(host, "lock", info.lock, self._style("warning"))
        if info.error:
            self._put(host, "last", info.error, self._style("error"))

    def set_state(self, host: str, state: HostState, elapsed: str, *, live: bool = True
                  ) -> None:
        """Status always; elapsed and last output only when `live` (the caller throttles
        those: under a flood every host's last line changes on every tick)."""
        if host not in self.rows:
            return
        label = state.status + (f" · {state.phase}" if state.phase else "") + (
            f" · {state.health}" if state.health else "")
        style = self._style(_STATUS_STYLE.get(state.status, "foreground"))
        self._put(host, "status", label, style)
        if state.error:
            self._put(host, "last", state.error[:200], style)
        elif live:
            self._put(host, "last", state.last_line[:200])
        if live:
            self._put(host, "elapsed", elapsed)

    def failed_first(self, failed: set[str]) -> None:
        """Move failed hosts to the top; rows keep their keys, so updates still land."""
        if not failed:
            return
        order = {h: i for i, h in enumerate(self.hosts)}
        self.sort("name", key=lambda name: (str(name) not in failed, order.get(str(name), 0)))
