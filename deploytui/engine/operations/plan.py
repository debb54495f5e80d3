"""What a deploy would do, without doing it (--dry-run, the console's plan screen).

Built from the same step lists the deploy runs (engine/strategies), so the plan shows
exactly the commands each host would get. The sha is resolved locally; with `inspect`
(the default) every host is also READ, in parallel and without taking the lock, to
show what it runs now, the commits between that and the target, who holds a lock, what
the deploy's prune would remove, and what `check --connect` finds missing there
(readiness.py: NOT READY lines). Nothing is ever changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploytui.config.model import Config
from deploytui.engine.operations import strategies
from deploytui.engine.operations.deploy.guards import too_many
from deploytui.engine.operations.freeze import adhoc_frozen, configured_freeze
from deploytui.engine.operations.roles import once_hosts, role_hosts
from deploytui.engine.operations.rollout import describe_stages, plan_stages
from deploytui.engine.operations.source import Changes, Resolved, changes_between, resolve
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.layout import Layout, release_id_now
from deploytui.engine.remote.steps import in_dir
from deploytui.engine.remote.switch import link_command


@dataclass
class DeployPlan:
    project: str
    environment: str
    release_id: str
    sha: str
    subject: str
    ref: str
    strategy: str
    hosts_by_role: dict[str, list[str]] = field(default_factory=dict)
    once_host: dict[str, str] = field(default_factory=dict)  # role -> host
    commands: dict[str, list[str]] = field(default_factory=dict)  # host -> commands
    inspected: bool = False  # the hosts were read (the fields below are filled)
    current: dict[str, str] = field(default_factory=dict)  # host -> release id (or sha, pull)
    changes: Changes | None = None  # relative to what most hosts run now
    prune: dict[str, list[str]] = field(default_factory=dict)  # host -> "id (size, why)"
    locks: dict[str, str] = field(default_factory=dict)  # host -> holder
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> one line
    excludable: set[str] = field(default_factory=set)  # unreachable hosts --exclude helps
    not_ready: dict[str, list[str]] = field(default_factory=dict)  # host -> `check: why`
    excluded: list[str] = field(default_factory=list)  # left out on purpose (--exclude)
    stages: list[str] = field(default_factory=list)  # the rollout, one line per stage
    verify: list[str] = field(default_factory=list)  # "role: GET url (timeout)" per check
    on_unhealthy: str = "rollback"
    max_commits: int = 8  # more is warned about (deploy/guards.py)
    frozen: str = ""  # the freeze in force (config or ad-hoc), described
    unchanged: bool = False  # every host already serves this commit

    def warnings(self) -> list[str]:
        """What the deploy would warn about or refuse: one line each."""
        out = []
        if self.frozen:
            out.append(f"FROZEN: {self.frozen}; the deploy is refused unless --force-freeze")
        if self.unchanged:
            out.append(f"every host already serves {self.sha[:12]}: nothing new to ship"
                       " (the CLI does nothing without --force)")
        too_many_line = too_many(self.changes, self.max_commits)
        if too_many_line:
            out.append(too_many_line)
        return out

    def lines(self) -> list[str]:
        out = [f"plan: deploy {self.project}/{self.environment} ({self.strategy})",
               f"  release  {self.release_id}",
               f"  commit   {self.sha} {self.subject}",
               f"  ref      {self.ref}"]
        if self.excluded:
            out.append(f"  EXCLUDED {', '.join(self.excluded)}: left out on purpose; they keep"
                       " serving what they serve (behind until `deploytui catch-up`)")
        if self.inspected:
            out.extend(f"  {line}" for line in self.inspected_lines())
        for role, hosts in self.hosts_by_role.items():
            once = f" (once on {self.once_host[role]})" if role in self.once_host else ""
            out.append(f"  role {role}: {', '.join(hosts) or '-'}{once}")
        out.extend(f"  stage    {line}" for line in self.stages)
        for check in self.verify:
            out.append(f"  verify   {check}; unhealthy: {self.on_unhealthy}")
        for host, commands in self.commands.items():
            out.append(f"[{host}]")
            for command in commands:
                first, *rest = command.splitlines() or [""]
                out.append(f"  $ {first}")
                out.extend(f"    {line}" for line in rest)
        out.append("dry run: nothing was changed" + (" (hosts were only read)" if self.inspected
                                                     else ", no host was contacted"))
        return out

    def inspected_lines(self, unreachable_hint: str = "leave it out with --exclude {host}"
                        ) -> list[str]:
        """What the hosts were found to run and hold, one line each, unindented: the CLI's
        dry run and the console's plan both say it this way. `unreachable_hint` tells how
        to leave an unreachable host out ({host} is filled in): a flag or a field."""
        out: list[str] = []
        running = sorted(set(self.current.values()))
        if running == [""] or not running:
            out.append("now      nothing deployed yet")
        elif len(running) == 1:
            out.append(f"now      {running[0]} on every host")
        else:
            out.extend(f"now      {host}: {current or 'nothing deployed yet'}"
                       for host, current in self.current.items())
        changes = self.changes
        if changes is not None and changes.direction in ("forward", "back", "diverged"):
            verb = {"forward": "brings", "back": "takes back", "diverged": "diverges by"}
            out.append(f"changes  {verb[changes.direction]} {changes.total} commit"
                       f"{'' if changes.total == 1 else 's'}")
            out.extend(f"         {sha} {subject}" for sha, subject in changes.commits)
            if changes.total > len(changes.commits):
                out.append(f"         … and {changes.total - len(changes.commits)} more")
        elif changes is not None and changes.direction == "same":
            out.append("changes  none: this commit is already deployed")
        out.extend(f"WARNING  {w}" for w in self.warnings())
        for host, holder in self.locks.items():
            out.append(f"LOCKED   {host}: {holder} (the deploy will stop at preflight)")
        for host, reason in self.unreachable.items():
            hint = f"; {unreachable_hint.format(host=host)}" if host in self.excludable else ""
            out.append(f"CANNOT REACH {host}: {reason} (the deploy will fail{hint})")
        for host, problems in self.not_ready.items():  # what `check --connect` says
            out.extend(f"NOT READY {host}: {problem} (the deploy will fail there)"
                       for problem in problems)
        pruned = {host: ids for host, ids in self.prune.items() if ids}
        if self.locks:  # another operation holds the hosts: its releases are not ours
            out.append("prune    not planned while the environment is locked")
        elif not pruned:
            out.append("prune    nothing (keep_releases not exceeded)")
        else:
            out.extend(f"prune    {host}: {', '.join(ids)}" for host, ids in pruned.items())
        return out

def build_plan(config: Config, request, *, resolver=None, inspect: bool = True,
               factory=None) -> DeployPlan:
    """The plan for a DeployRequest; raises source.SourceError for an unknown ref."""
    project, env = request.project, request.environment
    resolved = resolve(project, env, request.ref, sha=request.sha)
    release_id = request.release_id or release_id_now()
    hosts = list(request.hosts)  # without the hosts left out (exclusion.py)
    plan = DeployPlan(project.name, env.name, release_id, resolved.sha, resolved.subject,
                      resolved.ref, project.strategy,
                      excluded=[h.name for h in env.hosts if h not in hosts])
    plan.hosts_by_role = {name: [h.name for h in role_hosts(project, hosts, name)]
                          for name in project.roles}
    plan.once_host = once_hosts(project, hosts)
    if env.rollout is not None and project.strategy != "pull":
        plan.stages = describe_stages(plan_stages([h.name for h in hosts], env.rollout),
                                      env.rollout.pause)
    plan.verify = [f"{role.name}: {role.health.describe()} (within {role.health.timeout:g}s)"
                   for role in project.roles.values() if role.health]
    plan.on_unhealthy = project.on_unhealthy_in(env)
    plan.max_commits = project.max_commits
    frozen = configured_freeze(env)
    plan.frozen = frozen.describe() if frozen else ""
    if project.strategy == "artifact":
        plan.commands["local"] = [f"git archive {resolved.sha} (into a temp dir)",
                                  *project.build, "tar -czf artifact.tar.gz ."]
    for host in hosts:
        layout = Layout(project.host_deploy_to(host))
        ctx = HostContext(project, host, layout, release_id, resolved.sha, resolved.repo_url)
        cmds = [f"mkdir {layout.lock}  # the deploy lock"]
        cmds += [s.display() for s in strategies.prepare_steps(ctx)]
        cmds += [s.display() for s in strategies.activate_steps(ctx)]
        for role_name, once_host in plan.once_host.items():
            if once_host == host.name:
                cmds += [in_dir(ctx.release_path, c) for c in project.roles[role_name].once]
        if project.strategy != "pull":
            cmds.append(link_command(layout, ctx.release_path))
        for role in project.roles_of(host):
            cmds += [in_dir(ctx.release_path, c) for c in role.restart]
        cmds.append(f"append to {layout.revisions_log}; prune to {project.keep_releases}"
                    " releases; remove the lock")
        plan.commands[host.name] = cmds
    if inspect:
        _inspect(config, plan, project, hosts, resolved, factory,
                 branch=env.branch or project.branch)
    return plan


def _inspect(config: Config, plan: DeployPlan, project, hosts, resolved: Resolved,
             factory, *, branch: str) -> None:
    """Read every host (no lock, no change): current, lock holder, prune preview, and
    what `check --connect` would say (readiness.py), two commands per host."""
    from deploytui.engine.hosts.pool import HostPool, failure_of, transport_factory
    from deploytui.engine.operations.readiness import check_pool
    from deploytui.engine.operations.releases import scan_hosts

    with HostPool(hosts, factory or transport_factory(config),
                  max_parallel=config.ssh.max_parallel) as pool:
        refused = pool.connect()
        scans, errors = scan_hosts(pool, project, [h for h in hosts if h.name not in refused])
        errors = {**{name: str(err) for name, err in refused.items()}, **errors}
        # leaving a host out helps only when it is down and others are up; a host that
        # refuses our login (keys, host key) refuses every deploy alike
        if scans:
            plan.excludable = {name for name, err in refused.items()
                               if failure_of(name, err).kind == "unreachable"}
        # the lock holder, and what `check --connect` checks, in one command per host
        ready = check_pool(pool, project, [h for h in hosts if h.name in scans],
                           resolved.repo_url, branch, _env_or_none(config, project))
    plan.inspected = True
    plan.unreachable = dict(errors)
    for name, found in ready.items():
        if found.lock is not None:
            plan.locks[name] = found.lock.describe()
        if found.problems:
            plan.not_ready[name] = [problem.text for problem in found.problems]
        frozen = adhoc_frozen(found.freeze)
        if frozen is not None and not plan.frozen:
            plan.frozen = frozen.describe()
    running_shas: list[str] = []
    for host in hosts:
        scan = scans.get(host.name)
        if scan is None:
            continue
        if project.strategy == "pull":
            plan.current[host.name] = scan.head_sha[:12]
            running_shas.append(scan.head_sha)
            continue
        plan.current[host.name] = scan.current or ""
        if scan.current and scan.current in scan.entries:
            running_shas.append(scan.entries[scan.current].revision)
        plan.prune[host.name] = _prune_preview(scan, plan.release_id, resolved.sha,
                                               project.keep_releases)
    if running_shas:
        most = max(set(running_shas), key=running_shas.count)
        plan.changes = changes_between(resolved, most)
        plan.unchanged = (len(running_shas) == len(hosts)
                          and all(sha == resolved.sha for sha in running_shas))


def _env_or_none(config: Config, project) -> dict[str, str] | None:
    """The project's `env:` as the deploy's fetch gets it, when its secrets resolve."""
    if not project.env and project.sudo_password is None:
        return None
    from deploytui.config.secrets import resolver_for
    from deploytui.engine.operations.request import resolve_env

    try:
        return resolve_env(project, resolver_for(config))
    except Exception:
        return None  # the deploy itself says which secret is missing


def _prune_preview(scan, release_id: str, sha: str, keep: int) -> list[str]:
    """What the deploy's own prune would delete once this release is current."""
    import copy

    from deploytui.engine.operations.prune import human_bytes, plan_host
    from deploytui.engine.remote.layout import ReleaseMeta
    from deploytui.engine.remote.scan import HostRelease

    after = copy.copy(scan)
    after.entries = {**scan.entries, release_id: HostRelease(
        release_id, "dir", revision=sha, meta=ReleaseMeta(release_id, "ok", sha=sha))}
    after.current = release_id
    planned = plan_host(after, keep, protect={release_id})
    return [f"{d.release_id} ({human_bytes(d.size_bytes)}, {d.reason})" for d in planned.deletions]
