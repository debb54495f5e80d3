"""The deploytui console: projects → environments, hosts, live logs, deploys, releases.

Threads: the engine runs in one plain thread owned by the App (`Runner`), reporting to a
LogBuffer; one 15 Hz UI timer drains it. Status loading, plans and previews run in
thread workers. No SSH, git or keyring call ever runs on the UI thread.

This module holds the layout, the selection, the live view (the tick) and the filter;
host status and host keys live in `status.StatusMixin`, the deploy/rollback/cancel flow
and its summary in `deploy_flow.DeployFlowMixin`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Label, ProgressBar, Tree

from deploytui.config.model import Config, Environment
from deploytui.tui import themes as theme_files
from deploytui.tui.commands import ConsoleCommands
from deploytui.tui.deploy_flow import DeployFlowMixin
from deploytui.tui.keymap import MAIN_BINDINGS, VIM_BINDINGS, user_keymap
from deploytui.tui.log_buffer import Drained, LogBuffer
from deploytui.tui.runner import Runner
from deploytui.tui.status import StatusMixin
from deploytui.tui.widgets.hosts_table import HostInfo, HostsTable
from deploytui.tui.widgets.log_panel import LogPanel

TICK = 1 / 15
TABLE_INTERVAL = 0.25  # s between refreshes of the hosts' elapsed and last-output cells


_frozen = False


def freeze_startup_heap() -> None:
    """gc.freeze() once per process, after the console's first frame.

    Everything alive then (imported modules, the CSS, the widget tree: ~80,000 objects)
    lives as long as the console, yet every full collection used to walk it while
    holding the GIL, stalling the UI and every engine thread. A flood of host output
    causes a full collection every second or two (the renderer's short-lived objects get
    promoted), so these pauses were the console's worst key latencies. Frozen objects
    are never scanned nor freed; objects made later are collected as usual.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


class ProjectTree(Tree):
    BINDINGS = VIM_BINDINGS


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class DeployConsole(StatusMixin, DeployFlowMixin, App[int]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "deploytui"
    BINDINGS = MAIN_BINDINGS
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    def __init__(self, config: Config, theme: str | None = None, *,
                 clock: Callable[[], float] = time.monotonic, load_status: bool = True,
                 theme_dirs: list[Path] | None = None) -> None:
        super().__init__()
        self.config = config
        self.requested_theme = theme
        self.clock = clock
        self.load_status_enabled = load_status
        self.theme_dirs = theme_dirs
        self.user_themes: set[str] = set()
        self.buffer = LogBuffer(config.ui.log_lines, clock=clock)
        self.runner = Runner(self)
        self.project: str | None = None
        self.environment: str | None = None
        self.host_info: dict[str, HostInfo] = {}
        self.all_hosts = False
        self.failed_hosts: set[str] = set()
        self._op_started: float | None = None
        self._op_finished: float | None = None
        self._theme_ready = False
        self._table_at = float("-inf")  # when elapsed/last output were last refreshed
        self._table_behind = False  # a throttled tick left some of them stale
        self._labels: dict[str, str] = {}
        self._first_frame = False  # status loading waits for it

    # -- layout ----------------------------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"status-running": "#5FA8D3"}

    def compose(self) -> ComposeResult:
        yield Header(icon="⇪")
        with Horizontal(id="main"):
            tree: ProjectTree = ProjectTree("projects", id="projects")
            tree.border_title = "projects"
            tree.show_root = False
            yield tree
            with Vertical(id="right"):
                with Horizontal(id="deploy-bar"):
                    yield Label("", id="phase-label")
                    yield ProgressBar(id="phase-progress", show_eta=False)
                    yield Label("", id="op-elapsed")
                table = HostsTable(id="hosts")
                table.border_title = "hosts"
                yield table
                log = LogPanel(self.config.ui.log_lines, id="log")
                log.border_title = "log"
                yield log
        yield Input(placeholder="filter hosts and logs (esc clears)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32,
                                                     thread_name_prefix="deploytui"))
        self._load_themes()
        keymap, warnings = user_keymap(dict(self.config.ui.keys))
        self.set_keymap(keymap)
        for w in warnings:
            self.notify(w, severity="warning")
        self.query_one("#deploy-bar").display = False
        self.query_one("#filter").display = False
        self.query_one(LogPanel).set_follow(True)
        self._fill_tree()
        self.set_interval(TICK, self.tick)
        self.query_one(HostsTable).focus()

    def on_ready(self) -> None:
        """After the first frame: load host status (its SSH imports and connections
        no longer compete with the first paint), then take the start-up heap out of
        garbage collection."""
        self._first_frame = True
        self.action_refresh()
        self.call_after_refresh(freeze_startup_heap)

    def _load_themes(self) -> None:
        found, errors = theme_files.load_themes(self.theme_dirs)
        builtin = theme_files.builtin_dir()
        for theme in found:
            self.register_theme(theme)
            if not (builtin / f"{theme.name}.yml").exists():
                self.user_themes.add(theme.name)
        for err in errors:
            self.notify(f"theme skipped: {err}", severity="error", timeout=10)
        wanted = [self.requested_theme, theme_files.remembered_theme(), self.config.ui.theme,
                  theme_files.DEFAULT_THEME]
        for name in wanted:
            if name and name in self.available_themes:
                self.theme = name
                break
            if name and name == self.requested_theme:
                self.notify(f"no theme named {name!r}", severity="warning")
        self._theme_ready = True

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready and theme:
            theme_files.remember_theme(theme)

    def _fill_tree(self) -> None:
        tree = self.query_one(ProjectTree)
        first = None
        for project in self.config.projects.values():
            node = tree.root.add(project.name, data=(project.name, None), expand=True)
            for env in project.environments:
                leaf = node.add_leaf(env, data=(project.name, env))
                first = first or leaf
        if first is not None:
            tree.move_cursor(first)
            self.select_environment(*first.data)

    # -- selection -------------------------------------------------------------------------
    @property
    def env(self) -> Environment | None:
        if self.project is None or self.environment is None:
            return None
        return self.config.projects[self.project].environments[self.environment]

    def select_environment(self, project: str, environment: str) -> None:
        if (project, environment) == (self.project, self.environment):
            return
        if self.runner.running:
            self.notify("an operation is running: its environment stays selected",
                        severity="warning")
            return
        self.project, self.environment = project, environment
        self.buffer.reset()
        self.buffer.drain()
        self.failed_hosts.clear()
        self.host_info = {}
        self._op_started = self._op_finished = None
        self.query_one("#deploy-bar").display = False
        self.query_one(HostsTable).show_environment(self.env)
        self._show_log()
        self._update_header()
        if self._first_frame:  # at start-up, on_ready loads it
            self.action_refresh()

    @on(Tree.NodeHighlighted, "#projects")
    @on(Tree.NodeSelected, "#projects")
    def _tree_moved(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if data and data[1] is not None:
            self.select_environment(*data)

    @on(DataTable.RowHighlighted, "#hosts")
    def _host_moved(self, event: DataTable.RowHighlighted) -> None:
        if not self.all_hosts:
            self._show_log()

    def _show_log(self) -> None:
        host = None if self.all_hosts else self.query_one(HostsTable).selected_host
        self.query_one(LogPanel).show(host, self.buffer.lines(host))

    def _update_header(self) -> None:
        if self.env is None:
            self.sub_title = "no project configured"
            return
        currents = sorted({i.current for i in self.host_info.values() if i.current})
        release = currents[0] if len(currents) == 1 else (
            "differs between hosts" if currents else "—")
        self.sub_title = f"{self.project} / {self.environment} · current {release}"

    # -- the UI tick -----------------------------------------------------------------------
    def tick(self) -> None:
        drained = self.buffer.drain()
        running = self.runner.running
        if drained.empty and not running and not self._table_behind:
            return
        self.apply_drained(drained)

    def apply_drained(self, d: Drained) -> None:
        table = self.query_one(HostsTable)
        log = self.query_one(LogPanel)
        if d.started is not None:
            self._op_started = self.clock()
            self.query_one("#deploy-bar").display = True
        if log.host is None:
            if d.all_lines:
                log.add(d.all_lines)
        elif log.host in d.lines:
            log.add(d.lines[log.host])
        now = self.clock()
        self._apply_states(table, d, now)
        if d.progress is not None:
            p = d.progress
            self._set_label("#phase-label", f"{p.phase} {p.done}/{p.total}")
            self.query_one("#phase-progress", ProgressBar).update(total=max(p.total, 1),
                                                                   progress=p.done)
        if self._op_started is not None:
            end = self._op_finished if self._op_finished is not None else now
            self._set_label("#op-elapsed", format_elapsed(end - self._op_started))
        if d.finished is not None:
            self._op_finished = now
            self.announce(d.finished)

    def _apply_states(self, table: HostsTable, d: Drained, now: float) -> None:
        """Host rows: status changes at once; elapsed and last output at TABLE_INTERVAL.

        Under a flood every host's last line changes on every tick, and any cell update
        re-renders the whole visible table (the DataTable's caches are keyed by an update
        counter): at 15 Hz that was most of the UI thread's time and garbage.
        """
        running = self.runner.running
        wall = time.monotonic()
        if running and wall - self._table_at < TABLE_INTERVAL:
            states, live = d.states, False
            self._table_behind = self._table_behind or bool(d.states)
        elif running or self._table_behind:
            states, live = self.buffer.states(), True
            self._table_at, self._table_behind = wall, False
        else:
            states, live = d.states, True
        newly_failed = False
        for host, state in states.items():
            end = state.finished if state.finished is not None else now
            elapsed = format_elapsed(end - state.started) if state.started is not None else ""
            table.set_state(host, state, elapsed, live=live)
            if state.status == "failed" and host not in self.failed_hosts:
                self.failed_hosts.add(host)
                newly_failed = True
        if newly_failed:
            table.failed_first(self.failed_hosts)
        table.flush()

    def _set_label(self, selector: str, text: str) -> None:
        """Fixed-width labels: update only on change and without a layout pass (a
        layout-refreshing update on every tick re-laid out the whole screen 15 times/s)."""
        if self._labels.get(selector) != text:
            self._labels[selector] = text
            self.query_one(selector, Label).update(text, layout=False)

    # -- actions ---------------------------------------------------------------------------
    def action_releases(self) -> None:
        from deploytui.tui.screens.release_browser import ReleaseBrowser

        if self.env is not None:
            self.push_screen(ReleaseBrowser(self.project, self.environment))

    def action_history(self) -> None:
        from deploytui.tui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen(self.project, self.environment))

    def action_help(self) -> None:
        from deploytui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_toggle_follow(self) -> None:
        log = self.query_one(LogPanel)
        log.set_follow(not log.follow)

    def action_all_hosts(self) -> None:
        self.all_hosts = not self.all_hosts
        self._show_log()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one(HostsTable).focus()

    def apply_filter(self, text: str) -> None:
        table = self.query_one(HostsTable)
        table.set_filter(text)
        for host, info in self.host_info.items():
            table.set_info(host, info)
        for host, state in self.buffer.states().items():
            table.set_state(host, state, "")
        table.flush()
        self.query_one(LogPanel).filter_text = text
        self._show_log()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(HostsTable).focus()
            event.stop()


def run_console(config: Config, theme: str | None = None) -> int:
    """`deploytui` with no subcommand: run the console; returns the exit code."""
    app = DeployConsole(config, theme)
    result = app.run()
    return int(result or 0)
