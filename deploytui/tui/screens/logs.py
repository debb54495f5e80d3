"""The logs view (`L` on the main screen, or the palette): every host's logs, live.

The engine's `show_logs` (the CLI's `deploytui logs -f`) runs in a thread of this
view's own, not on the Runner: reading logs takes no lock, and a deploy may run (and
be watched) meanwhile. It reports into a LogBuffer of its own that the view's 15 Hz
timer drains, writing only the lines on screen (docs/console.md, rules 1-3), so a flood
costs the UI one write per tick. A table lists the hosts (following, lost, ended)
with their newest line; the log pane shows all hosts interleaved, host-prefixed, or
the highlighted one (`a`); `f` pauses and resumes following, `/` filters the lines.

Closing the view cancels following: every host's tail is terminated, in the
background so that esc never waits for the network; run_console waits for those
threads (stop_followers) before the process ends, so nothing stays on the hosts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from deploytui.config.model import Config
from deploytui.engine import LogsRefused, LogsRequest, show_logs, sources
from deploytui.engine.events import Sink
from deploytui.tui.keymap import LOGS_BINDINGS, VIM_BINDINGS
from deploytui.tui.log_buffer import Drained, LogBuffer
from deploytui.tui.widgets.filter_box import FilterBox
from deploytui.tui.widgets.log_panel import LogPanel

TICK = 1 / 15
BACKLOG = 100  # past lines per log source when the view opens
NEWEST_EVERY = 0.5  # seconds between updates of the rows' newest lines
_STATE_STYLE = {"following": "success", "lost": "error", "failed": "error",
                "ended": "warning"}
Follow = Callable[[Sink, threading.Event], object]  # (sink, cancel): runs until cancel

_followers: set[threading.Thread] = set()


def stop_followers(timeout: float = 10.0) -> None:
    """Wait for closed views' threads to terminate their hosts' tails (at exit)."""
    for thread in list(_followers):
        thread.join(timeout)


def open_logs(screen: Screen, config: Config, project: str | None,
              environment: str | None) -> None:
    """Push the logs view of project/environment, or say in a toast why there is none."""
    if project is None or environment is None:
        return
    proj = config.projects[project]
    request = LogsRequest(proj, proj.environments[environment], lines=BACKLOG, follow=True)
    try:
        hosts = list(sources(request))
    except LogsRefused as exc:
        screen.notify(str(exc), severity="warning", timeout=10)
        return
    screen.app.push_screen(LogsScreen(config, request, hosts))


class LogHosts(DataTable):
    BINDINGS = VIM_BINDINGS


class LogsScreen(Screen[None]):
    BINDINGS = LOGS_BINDINGS

    def __init__(self, config: Config, request: LogsRequest, hosts: list[str], *,
                 follow: Follow | None = None) -> None:
        super().__init__()
        self.config = config
        self.request = request
        self.hosts = hosts
        self.buffer = LogBuffer(config.ui.log_lines)
        self.buffer.prefix_width = max(map(len, hosts), default=4)  # room for the lines
        self.cancel = threading.Event()
        self._follow = follow or (lambda sink, cancel: show_logs(
            config, request, sink=sink, cancel=cancel))
        self.all_hosts = True
        self.error: str | None = None
        self._shown: dict[tuple[str, str], str] = {}
        self._newest: dict[str, str] = {}  # host -> newest line not yet in its row
        self._newest_at = 0.0

    def compose(self) -> ComposeResult:
        r = self.request
        yield Static(f" Logs · {r.project.name} / {r.environment.name} · "
                     f"{len(self.hosts)} host(s)", id="browser-title", markup=False)
        table = LogHosts(id="log-hosts", cursor_type="row")
        table.border_title = "hosts"
        yield table
        yield LogPanel(self.config.ui.log_lines, id="logs-log")
        yield FilterBox(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(LogHosts)
        table.add_column("host", key="host")
        table.add_column("state", key="state")
        table.add_column("newest line", key="last", width=self._room())
        for host in self.hosts:
            table.add_row(host, "connecting", "", key=host)
        log = self.query_one(LogPanel)
        log.set_follow(True)
        self._show()
        table.focus()
        self.set_interval(TICK, self.tick)
        thread = threading.Thread(target=self._run, name="deploytui-logs", daemon=True)
        _followers.add(thread)
        thread.start()

    def _run(self) -> None:
        try:
            self._follow(self.buffer, self.cancel)
        except Exception as exc:  # said by the next tick, never a crash
            self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            _followers.discard(threading.current_thread())

    def on_unmount(self) -> None:
        self.cancel.set()

    # -- the UI tick -------------------------------------------------------------------
    def tick(self) -> None:
        if self.error is not None:
            self.notify(f"logs: {self.error}", severity="error", timeout=15)
            self.error = None
        drained = self.buffer.drain()
        if not drained.empty:
            self.apply(drained)

    def apply(self, d: Drained) -> None:
        log = self.query_one(LogPanel)
        if log.host is None:
            if d.all_lines:
                log.add(d.all_lines)
        elif log.host in d.lines:
            log.add(d.lines[log.host])
        table = self.query_one(LogHosts)
        theme = self.app.current_theme
        for host, state in d.states.items():
            if host not in self.hosts:
                continue
            style = str(getattr(theme, _STATE_STYLE.get(state.status, ""), "") or "")
            self._put(table, host, "state", state.status if state.status != "idle"
                      else "connecting", style)
            if self._shown.get((host, "last")):
                self._newest[host] = state.last_line
            else:  # a row's first line at once; later ones at most twice a second
                self._put(table, host, "last", state.last_line[:self._room()])
        now = time.monotonic()
        if self._newest and now - self._newest_at >= NEWEST_EVERY:
            self._newest_at = now  # a flood changes every row every tick, and each
            room = self._room()  # update_cell re-renders the whole table
            for host, line in self._newest.items():
                self._put(table, host, "last", line[:room])
            self._newest.clear()

    def _room(self) -> int:
        """Characters the newest-line column has: what the host and state columns and
        the borders leave of the screen's width (the column grows up to it)."""
        return max(10, self.app.size.width - max(map(len, self.hosts), default=4) - 20)

    def _put(self, table: LogHosts, host: str, column: str, text: str,
             style: str = "") -> None:
        if self._shown.get((host, column)) == text + style:
            return  # every update_cell re-renders the table: only real changes
        self._shown[(host, column)] = text + style
        table.update_cell(host, column, Text(text, style=style) if style else text)

    # -- what the pane shows -----------------------------------------------------------
    def _selected(self) -> str | None:
        table = self.query_one(LogHosts)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def _show(self) -> None:
        host = None if self.all_hosts else self._selected()
        log = self.query_one(LogPanel)
        log.show(host, self.buffer.lines(host))
        log.border_title = (f"logs · {host}" if host else "logs · all hosts") + (
            f" · lines with '{log.filter_text}'" if log.filter_text else "")

    @on(DataTable.RowHighlighted, "#log-hosts")
    def _host_moved(self) -> None:
        if not self.all_hosts:
            self._show()

    @on(DataTable.RowSelected, "#log-hosts")
    def _host_chosen(self) -> None:
        self.all_hosts = False
        self._show()

    def action_all_hosts(self) -> None:
        self.all_hosts = not self.all_hosts
        self._show()

    def action_toggle_follow(self) -> None:
        log = self.query_one(LogPanel)
        log.set_follow(not log.follow)

    def action_filter(self) -> None:
        self.query_one(FilterBox).open("log", self.query_one(LogPanel).filter_text)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(LogPanel).filter_text = event.value
        self._show()

    @on(FilterBox.Closed)
    def _filter_closed(self) -> None:
        self.query_one(LogPanel).focus()

    def action_close(self) -> None:
        self.cancel.set()
        self.dismiss(None)
