"""What one deploy knows and how it reports, shared by its phase modules.

A deploy is one Lifecycle (lifecycle.py) whose phases live in three modules: deploy.py
(preflight hooks, prepare, barrier, once, finish, cleanup), verify.py (the staged
switch, restart and health checks, and the automatic rollback) and pull_activation.py
(the pull strategy's checkout in place of the switch). Each of them builds on this
class, so each declares, and a type checker sees, everything it uses: the request, the
per-host contexts and reports, the environment, and the few ways a phase reports a host.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from deploytui.config.model import Config
from deploytui.engine.events import Sink
from deploytui.engine.hosts.pool import TransportFactory
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations.deploy.fanout import Fanout
from deploytui.engine.operations.deploy.staged import Revert, StagedSwitch
from deploytui.engine.operations.exclusion import ExcludeRefused
from deploytui.engine.operations.lifecycle import Failure, Lifecycle
from deploytui.engine.operations.request import DeployRequest, HostReport, host_env
from deploytui.engine.operations.source import Artifact, Resolved
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.layout import release_id_now
from deploytui.engine.remote.release_meta import MetaWriter
from deploytui.engine.remote.scan import HostScan
from deploytui.engine.remote.script import ScriptStep, run_steps
from deploytui.engine.remote.steps import Step


class DeployState(Lifecycle):
    """The deploy's state and reporting; the phases are its subclasses'."""

    def __init__(self, config: Config, request: DeployRequest, *, sink: Sink,
                 cancel: threading.Event | None, resolver: object,
                 factory: TransportFactory) -> None:
        self.operation = request.operation  # type: ignore[misc]  # per run: deploy | catch-up
        env = request.environment
        self.refused = ""  # a bad --exclude: refused in check(), before anything is sent
        try:
            remaining = request.hosts  # the environment without the hosts left out
        except ExcludeRefused as exc:
            remaining, self.refused = list(env.hosts), str(exc)
        self.excluded = [h.name for h in env.hosts if h not in remaining]
        super().__init__(config, request.project, replace(env, hosts=tuple(remaining)),
                         sink=sink, factory=factory, user=request.user, resolver=resolver,
                         cancel=cancel, break_lock=request.break_lock,
                         wait_lock=request.wait_lock)
        self.request = request
        self.force_freeze = request.force_freeze
        self.unchanged = False  # every host already served the sha: nothing was done
        again = request.catch_up
        self.release_id = (again.release_id if again else request.release_id) or release_id_now()
        self.reports = {n: HostReport(n) for n in self.names}
        self.created: set[str] = set()  # hosts where our release dir exists
        self.previous_head: dict[str, str | None] = {}  # pull: each host's commit before
        self.moved: set[str] = set()  # pull: hosts whose working copy this deploy moved
        self.resolved: Resolved | None = None
        self.artifact: Artifact | None = None
        self.contexts: dict[str, HostContext] = {}
        self.env: dict[str, str] = {}
        self.meta: MetaWriter | None = None
        self.scans: dict[str, HostScan] = {}  # release listings taken under the lock
        self.hook_refused = False  # before_deploy said no: no after_* hooks either
        self.staged: StagedSwitch | None = None  # the switch, stage by stage (verify.py)
        self.revert: Revert | None = None  # the automatic rollback, when one ran
        self.fanout: Fanout | None = None  # ship: relay, while the prepare phase runs

    def proving(self) -> bool:
        """Health checks or a staged rollout: a failed restart or check is undone."""
        return bool(self.request.environment.rollout) or any(
            role.health for h in self.hosts for role in self.project.roles_of(h))

    # -- reporting a host ----------------------------------------------------------------
    def record(self, failure: Failure) -> None:
        super().record(failure)
        if failure.host in self.reports:
            self._fail(failure.host, failure.step, failure.reason,
                       outcome="cancelled" if failure.kind == "cancelled" else "failed")

    def _fail(self, host: str, step: str, error: str, *, outcome: str = "failed") -> None:
        report = self.reports[host]
        report.outcome, report.step, report.error = outcome, step, self.redact(error)

    # -- running a host's steps ----------------------------------------------------------
    def _env_for(self, host: str) -> dict[str, str]:
        return host_env(self.env, self.contexts[host], self.request.environment.name)

    def _run_steps(self, host: str, transport: Transport, phase: str, steps: list[Step], *,
                   first: tuple[ScriptStep, ...] = (), last: tuple[ScriptStep, ...] = ()
                   ) -> None:
        def done(step: ScriptStep) -> None:
            if step.name == "create release":
                self.created.add(host)

        run_steps(transport, phase, steps, sink=self.sink, cancel=self.cancel,
                  timeout=self.project.timeout, env=self._env_for(host), first=first,
                  last=last, on_done=done,
                  uploader=self.fanout.receive if self.fanout is not None else None)
