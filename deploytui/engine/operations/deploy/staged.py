"""After the barrier: switch, restart and verify, stage by stage, and the way back.

Each stage of the rollout plan (rollout.py: canary, batches; one stage without
`rollout:`) is switched, restarted and health-checked before the next one starts, so a
bad release meets one canary host, not the fleet. `revert()` is the automatic rollback:
every host switched so far goes back to the link it had before, is restarted in that
release and checked again; what each host serves afterwards is known per host, so a
way back that fails too can say exactly who serves what. Hosts of later stages are
never switched nor restarted. The deploy (or any operation) owns the events' phases
and the outcome; this module owns the hosts' moves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from deploytui.config.model import Environment, Host, Project
from deploytui.engine.events import HostLine, Sink
from deploytui.engine.failure import Failure
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.operations.health import HealthResult, check_hosts, has_checks
from deploytui.engine.operations.roles import run_restarts
from deploytui.engine.operations.rollout import Stage, plan_stages
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.switch import SwitchResult, release_of, restore_all, switch_all

EnvFor = Callable[[str], dict[str, str]]  # host -> the environment of its restart


@dataclass
class Revert:
    """What the automatic rollback did, host by host."""

    back: list[str] = field(default_factory=list)  # switched back, restarted, healthy
    failed: dict[str, str] = field(default_factory=dict)  # host -> why it is not back/well
    serving: dict[str, str | None] = field(default_factory=dict)  # host -> release it serves

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        """'web1 serves 20261130… (switch back: …); web2 serves 20261129…' for the error."""
        parts = []
        for host, release in self.serving.items():
            why = f" ({self.failed[host]})" if host in self.failed else ""
            parts.append(f"{host} serves {release or 'nothing'}{why}")
        return "; ".join(parts)


class StagedSwitch:
    """The switch → restart → verify loop of one deploy, and its revert."""

    def __init__(self, pool: HostPool, project: Project, environment: Environment,
                 layouts: dict[str, Layout], release_id: str, *, sink: Sink,
                 cancel: threading.Event, env_for: EnvFor, env_for_release:
                 Callable[[str, str], dict[str, str]], hosts: list[Host] | None = None,
                 staged: bool = True) -> None:
        self.pool, self.project, self.layouts = pool, project, layouts
        self.release_id, self.sink, self.cancel = release_id, sink, cancel
        self.env_for, self.env_for_release = env_for, env_for_release
        self.hosts = hosts if hosts is not None else list(environment.hosts)
        rollout = environment.rollout if staged else None
        self.pause = rollout.pause if rollout else 0.0
        self.stages: list[Stage] = plan_stages([h.name for h in self.hosts], rollout)
        self.checks = has_checks(project, self.hosts)
        self.switched: list[str] = []  # in switch order
        self.previous_target: dict[str, str | None] = {}  # host -> its link before us
        self.health: dict[str, list[HealthResult]] = {}

    def _hosts(self, names: tuple[str, ...] | list[str]) -> list[Host]:
        return [h for h in self.hosts if h.name in names]

    def phase_name(self, step: str, stage: Stage) -> str:
        """'switch' for the one-stage deploy; 'switch canary', 'verify batch 2/3' staged."""
        return step if len(self.stages) == 1 else f"{step} {stage.name}"

    def wait_pause(self, index: int) -> bool:
        """Pause before every stage but the first; False when cancelled meanwhile."""
        if index == 0 or not self.pause:
            return True
        stage = self.stages[index]
        self.sink(HostLine(host=stage.hosts[0], stream="info",
                           line=f"pausing {self.pause:g}s before {stage.name}"))
        return not self.cancel.wait(self.pause)

    def switch(self, stage: Stage) -> SwitchResult:
        """Switch the stage's hosts; switch_all itself puts back a partly switched stage."""
        targets = {n: (self.layouts[n], self.release_id) for n in stage.hosts}
        result = switch_all(self.pool, targets, self.sink, self.cancel)
        if result.ok:
            for name in stage.hosts:
                self.switched.append(name)
                self.previous_target[name] = result.previous_target.get(name)
        return result

    def restart(self, stage: Stage, phase: str = "restart") -> dict[str, Failure]:
        """The stage's restarts (roles in order); the hosts whose restart failed."""
        return run_restarts(self.pool, self.project, self._hosts(stage.hosts), self.sink,
                            None, self.env_for, phase=phase).failed

    def verify(self, stage: Stage) -> list[HealthResult]:
        """The stage's health checks; the unhealthy results (empty: all healthy)."""
        hosts = self._hosts(stage.hosts)
        results = check_hosts(self.pool, self.project, hosts,
                              cwd_for=lambda h: self.layouts[h.name].current,
                              env_for=lambda h: self.env_for(h.name), sink=self.sink,
                              cancel=self.cancel)
        self.health.update(results)
        return [r for h in hosts for r in results.get(h.name, []) if not r.healthy]

    def revert(self, phase: str = "rollback") -> Revert:
        """Every switched host back to its previous link, restarted there, checked again."""
        report = Revert()
        live = [n for n in self.switched if n in self.pool.transports]
        report.serving = {n: self.release_id for n in self.switched}
        for name in self.switched:
            if name not in live:
                report.failed[name] = "not answering; not switched back"
        errors = restore_all(self.pool, {n: (self.layouts[n], self.previous_target[n])
                                         for n in live}, self.sink)
        back = [n for n in live if n not in errors]
        for name, why in errors.items():
            report.failed[name] = f"switch back: {why}"
        for name in back:
            report.serving[name] = release_of(self.previous_target[name])
        serving = [n for n in back if report.serving[n]]  # a first deploy goes back to nothing
        if serving:
            restarts = run_restarts(
                self.pool, self.project, self._hosts(serving), self.sink, None,
                lambda n: self.env_for_release(n, report.serving[n] or ""), phase=phase)
            for name, failure in restarts.failed.items():
                report.failed[name] = f"restart: {failure.step}: {failure.reason}"
            healthy_candidates = [n for n in serving if n not in report.failed]
            if self.checks and healthy_candidates:
                results = check_hosts(
                    self.pool, self.project, self._hosts(healthy_candidates),
                    cwd_for=lambda h: self.layouts[h.name].current,
                    env_for=lambda h: self.env_for_release(h.name, report.serving[h.name] or ""),
                    sink=self.sink)
                for name, host_results in results.items():
                    bad = [r for r in host_results if not r.healthy]
                    if bad:
                        report.failed[name] = f"unhealthy after going back: {bad[0].saw}"
        report.back = [n for n in back if n not in report.failed]
        return report
