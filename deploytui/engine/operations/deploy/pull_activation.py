"""The pull strategy's activation: move each working copy, restart, check, move back.

Part of the deploy (deploy/state.py declares the state it shares: pool, contexts,
reports, the commit each host had). A `pull` project has no release directories to
switch between: every host checks the new commit out in place, `once` runs, every host
restarts and, with health checks, is verified; a failure checks the previous commit out
again on every host that moved (pull_switch.py, which a rollback uses too). It moves
every host at once — a `rollout:` is refused for pull projects by the config
(config/projects.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from deploytui.config.model import Host
from deploytui.engine.failure import Stop
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations import strategies
from deploytui.engine.operations.deploy.staged import Revert
from deploytui.engine.operations.deploy.state import DeployState
from deploytui.engine.operations.health import check_hosts
from deploytui.engine.operations.lifecycle import Phase
from deploytui.engine.operations.pull_switch import checkout_all
from deploytui.engine.operations.roles import run_restarts


class PullActivation(DeployState):
    """The pull deploy's switch → once → restart → verify phases and its way back."""

    def pull_phases(self, once: list[Phase]) -> list[Phase]:
        """Switch (check out), then `once`, restart and — with health checks — verify."""
        return [Phase("switch", self._activate_pull), *once,
                Phase("restart", self._restart),  # failures recorded, never raised
                *([Phase("verify", self._verify_pull)] if self.proving() else [])]

    def _activate_pull(self) -> None:
        def activate(host: Host, transport: Transport) -> None:
            self.moved.add(host.name)
            self._run_steps(host.name, transport, "switch",
                            strategies.activate_steps(self.contexts[host.name]))

        failed = self.fail_all(self.pool.map(activate, step="switch"), "switch")
        if failed:
            self._move_back(exclude=failed)
            raise self.first_stop(failed)

    def _move_back(self, exclude: Sequence[str] = ()) -> None:
        """pull: check the previous commit out again on every host that moved."""
        targets = [h for h in self.hosts if h.name in self.moved and h.name not in self.lost]
        moved_back = checkout_all(self.pool, targets, lambda n: self.layouts[n].deploy_to,
                                  self.previous_head.get, sink=self.sink,
                                  timeout=self.project.timeout, step="switch back")
        for name in moved_back.succeeded:
            if name not in exclude:
                self._fail(name, "switch", "switched back", outcome="switched back")
        for name, failure in moved_back.failed.items():
            self.warnings.append(f"{name}: switch back failed: {failure.reason}")

    def _restart(self) -> None:
        restarts = run_restarts(self.pool, self.project, self.hosts, self.sink, None,
                                self._env_for)
        for failure in restarts.failed.values():
            self.record(failure)

    def _verify_pull(self) -> None:
        """pull: every host checked after the restart; unhealthy -> the previous commit."""
        results = check_hosts(self.pool, self.project, self.hosts,
                              cwd_for=lambda h: self.layouts[h.name].deploy_to,
                              env_for=lambda h: self._env_for(h.name), sink=self.sink,
                              cancel=self.cancel)
        bad = [r for h in self.hosts for r in results.get(h.name, []) if not r.healthy]
        if not bad:
            return
        error = self.fail_unhealthy(bad)
        if self.project.on_unhealthy_in(self.request.environment) == "keep":
            raise Stop(error, text=f"{error}; kept (on_unhealthy: keep)")
        self._move_back(exclude=[r.host for r in bad])
        restarts = run_restarts(self.pool, self.project, self.hosts, self.sink, None,
                                self._env_for, phase="rollback")
        self.revert = Revert(back=[n for n in self.names if n not in restarts.failed],
                             failed={n: f"restart: {f.step}: {f.reason}"
                                     for n, f in restarts.failed.items()})
        raise Stop(error, text=f"{error}; rolled back to the previous commit")
