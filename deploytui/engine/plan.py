"""What a deploy would do, without doing it (--dry-run, the console's plan screen).

Built from the same step lists the deploy runs (engine/strategies), so the plan shows
exactly the commands each host would get. Only the sha is resolved (locally); no host
is contacted and no lock is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploytui.config.model import Config
from deploytui.engine import strategies
from deploytui.engine.layout import Layout, release_id_now
from deploytui.engine.roles import in_dir, once_hosts, role_hosts
from deploytui.engine.source import resolve
from deploytui.engine.strategies import HostContext
from deploytui.engine.switch import link_command


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

    def lines(self) -> list[str]:
        out = [f"plan: deploy {self.project}/{self.environment} ({self.strategy})",
               f"  release  {self.release_id}",
               f"  commit   {self.sha} {self.subject}",
               f"  ref      {self.ref}"]
        for role, hosts in self.hosts_by_role.items():
            once = f" (once on {self.once_host[role]})" if role in self.once_host else ""
            out.append(f"  role {role}: {', '.join(hosts) or '-'}{once}")
        for host, commands in self.commands.items():
            out.append(f"[{host}]")
            for command in commands:
                first, *rest = command.splitlines() or [""]
                out.append(f"  $ {first}")
                out.extend(f"    {line}" for line in rest)
        out.append("dry run: nothing was changed, no host was contacted")
        return out


def build_plan(config: Config, request, *, resolver=None) -> DeployPlan:
    """The plan for a DeployRequest; raises source.SourceError for an unknown ref."""
    project, env = request.project, request.environment
    resolved = resolve(project, env, request.ref)
    release_id = request.release_id or release_id_now()
    hosts = list(env.hosts)
    plan = DeployPlan(project.name, env.name, release_id, resolved.sha, resolved.subject,
                      resolved.ref, project.strategy)
    plan.hosts_by_role = {name: [h.name for h in role_hosts(project, hosts, name)]
                          for name in project.roles}
    plan.once_host = once_hosts(project, hosts)
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
    return plan
