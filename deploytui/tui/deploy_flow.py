"""The console's operations: plan → confirm → start, cancel, quit while running, the outcome.

A mixin of DeployConsole (deploytui.tui.app), kept apart so the app module stays about
layout and the live view. Plans are built in a thread worker; the deploy runs exactly
what the plan screen showed (its resolved sha and release id). The Runner's thread
reports the end with an OperationEnded message; DeployFinished (drained by the tick)
brings the summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from deploytui.config.model import Config, Environment
from deploytui.tui.log_buffer import LogBuffer
from deploytui.tui.runner import OperationEnded, Runner
from deploytui.tui.screens.modals import ConfirmModal, SummaryModal, error_line
from deploytui.tui.widgets.hosts_table import HostsTable

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


class DeployFlowMixin(_AppBase):
    """Starting, cancelling and summing up operations for DeployConsole."""

    config: Config
    runner: Runner
    buffer: LogBuffer
    project: str | None
    environment: str | None
    failed_hosts: set[str]

    if TYPE_CHECKING:
        @property
        def env(self) -> Environment | None: ...

        def select_environment(self, project: str, environment: str) -> None: ...

        def tick(self) -> None: ...

        def action_refresh(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_deploy":
            return True if self.runner.running else None
        if action in ("deploy", "releases") and self.runner.running:
            return None
        return True

    def action_deploy(self) -> None:
        if self.env is None or self.runner.running:
            return
        self.notify(f"planning {self.project} / {self.environment}…", timeout=2)
        self.prepare_plan(self.project, self.environment)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def prepare_plan(self, project: str, environment: str) -> None:
        from deploytui.engine.operations.deploy import DeployRequest
        from deploytui.engine.operations.plan import build_plan

        proj = self.config.projects[project]
        request = DeployRequest(proj, proj.environments[environment])
        try:
            plan = build_plan(self.config, request)
        except Exception as exc:
            self.call_from_thread(self.notify, f"cannot plan: {error_line(exc)}",
                                  severity="error")
            return
        self.call_from_thread(self.show_plan, request, plan)

    def show_plan(self, request: Any, plan: Any) -> None:
        from dataclasses import replace

        from deploytui.tui.screens.plan import PlanScreen

        env = request.environment
        screen = PlanScreen(plan, request.project.name, env.name, confirm=env.confirm,
                            request=request)

        def chosen(ok: bool | None) -> None:
            if ok:
                # deploy exactly what was shown: the resolved sha and release id, without
                # the hosts the confirmation named as left out
                self.start_deploy(replace(request, sha=plan.sha, release_id=plan.release_id,
                                          exclude=tuple(screen.excluded)))

        self.push_screen(screen, chosen)

    def start_deploy(self, request: Any) -> None:
        self.failed_hosts.clear()
        self.runner.start_deploy(request)
        self.refresh_bindings()

    def start_rollback(self, project: str, environment: str, release: str | None) -> None:
        self.select_environment(project, environment)
        self.failed_hosts.clear()
        self.runner.start_rollback(project, environment, release)
        self.refresh_bindings()

    def start_catch_up(self, project: str, environment: str, hosts: list[str]) -> None:
        self.select_environment(project, environment)
        self.failed_hosts.clear()
        self.runner.start_catch_up(project, environment, hosts)
        self.refresh_bindings()

    def on_operation_ended(self, message: OperationEnded) -> None:
        self.operation_ended(message.error)

    def operation_ended(self, error: str | None) -> None:
        """On the UI thread, once the Runner's thread has ended."""
        self.tick()
        if error:
            self.notify(error, severity="error", timeout=10)
        self.refresh_bindings()

    def action_cancel_deploy(self) -> None:
        if not self.runner.running:
            return

        def chosen(ok: bool | None) -> None:
            if ok:
                self.runner.cancel()
                self.notify("cancelling… hosts stop at their next step")

        self.push_screen(ConfirmModal(
            "Cancel", "Cancel the running operation? Before the switch, no host changes\n"
            "what it serves; after it, the switch completes.", "Cancel it"), chosen)

    def action_quit_console(self) -> None:
        if not self.runner.running:
            self.exit(0)
            return

        def chosen(ok: bool | None) -> None:
            if ok:
                self.runner.cancel()
                self.exit(130)

        self.push_screen(ConfirmModal("Quit", "An operation is running. Cancel it and quit?",
                                      "Cancel and quit"), chosen)

    def announce(self, finished: Any) -> None:
        """notify + a summary modal, failed hosts first."""
        what = finished.operation.capitalize()
        ok = finished.outcome == "success"
        title = f"{what} {'succeeded' if ok else finished.outcome.replace('_', ' ')}"
        lines = [f"{self.project} / {self.environment}"
                 + (f" · release {finished.release_id}" if finished.release_id else "")
                 + f" · {finished.duration:.1f}s"]
        if finished.error:
            lines.append(f"error: {finished.error}")
        for host, why in finished.failed_hosts.items():
            why = why.removeprefix(f"{host}: ")
            lines.append(f"✗ {host}: {why}")
        states = self.buffer.states()
        for host in self.query_one(HostsTable).hosts:
            if host not in finished.failed_hosts:
                lines.append(f"{'✓' if ok else '·'} {host}: {states.get(host).status}"
                             if host in states else f"· {host}")
        self.notify(title, severity="information" if ok else "error")
        self.push_screen(SummaryModal(title, lines, ok=ok))
        self.action_refresh()  # current release, locks, and any unknown host key
