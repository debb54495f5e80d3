"""The plan of a deploy, shown before anything changes: summary first, commands folded.

Confirmed like every operation that changes servers (deploy_flow.confirmation_rule):
typing the environment's name where it asks; elsewhere Deploy is focused, since the user
just asked for this deploy and sees what it will do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.widgets import Collapsible, Input, Static

from deploytui.engine import DeployPlan
from deploytui.tui.screens.modals import ConfirmModal

if TYPE_CHECKING:
    from deploytui.engine import DeployRequest


def plan_summary(plan: DeployPlan) -> list[str]:
    """What changes, where, and what stands in the way; no shell."""
    out = [f"release  {plan.release_id}  ({plan.strategy})",
           f"commit   {plan.sha[:12]} {plan.subject}",
           f"ref      {plan.ref}"]
    if plan.inspected:
        out.extend(plan.inspected_lines("leave it out below"))
    for role, hosts in plan.hosts_by_role.items():
        once = f" (once on {plan.once_host[role]})" if role in plan.once_host else ""
        out.append(f"role     {role}: {', '.join(hosts) or '-'}{once}")
    out.extend(f"stage    {line}" for line in plan.stages)
    out.extend(f"verify   {check}; unhealthy: {plan.on_unhealthy}" for check in plan.verify)
    return out


def distinct_commands(plan: DeployPlan) -> list[tuple[list[str], list[str]]]:
    """(hosts, commands) per distinct command list: one copy however many hosts run it."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for host, commands in plan.commands.items():
        groups.setdefault(tuple(commands), []).append(host)
    return [(hosts, list(commands)) for commands, hosts in groups.items()]


def commands_text(commands: list[str]) -> str:
    lines: list[str] = []
    for command in commands:
        first, *rest = command.splitlines() or [""]
        lines.append(f"$ {first}")
        lines.extend(f"  {line}" for line in rest)
    return "\n".join(lines)


class PlanScreen(ConfirmModal):
    """Dismisses True to deploy."""

    def __init__(self, plan: DeployPlan, project: str, environment: str, *,
                 confirm: bool, request: DeployRequest | None = None) -> None:
        super().__init__(f"Deploy {project} → {environment}", "", "Deploy",
                         "Back", danger=confirm, wide=True,
                         type_name=environment if confirm else None, focus_yes=not confirm)
        self.plan = plan
        self.project = project
        self.environment = environment
        self.needs_typing = confirm
        self.request = request  # a DeployRequest: its hosts may be left out (--exclude)
        self.hosts = [h.name for h in request.environment.hosts] if request else []
        self.excluded: list[str] = []  # what "leave out" names, once valid
        self.exclude_error = ""

    def compose_body(self) -> ComposeResult:
        yield Static("\n".join(plan_summary(self.plan)), id="plan-text", markup=False)
        for hosts, commands in distinct_commands(self.plan):
            title = f"commands on {', '.join(hosts)} ({len(commands)})"
            with Collapsible(title=title, collapsed=True, classes="plan-commands"):
                yield Static(commands_text(commands), markup=False, classes="commands")
        if len(self.hosts) > 1:  # deploy --exclude: explicit, shown before Deploy
            yield Input(placeholder="leave out hosts (e.g. a dead one): host,host",
                        id="exclude-hosts")
            yield Static("", id="exclude-note", markup=False)

    def ready(self) -> bool:
        return super().ready() and not self.exclude_error

    @on(Input.Changed, "#exclude-hosts")
    def _exclude_changed(self, event: Input.Changed) -> None:
        from deploytui.engine import (
            ExcludeRefused,
            parse_hosts,
            remaining_hosts,
        )

        assert self.request is not None
        names = parse_hosts([event.value])
        self.excluded, self.exclude_error = [], ""
        note = ""
        try:  # the engine's own check: unknown names, all hosts, a `once` role emptied
            remaining_hosts(self.request.project, self.request.environment, names)
            self.excluded = names
            if names:
                note = (f"Leaving out {', '.join(names)}: they keep serving what they serve"
                        " (behind until catch-up)")
        except ExcludeRefused as exc:
            self.exclude_error = note = str(exc)
        self.query_one("#exclude-note", Static).update(note)
        self.update_ready()
