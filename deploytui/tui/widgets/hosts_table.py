"""The selected environment's hosts: one row per host (row key = host name), no per-host widgets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from deploytui.config.model import Environment
from deploytui.tui.keymap import VIM_BINDINGS
from deploytui.tui.log_buffer import HostState


@dataclass(frozen=True)
class Column:
    """A hosts-table column. `width` None: sized to its content. Columns are shown by
    `priority` (lowest first) as the table's width allows, in this list's order.
    To add one: add it here, then `_put(host, key, text, style)` its cells."""

    key: str
    label: str
    width: int | None
    priority: int


COLUMNS = [Column("name", "host", None, 0), Column("status", "status", 20, 1),
           Column("elapsed", "elapsed", 7, 5), Column("release", "current release", 15, 3),
           Column("reach", "reach", 9, 4), Column("lock", "lock", 16, 6),
           Column("roles", "roles", None, 7), Column("address", "address", None, 8),
           Column("last", "last output", 60, 2)]
LAST_MIN = 20  # "last output" shrinks to what is left, down to this
TABLE_INTERVAL = 0.25  # s between refreshes of the hosts' elapsed and last-output cells

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


class RowThrottle:
    """Host rows: status changes at once; elapsed and last output every TABLE_INTERVAL.

    Under a flood every host's last line changes on every tick, and any cell update
    re-renders the whole visible table (the DataTable's caches are keyed by an update
    counter): at 15 Hz that was most of the UI thread's time and garbage.
    """

    def __init__(self) -> None:
        self.at = float("-inf")  # when elapsed/last output were last refreshed
        self.behind = False  # a throttled tick left some of them stale

    def pick(self, running: bool, changed: dict[str, HostState],
             every: Callable[[], dict[str, HostState]]) -> tuple[dict[str, HostState], bool]:
        """(states to show, whether to show their live cells too)."""
        wall = time.monotonic()
        if running and wall - self.at < TABLE_INTERVAL:
            self.behind = self.behind or bool(changed)
            return changed, False
        if running or self.behind:
            self.at, self.behind = wall, False
            return every(), True
        return changed, True


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
        self._shape: list[tuple[str, int | None]] | None = None

    def on_mount(self) -> None:
        self._layout_columns()

    def on_resize(self) -> None:
        self._layout_columns()

    def _content_width(self, column: Column) -> int:
        if column.width is not None:
            return column.width
        cells = [self._shown.get((h, column.key), ("", ""))[0] for h in self.hosts]
        return max([len(column.label), *map(len, cells)])

    def columns_for(self, width: int) -> list[Column]:
        """The columns that fit `width` cells, by priority, in display order."""
        chosen: set[str] = set()
        used = 0
        for column in sorted(COLUMNS, key=lambda c: c.priority):
            need = (LAST_MIN if column.key == "last" else self._content_width(column)) + 2
            if used + need <= width or not chosen:
                chosen.add(column.key)
                used += need
        return [c for c in COLUMNS if c.key in chosen]

    def _layout_columns(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if width <= 0:
            return
        visible = self.columns_for(width)
        spare = width - sum(self._content_width(c) + 2 for c in visible if c.key != "last")
        last_width = max(LAST_MIN, min(60, spare - 2))
        shape = [(c.key, last_width if c.key == "last" else c.width) for c in visible]
        if shape == self._shape:
            return
        self._shape = shape
        self.clear(columns=True)
        for column, (_key, w) in zip(visible, shape, strict=True):
            self.add_column(column.label, key=column.key, width=w)
        self._rebuild()

    def _style(self, name: str) -> str:
        theme = self.app.current_theme
        return str(getattr(theme, name, None) or "")

    def show_environment(self, env: Environment | None) -> None:
        """Rows for one environment only (fast start with thousands of hosts elsewhere)."""
        self._addresses = {}
        self.hosts = []
        self._shown.clear()
        if env is not None:
            for host in env.hosts:
                self.hosts.append(host.name)
                address = host.address if host.transport != "local" else "local"
                roles = ",".join(host.roles)
                self._addresses[host.name] = (address, roles)
                for key, text in (("name", host.name), ("address", address), ("roles", roles),
                                  ("reach", "…"), ("status", "idle")):
                    self._shown[(host.name, key)] = (text, "")
        self._shape = None
        self._layout_columns()
        self._rebuild()

    def _rebuild(self) -> None:
        """Rows again from the kept cell values (after a filter or column change)."""
        selected = self.selected_host
        self.clear()
        needle = self.filter_text.lower()
        keys = [str(c.value) for c in self.columns]
        for name in self.hosts:
            address, roles = self._addresses[name]
            if needle and needle not in f"{name} {address} {roles}".lower():
                continue
            self.add_row(*(self._cell(name, key) for key in keys), key=name)
        if selected and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))
        if needle and not self.row_count and self.hosts:
            self.border_title = f"hosts · none match '{self.filter_text}'"
        else:
            self.border_title = f"hosts · matching '{self.filter_text}'" if needle else "hosts"

    def _cell(self, host: str, column: str) -> str | Text:
        text, style = self._shown.get((host, column), ("", ""))
        return text if column in _PLAIN else Text(text, style=style)

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
        if column in self.columns and host in self.rows:
            # Text, never str, for anything from a host: DataTable parses str cells as markup
            self.update_cell(host, column, self._cell(host, column))
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
