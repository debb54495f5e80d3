"""The console's main screen: projects → environments, hosts, the live log, operations.

Workers here never touch widgets: they post typed messages (tui/messages.py) that the
handlers below apply. The operation itself runs on the App's Runner (it survives any
screen); screens that choose an operation return it with `dismiss(...)` and this screen
starts it. One 15 Hz timer drains the LogBuffer (docs/console.md, rules 1-3). Dialogs and
their modules are imported when first opened: none is on screen at start-up.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Tree

from deploytui.config.model import Config, Environment
from deploytui.tui.keymap import MAIN_BINDINGS
from deploytui.tui.log_buffer import Drained, LogBuffer
from deploytui.tui.messages import (
    OperationEnded,
    PlanFailed,
    PlanReady,
)
from deploytui.tui.operations import stopped_by_lock, waiting_for_the_lock
from deploytui.tui.runner import Runner
from deploytui.tui.screens.host_status import HostStatusReading
from deploytui.tui.screens.operate import OperateActions
from deploytui.tui.widgets.deploy_bar import DeployBar, format_elapsed
from deploytui.tui.widgets.filter_box import FilterBox
from deploytui.tui.widgets.hosts_table import HostInfo, HostsTable, RowThrottle
from deploytui.tui.widgets.log_panel import LogPanel
from deploytui.tui.widgets.project_tree import ProjectTree

if TYPE_CHECKING:
    from deploytui.engine import Request
    pass

TICK = 1 / 15
LOCK_WAIT = 300.0  # s the console offers to wait for another operation's lock
REFRESH_EVERY = 30.0  # s between re-reads of the selected environment while idle


class MainScreen(OperateActions, HostStatusReading):
    BINDINGS = MAIN_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, config: Config, buffer: LogBuffer, runner: Runner, *,
                 clock=time.monotonic, load_status: bool = True) -> None:
        super().__init__()
        self.config = config
        self.buffer = buffer
        self.runner = runner
        self.clock = clock
        self.load_status_enabled = load_status
        self.project: str | None = None
        self.environment: str | None = None
        self.host_info: dict[str, HostInfo] = {}
        self.all_hosts = False
        self.failed_hosts: set[str] = set()
        self.read_at: float | None = None  # wall clock of the last status read
        self.frozen = ""  # the environment's freeze in force, as the last status read it
        self._throttle = RowThrottle()
        self._first_frame = False  # status loading waits for it
        self._reading = False

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="⇪")
        with Horizontal(id="main"):
            tree: ProjectTree = ProjectTree("projects", id="projects")
            tree.border_title = "projects"
            tree.show_root = False
            yield tree
            with Vertical(id="right"):
                yield DeployBar(id="deploy-bar")
                table = HostsTable(id="hosts")
                table.border_title = "hosts"
                yield table
                log = LogPanel(self.config.ui.log_lines, id="log")
                log.border_title = "log"
                yield log
        yield FilterBox(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DeployBar).reset()
        self.query_one(LogPanel).set_follow(True)
        self._fill_tree()
        self.set_interval(TICK, self.tick)
        self.set_interval(REFRESH_EVERY, self._periodic_refresh)
        self.query_one(HostsTable).focus()

    def first_frame(self) -> None:
        """After the app's first frame: load host status (its SSH imports and connections
        no longer compete with the first paint)."""
        self._first_frame = True
        self.action_refresh()

    def _fill_tree(self) -> None:
        first = self.query_one(ProjectTree).fill(self.config)
        if first is not None:
            self.select_environment(*first)
            # once laid out: before that the tree puts its cursor back on the first line
            self.call_after_refresh(self._sync_tree_cursor)

    def _sync_tree_cursor(self) -> None:
        self.query_one(ProjectTree).show_selected(self.project, self.environment)

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
        self.read_at = None
        self.frozen = ""
        self.query_one(DeployBar).reset()
        self.query_one(HostsTable).show_environment(self.env)
        self.query_one(LogPanel).clear()
        self._show_log()
        self._update_header()
        self._sync_tree_cursor()
        if self._first_frame:  # at start-up, first_frame() loads it
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
        table, log = self.query_one(HostsTable), self.query_one(LogPanel)
        host = table.selected_host
        if host is None and log.host in table.hosts:
            host = log.host  # a hosts filter matching none: keep this host's log
        host = None if self.all_hosts else host
        log.show(host, self.buffer.lines(host))

    def _update_header(self) -> None:
        if self.env is None:
            self.app.sub_title = "no project configured"
            return
        currents = sorted({i.current for i in self.host_info.values() if i.current})
        release = currents[0] if len(currents) == 1 else (
            "differs between hosts" if currents else "—")
        frozen = f" · FROZEN: {self.frozen}" if self.frozen else ""
        self.app.sub_title = (f"{self.project} / {self.environment} · current {release}"
                              f"{frozen}")
        self._show_read_at()

    # -- the UI tick -----------------------------------------------------------------------
    def tick(self) -> None:
        drained = self.buffer.drain()
        if drained.empty and not self.runner.running and not self._throttle.behind:
            return
        self.apply_drained(drained)

    def apply_drained(self, d: Drained) -> None:
        bar = self.query_one(DeployBar)
        log = self.query_one(LogPanel)
        now = self.clock()
        if d.started is not None:
            bar.started(now)
            s = d.started
            log.add([f"──── {s.operation} {s.project}/{s.environment} by {s.user}"
                     f" · {time.strftime('%H:%M:%S')} ────"], force=True)
        if log.host is None:
            if d.all_lines:
                log.add(d.all_lines)
        elif log.host in d.lines:
            log.add(d.lines[log.host])
        self._apply_states(self.query_one(HostsTable), d, now)
        if d.progress is not None:
            bar.show_progress(d.progress)
        bar.show_elapsed(now)
        if d.finished is not None:
            bar.ended(now, d.finished.outcome, self.buffer.progress().phase)
            self.announce(d.finished)

    def _apply_states(self, table: HostsTable, d: Drained, now: float) -> None:
        states, live = self._throttle.pick(self.runner.running, d.states, self.buffer.states)
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

    # -- operations ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("deploy", "releases", "run_command", "shell") and self.runner.running:
            return None
        return True

    def action_deploy(self) -> None:
        if self.env is None or self.runner.running:
            return
        self.query_one(DeployBar).planning()
        self.prepare_plan(self.project, self.environment)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def prepare_plan(self, project: str, environment: str) -> None:
        from deploytui.engine import DeployRequest, build_plan

        proj = self.config.projects[project]
        # the plan says when every host serves the commit already; confirming it there
        # deploys it again (the console's --force), so no if_changed here
        request = DeployRequest(proj, proj.environments[environment])
        try:
            plan = build_plan(self.config, request)
        except Exception as exc:
            from deploytui.tui.screens.modals import error_line

            self.post_message(PlanFailed(project, environment, error_line(exc)))
            return
        self.post_message(PlanReady(request, plan))

    def on_plan_failed(self, message: PlanFailed) -> None:
        self.query_one(DeployBar).planned()
        self.notify(f"cannot plan {message.project}/{message.environment}: {message.error}",
                    severity="error", timeout=15)

    def on_plan_ready(self, message: PlanReady) -> None:
        from deploytui.tui.screens.plan import PlanScreen

        self.query_one(DeployBar).planned()
        request, plan = message.request, message.plan

        screen = PlanScreen(plan, request.project.name, request.environment.name,
                            confirm=request.environment.confirm, request=request)

        def chosen(ok: bool | None) -> None:
            if ok:
                # deploy exactly what was shown: the resolved sha and release id, without
                # the hosts the confirmation named as left out
                self.start(replace(request, sha=plan.sha, release_id=plan.release_id,
                                   exclude=tuple(screen.excluded)))

        self.app.push_screen(screen, chosen)

    def start(self, op: Request | None) -> None:
        """Run a confirmed operation (from the plan or a screen's dismiss result)."""
        if op is None:
            return
        if self.runner.running:
            self.notify("an operation is already running", severity="warning")
            return
        self.select_environment(*op.target)
        self.failed_hosts.clear()
        self.runner.start(op)
        self.refresh_bindings()

    def operation_ended(self, message: OperationEnded) -> None:
        """On the UI thread, once the Runner's thread has ended."""
        from deploytui.tui.screens.modals import SummaryModal

        self.tick()
        if message.error:
            self.notify(message.error, severity="error", timeout=15)
        self.refresh_bindings()
        if stopped_by_lock(self.runner.result):
            why = ""
            if isinstance(self.app.screen, SummaryModal):  # the offer says it all
                why = "\n".join(self.app.screen.lines[1:3])
                self.app.pop_screen()
            self.offer_lock_wait(message.operation, why)

    def offer_lock_wait(self, op: Request, why: str) -> None:
        """Another operation holds the lock: wait for it, as the CLI's --wait-lock."""
        from deploytui.tui import deploy_flow

        minutes = int(LOCK_WAIT // 60)

        def chosen(wait: bool | None) -> None:
            if wait:
                self.notify(f"waiting up to {minutes} min for the lock…")
                self.start(waiting_for_the_lock(op, LOCK_WAIT))

        self.app.push_screen(deploy_flow.confirm_lock_wait(op, why, minutes), chosen)

    def action_cancel_deploy(self) -> None:
        from deploytui.tui import deploy_flow

        if not self.runner.running:
            self.notify("nothing is running: nothing to stop")
            return
        verb = self.runner.operation.verb if self.runner.operation else "operation"

        def chosen(stop: bool | None) -> None:
            if stop and self.runner.running:
                self.runner.cancel()
                self.notify("stopping… hosts stop at their next step")

        self.app.push_screen(deploy_flow.confirm_stop(verb, quitting=False), chosen)

    def action_quit_console(self) -> None:
        from deploytui.tui import deploy_flow

        if not self.runner.running:
            self.app.exit(0)
            return
        verb = self.runner.operation.verb if self.runner.operation else "operation"

        def chosen(stop: bool | None) -> None:
            if stop:
                self.runner.cancel()
                self.app.exit(130)

        self.app.push_screen(deploy_flow.confirm_stop(verb, quitting=True), chosen)

    def announce(self, finished) -> None:
        """notify + a summary modal, failed hosts first."""
        from deploytui.tui import deploy_flow
        from deploytui.tui.screens.modals import SummaryModal

        title, lines, ok = deploy_flow.summary(
            finished, deploy_flow.title_of(self.runner.operation, finished),
            f"{self.project} / {self.environment}", self.query_one(HostsTable).hosts,
            self.buffer.states())
        self.notify(title, severity="information" if ok else "error")
        if finished.operation == "run":  # its output is the news: the log stays in view
            for line in lines[1:]:
                self.query_one(LogPanel).add([line], force=True)
            return
        self.app.push_screen(SummaryModal(title, lines, ok=ok))
        self.action_refresh()  # current release, locks, and any unknown host key

    # -- other screens ---------------------------------------------------------------------
    def action_releases(self) -> None:
        from deploytui.tui.screens.release_browser import ReleaseBrowser

        if self.project and self.environment:
            self.app.push_screen(ReleaseBrowser(self.config, self.project, self.environment),
                                 self.start)

    def action_history(self) -> None:
        from deploytui.tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.config, self.project, self.environment))

    def action_logs(self) -> None:
        from deploytui.tui.screens.logs import open_logs

        open_logs(self, self.config, self.project, self.environment)

    def action_help(self) -> None:
        from deploytui.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    # -- log and filter --------------------------------------------------------------------
    def action_toggle_follow(self) -> None:
        log = self.query_one(LogPanel)
        log.set_follow(not log.follow)

    def action_all_hosts(self) -> None:
        self.all_hosts = not self.all_hosts
        self._show_log()

    def action_filter(self) -> None:
        """Filter the pane in focus: the log when it has it, else the hosts."""
        log, table = self.query_one(LogPanel), self.query_one(HostsTable)
        if log.has_focus:
            self.query_one(FilterBox).open("log", log.filter_text)
        else:
            self.query_one(FilterBox).open("hosts", table.filter_text)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(self.query_one(FilterBox).target, event.value)

    @on(FilterBox.Closed)
    def _filter_closed(self) -> None:
        if self.query_one(FilterBox).target == "log":
            self.query_one(LogPanel).focus()
        else:
            self.query_one(HostsTable).focus()

    def apply_filter(self, target: str, text: str) -> None:
        if target == "log":
            self.query_one(LogPanel).filter_text = text
            self._show_log()
            return
        table = self.query_one(HostsTable)
        table.set_filter(text)  # rows come back from the cells it keeps, elapsed included
        table.flush()
        self._show_log()
