"""The deploy's phases after `once`: switch, restart and verify, stage by stage.

Part of the deploy (deploy/state.py declares the state it shares: pool, reports,
contexts, environment), kept apart so deploy.py stays the preparation and this module
the proof: with health checks or a `rollout:`, a failed restart or an
unhealthy host stops the rollout and, with `on_unhealthy: rollback`, sends every host
switched so far back (staged.py) — the outcome is then `rolled_back`. Without either,
the phases are the classic switch and restart, failures recorded, never undone.
"""

from __future__ import annotations

from functools import partial

from deploytui.engine.events import PhaseFinished, PhaseStarted
from deploytui.engine.failure import Failure, Kind, Stop
from deploytui.engine.operations.deploy.staged import StagedSwitch
from deploytui.engine.operations.deploy.state import DeployState
from deploytui.engine.operations.lifecycle import Phase
from deploytui.engine.operations.request import host_env
from deploytui.engine.operations.rollout import Stage
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.switch import switch_all


class Verifying(DeployState):
    """The staged switch → restart → verify phases and the automatic rollback."""

    def stage_phases(self) -> list[Phase]:
        staged = self.staged = StagedSwitch(
            self.pool, self.project, self.request.environment, self.layouts, self.release_id,
            sink=self.sink, cancel=self.cancel, env_for=self._env_for,
            env_for_release=self._release_env, hosts=self.hosts)
        phases = []
        for index, stage in enumerate(staged.stages):
            def switch(stage: Stage = stage, index: int = index) -> None:
                if not staged.wait_pause(index):
                    self.undo("cancelled between stages", cancelled=True)
                self._switch(stage)

            phases.append(Phase(staged.phase_name("switch", stage), switch, stage.hosts))
            phases.append(Phase(staged.phase_name("restart", stage),
                                partial(self._restart_stage, stage), stage.hosts))
            if staged.checks:
                phases.append(Phase(staged.phase_name("verify", stage),
                                    partial(self._verify_stage, stage), stage.hosts))
        return phases

    def _switch(self, stage: Stage | None = None) -> None:
        if self.staged is not None and stage is not None:
            result = self.staged.switch(stage)
        else:
            targets = {n: (self.layouts[n], self.release_id) for n in self.names}
            result = switch_all(self.pool, targets, self.sink, self.cancel)
        if result.ok:
            return
        for failure in result.failures.values():
            self.record(failure)
        for name in result.switched_back:
            self._fail(name, "switch", "switched back", outcome="switched back")
        for name, reason in result.switch_back_failed.items():
            self.record(Failure(name, "switch back", reason))
        first = next(iter(result.failed.items()))
        error = f"{first[0]}: switch: {first[1]}; {len(result.switched_back)} host(s) switched back"
        if self.staged is not None and self.staged.switched:
            self.undo(error)  # the earlier stages go back too
        raise Stop(error)

    def _release_env(self, host: str, release_id: str) -> dict[str, str]:
        """The restart environment of another release (the one gone back to)."""
        ctx = self.contexts[host]
        scan = self.scans.get(host)
        entry = scan.entries.get(release_id) if scan else None
        sha = ((entry.meta.sha if entry.meta else "") or entry.revision) if entry else ""
        other = HostContext(ctx.project, ctx.host, ctx.layout, release_id, sha, ctx.repo_url)
        return host_env(self.env, other, self.request.environment.name)

    def _restart_stage(self, stage: Stage) -> None:
        assert self.staged is not None
        failed = self.staged.restart(stage, phase=self.staged.phase_name("restart", stage))
        for failure in failed.values():
            self.record(failure)
        if failed and self.proving():
            first = next(n for n in self.names if n in failed)
            self.undo(str(failed[first]))

    def _verify_stage(self, stage: Stage) -> None:
        assert self.staged is not None
        bad = self.staged.verify(stage)
        if not bad:
            return
        self.undo(self.fail_unhealthy(bad))

    def undo(self, error: str, *, cancelled: bool = False) -> None:
        """Stop the rollout; with on_unhealthy: rollback, every switched host goes back."""
        assert self.staged is not None
        kind: Kind = "cancelled" if cancelled else "failed"
        if self.project.on_unhealthy_in(self.request.environment) == "keep" and not cancelled:
            raise Stop(error, text=f"{error}; kept (on_unhealthy: keep): "
                                   f"{len(self.staged.switched)} host(s) serve "
                                   f"{self.release_id}")
        if not self.staged.switched:
            raise Stop(error, text=error, kind=kind)
        self.sink(PhaseStarted(phase="rollback", hosts=tuple(self.staged.switched)))
        revert = self.revert = self.staged.revert()
        self.sink(PhaseFinished(phase="rollback", ok=revert.ok))
        for name in revert.back:
            if name not in self.failures:
                self._fail(name, "rollback", "rolled back", outcome="rolled back")
        for name, why in revert.failed.items():
            self.warnings.append(f"{name}: rollback: {why}")
        if revert.ok:
            raise Stop(error, kind=kind, text=f"{error}; rolled back: {len(revert.back)} "
                                              "host(s) serve their previous release again")
        raise Stop(error, text=f"{error}; the way back failed too: {revert.describe()}")

    def serving_new(self) -> set[str]:
        """Hosts whose `current` still points at this release (kept, or not got back)."""
        if self.staged is None:
            return set()
        if self.revert is None:
            return set(self.staged.switched)
        return {n for n, rel in self.revert.serving.items() if rel == self.release_id}
