"""`deploytui catch-up`: bring the hosts that are behind to the release the fleet serves.

A host is behind when its `current` is not the fleet's release (behind.py) — typically
it was left out of a deploy with `--exclude`. Catching up is that release's deploy, run
again on those hosts only: the SAME release id and sha, built with the project's strategy
on that host (cloned from the repo, or the artifact built again from the same commit),
switched, restarted (and health-checked where the project checks health). The roles'
`once` steps do not run again: the fleet ran them when it switched. It IS the deploy
operation (deploy.py, named "catch-up"), narrowed to the hosts behind: whatever phase the
deploy has after the switch (restart, and the health `verify` phase where it exists)
runs for a catch-up too; `once` is the only phase it leaves out (deploy.phases). Hosts
that are up to date are not touched, not even locked; so a second catch-up finds nothing
and exits 0.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

from deploytui.config.model import Config, Environment, Project
from deploytui.engine.events import Sink, discard
from deploytui.engine.failure import Refused
from deploytui.engine.hosts.pool import TransportFactory
from deploytui.engine.operations.deploy import run_deploy
from deploytui.engine.operations.freeze import configured_freeze, refusal
from deploytui.engine.operations.releases import FleetReleases, list_releases, select_names
from deploytui.engine.operations.request import DeployRequest, DeployResult
from deploytui.engine.operations.result import OperationResult
from deploytui.engine.remote.layout import ReleaseMeta
from deploytui.engine.remote.lock import local_user


class CatchUpRefused(Refused):
    """Nothing was changed: a host name not in the environment, a fleet that disagrees on
    its release (both usage errors), a freeze."""

    def __init__(self, reason: str, *, usage: bool = True) -> None:
        super().__init__(reason)
        self.usage = usage


@dataclass
class CatchUpPlan:
    project: str
    environment: str
    release: str | None  # the fleet's release; None when nothing is deployed anywhere
    sha: str = ""
    meta: ReleaseMeta | None = None  # the fleet release's metadata, carried to the hosts
    targets: dict[str, str | None] = field(default_factory=dict)  # host -> what it serves
    unreachable: dict[str, str] = field(default_factory=dict)  # behind, not answering
    up_to_date: list[str] = field(default_factory=list)
    asked: list[str] | None = None  # the hosts named on the command line, if any

    @property
    def nothing_to_do(self) -> bool:
        return not self.targets and not self.unreachable

    def lines(self) -> list[str]:
        """What the catch-up will do, per host (the CLI prints it before it starts)."""
        if self.release is None:
            return [f"{self.project}/{self.environment}: nothing deployed yet, nothing to"
                    " catch up"]
        if self.nothing_to_do:
            who = (", ".join(self.asked) if self.asked
                   else f"every host of {self.project}/{self.environment}")
            verb = "serve" if self.asked and len(self.asked) > 1 else "serves"
            return [f"nothing behind: {who} already {verb} release {self.release}"]
        out = [f"catch-up {self.project}/{self.environment} to release {self.release}"
               f" ({self.sha[:12]})"]
        for host, serving in self.targets.items():
            out.append(f"  {host}: serving {serving or 'nothing'} -> build {self.release},"
                       " switch, restart")
        for host, error in self.unreachable.items():
            out.append(f"  {host}: still unreachable ({error})")
        if self.up_to_date:
            out.append(f"  up to date, not touched: {', '.join(self.up_to_date)}")
        return out


def plan_catch_up(fleet: FleetReleases, only: list[str] | None = None) -> CatchUpPlan:
    """Which hosts to bring to which release, from a fresh listing; CatchUpRefused when
    a named host is unknown or the fleet itself disagrees."""
    names = list(fleet.hosts)
    unknown = [h for h in only or [] if h not in names]
    if unknown:
        raise CatchUpRefused(f"no host {', '.join(unknown)} in {fleet.project}/"
                             f"{fleet.environment} (hosts: {', '.join(names)})")
    position = fleet.position
    if position.disagreement:
        raise CatchUpRefused(f"catch-up refused: {position.disagreement}; roll back or deploy"
                             " to settle which release the fleet serves")
    plan = CatchUpPlan(fleet.project, fleet.environment, position.release, asked=only)
    if position.release is None:
        return plan
    row = fleet.row(position.release)
    plan.sha = row.sha if row else ""
    plan.meta = _meta_of(fleet, position.release)
    wanted = set(only) if only else set(names)
    for host in names:
        if host not in wanted:
            continue
        info = fleet.hosts[host]
        late = position.behind.get(host)
        if info.error:
            if late is not None or only:  # behind by the record, or asked for by name
                plan.unreachable[host] = info.error
        elif late is not None:
            plan.targets[host] = late.serving
        else:
            plan.up_to_date.append(host)
    return plan


def _meta_of(fleet: FleetReleases, release_id: str) -> ReleaseMeta | None:
    """The metadata an up-to-date host keeps for the release (who, when, what, excluded)."""
    for scan in fleet.scans.values():
        rel = scan.entries.get(release_id)
        if rel is not None and rel.meta is not None and scan.current == release_id:
            return rel.meta
    return None


@dataclass(kw_only=True)
class CatchUpResult(OperationResult):
    """A catch-up's result: the plan, and the deploy it ran (None: nothing was behind,
    or only unreachable hosts were). The common part is the deploy's; hosts behind that
    are still unreachable make it a failure."""

    plan: CatchUpPlan
    deploy: DeployResult | None = None

    @classmethod
    def of(cls, plan: CatchUpPlan, deploy: DeployResult | None = None) -> CatchUpResult:
        result = cls(plan=plan, deploy=deploy)
        if deploy is not None:
            common = {f.name: getattr(deploy, f.name) for f in fields(OperationResult)}
            for name, value in common.items():
                setattr(result, name, value)
        if plan.unreachable and result.ok:
            result.outcome = "failed"
            result.error = "still unreachable, not caught up: " + "; ".join(
                f"{h}: {why}" for h, why in plan.unreachable.items())
            result.failed_hosts = {**result.failed_hosts, **{
                h: f"connect: {why}" for h, why in plan.unreachable.items()}}
        return result


def run_catch_up(config: Config, project: str | Project, environment: str | Environment,
                 hosts: list[str] | None = None, *, sink: Sink = discard,
                 cancel: threading.Event | None = None, factory: TransportFactory | None = None,
                 user: str | None = None, resolver=None, force_freeze: bool = False,
                 wait_lock: float = 0.0) -> CatchUpResult:
    """List the fleet, then deploy its release again to the hosts behind (all, or `hosts`);
    raises CatchUpRefused (one line, nothing changed) when the fleet disagrees."""
    proj, env = select_names(config, project, environment)
    frozen = configured_freeze(env)
    if frozen is not None and not force_freeze:  # refused before any host is read
        raise CatchUpRefused(refusal(proj.name, env.name, frozen), usage=False)
    plan = plan_catch_up(list_releases(config, proj, env, factory=factory), hosts)
    if not plan.targets or plan.release is None:
        return CatchUpResult.of(plan)
    meta = plan.meta or ReleaseMeta(plan.release, "ok", sha=plan.sha)  # a Capistrano release
    request = DeployRequest(proj, env, user=user or local_user(), catch_up=meta,
                            force_freeze=force_freeze, wait_lock=wait_lock,
                            exclude=tuple(h.name for h in env.hosts
                                          if h.name not in plan.targets))
    return CatchUpResult.of(plan, run_deploy(config, request, sink=sink, cancel=cancel,
                                             resolver=resolver, factory=factory))
