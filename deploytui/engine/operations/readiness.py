"""What a deploy needs from each host, checked on the host, in one command per host.

Capistrano's `deploy:check`, asked the way a deploy would ask: after the login, one
command (with the lock read, remote/lock.read_lock_and_probe) through the host's runner,
with the project's `env:`, prints one tagged line per fact: bash and the tools the
strategy runs (git for pull, git and tar for release, tar and sha256sum for
artifact), whether
`deploy_to` is writable or can be created, the free disk there, whether `sudo -n` works
where the host's commands use sudo and no `sudo_password` is set, whether the repo
answers `git ls-remote` FROM the host (as the deploy's fetch reaches it: same URL, same
env, the same connection, so a forwarded agent applies), and whether the `shared:`
files exist in shared/. Each problem is one line in the words of the tool that saw it
(`sudo: a password is required`, ssh's `Permission denied (publickey).`, never git's
generic `fatal: Could not read from remote repository.`).

`check --connect` and the plan (the console's and `deploy --dry-run`) both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.errors import failure_line
from deploytui.engine.hosts.pool import HostPool, TransportFactory, failure_of, transport_factory
from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.operations.strategies import BadSharedPath, shared_entries
from deploytui.engine.remote.freeze import AdHocFreeze
from deploytui.engine.remote.freeze import read_text as read_freeze
from deploytui.engine.remote.freeze import split_output as split_freeze
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LockInfo, read_lock_and_probe
from deploytui.engine.remote.scan import free_kb
from deploytui.engine.shell import q

REPO_TIMEOUT = 20  # seconds `git ls-remote` may take on a host
COMMAND_TIMEOUT = REPO_TIMEOUT + 20.0
_PROBLEM = "Z-CHK"
_FREE = "Z-FREE"
_REPO_BEGIN = "Z-REPO-BEGIN"
_REPO_END = "Z-REPO-END"
_SUDO = re.compile(r"(?:^|[\s;&|(`])sudo(?:\s|$)", re.MULTILINE)
# git's own closing lines when its transport failed: the cause is on an earlier line
_GIT_GENERIC = ("fatal: Could not read from remote repository.",
                "Please make sure you have the correct access rights",
                "and the repository exists.")


@dataclass(frozen=True)
class Problem:
    host: str
    check: str  # login | bash | git | tar | sha256sum | deploy_to | disk | sudo | repo | shared
    reason: str  # in the words of the tool that saw it

    @property
    def text(self) -> str:
        """`check: reason`, without saying the check twice (`sudo: sudo: …`); a host
        that could not be reached is told in the connection's own words."""
        if self.check == "login" or self.reason.startswith(f"{self.check}: "):
            return self.reason
        return f"{self.check}: {self.reason}"

    def line(self) -> str:
        return f"{self.host}: {self.text}"


@dataclass
class HostReadiness:
    host: str
    problems: list[Problem] = field(default_factory=list)
    lock: LockInfo | None = None  # who holds the deploy lock (not a problem)
    freeze: AdHocFreeze | None = None  # `deploytui freeze` in force there (not a problem)
    free_mb: int | None = None
    reached: bool = False  # logged in and the check ran

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Readiness:
    project: str
    environment: str
    hosts: dict[str, HostReadiness] = field(default_factory=dict)  # configured order

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts.values())

    @property
    def problems(self) -> list[Problem]:
        return [p for h in self.hosts.values() for p in h.problems]


# ------------------------------------------------------------------ what is asked
def uses_sudo(project: Project, host: Host) -> bool:
    """Whether a command this host runs in a deploy calls sudo."""
    commands = list(project.build)
    for role in project.roles_of(host):
        commands += [*role.tasks, *role.once, *role.restart]
        if role.health is not None and role.health.command:
            commands.append(role.health.command)
    return any(_SUDO.search(command) for command in commands)


def tools(project: Project) -> list[str]:
    """The programs the strategy's own steps run on the host (besides coreutils)."""
    if project.strategy == "artifact":
        return ["tar", "sha256sum"]
    if project.strategy == "release":
        return ["git", "tar"]  # the checkout is `git archive | tar -x`
    return ["git"]


def check_script(project: Project, host: Host, repo_url: str, branch: str) -> str:
    """POSIX sh text (it must tell a host without bash so): one tagged line per fact.
    It never exits (it runs as a lock read's probe) and starts as few processes as it
    can: builtins for paths and tools, one `stat`, one `sudo`, one `git ls-remote`."""
    layout = Layout(project.host_deploy_to(host))
    d = q(layout.deploy_to)
    parts = [
        f"__dt_p() {{ printf '{_PROBLEM} %s %s\\n' \"$1\" \"$2\"; }}",
        "command -v bash >/dev/null 2>&1 || __dt_p bash 'not installed'",
    ]
    parts += [f"command -v {t} >/dev/null 2>&1 || __dt_p {t} 'not installed'"
              for t in tools(project)]
    parts.append(
        f"__dt_d={d}; __dt_e=$__dt_d\n"
        "while [ ! -e \"$__dt_e\" ]; do __dt_e=${__dt_e%/*}; [ -n \"$__dt_e\" ] || __dt_e=/; done\n"
        "if [ \"$__dt_e\" = \"$__dt_d\" ]; then\n"
        "  if [ ! -d \"$__dt_d\" ]; then __dt_p deploy_to \"$__dt_d is not a directory\"\n"
        "  elif [ ! -w \"$__dt_d\" ] || [ ! -x \"$__dt_d\" ]; then"
        " __dt_p deploy_to \"$__dt_d is not writable by $(id -un)\"; fi\n"
        "elif [ ! -d \"$__dt_e\" ] || [ ! -w \"$__dt_e\" ] || [ ! -x \"$__dt_e\" ]; then\n"
        "  __dt_p deploy_to \"cannot create $__dt_d: $__dt_e is not writable by $(id -un)\"\n"
        "fi\n"
        f"printf '{_FREE} %s\\n' \"$(stat -f -c '%a %S' -- \"$__dt_e\" 2>/dev/null)\"")
    if uses_sudo(project, host) and project.sudo_password is None:
        parts.append(
            "if command -v sudo >/dev/null 2>&1; then"
            " __dt_o=$(command sudo -n true 2>&1 </dev/null) ||"
            " __dt_p sudo \"$(printf '%s\\n' \"$__dt_o\" | head -n 1)\";"
            " else __dt_p sudo 'not installed'; fi")
    if project.strategy != "artifact":
        ref = q(f"refs/heads/{branch}")
        parts.append(
            "if command -v git >/dev/null 2>&1; then\n"
            "  __dt_t=; command -v timeout >/dev/null 2>&1 &&"
            f" __dt_t='timeout {REPO_TIMEOUT}'\n"
            f"  __dt_o=$($__dt_t git ls-remote --exit-code -- {q(repo_url)} {ref} 2>&1"
            " </dev/null)\n"
            f"  __dt_r=$?; echo {_REPO_BEGIN}; printf '%s\\n' \"$__dt_o\";"
            f" echo \"{_REPO_END} $__dt_r\"\n"
            "fi")
    files = _shared_files(project)
    if files:
        listed = " ".join(q(f"{layout.shared}/{rel}") for rel in files)
        parts.append(f"for __dt_f in {listed}; do [ -e \"$__dt_f\" ] ||"
                     " __dt_p shared \"missing shared file $__dt_f\"; done")
    return "\n".join(parts)


def _shared_files(project: Project) -> list[str]:
    """The `shared:` entries that must exist (files; directories are created)."""
    if project.strategy == "pull":
        return []  # pull links nothing
    try:
        return [rel for rel, is_dir in shared_entries(project) if not is_dir]
    except BadSharedPath:
        return []  # the config check refuses it before any deploy


# ------------------------------------------------------------------ what is answered
def parse_check(host: str, project: Project, deploy_to: str, repo_url: str, branch: str,
                output: str) -> HostReadiness:
    found = HostReadiness(host, reached=True)
    lines = output.splitlines()
    repo_out: list[str] | None = None
    for line in lines:
        if repo_out is not None:
            if line.startswith(_REPO_END):
                code = line[len(_REPO_END):].strip()
                problem = _repo_problem(repo_url, branch, code, repo_out)
                if problem:
                    found.problems.append(Problem(host, "repo", problem))
                repo_out = None
            else:
                repo_out.append(line)
            continue
        tag, _, rest = line.partition(" ")
        if tag == _PROBLEM:
            check, _, reason = rest.partition(" ")
            found.problems.append(Problem(host, check, reason.strip() or "failed"))
        elif tag == _FREE:
            kb = free_kb(rest)
            found.free_mb = None if kb is None else kb // 1024
        elif tag == _REPO_BEGIN:
            repo_out = []
    if found.free_mb is not None and found.free_mb < project.min_free_mb:
        found.problems.append(Problem(host, "disk", f"only {found.free_mb} MB free on"
                                      f" {deploy_to} (min_free_mb {project.min_free_mb})"))
    return found


def _repo_problem(url: str, branch: str, code: str, output: list[str]) -> str:
    if code == "0":
        return ""
    if code == "2" and not any(line.strip() for line in output):
        return f"{url}: branch {branch} not found"
    if code == "124":
        return f"{url}: no answer within {REPO_TIMEOUT}s"
    cause = [line for line in output if line.strip() and not line.startswith(_GIT_GENERIC)]
    return failure_line("\n".join(cause)) or failure_line("\n".join(output)) \
        or f"{url}: git ls-remote exited {code}"


# ------------------------------------------------------------------ the operation
def check_pool(pool: HostPool, project: Project, hosts: Iterable[Host], repo_url: str,
               branch: str, env: Mapping[str, str] | None = None
               ) -> dict[str, HostReadiness]:
    """Run the check on every connected host of `pool` (one command each)."""
    targets = [h for h in hosts if h.name in pool.transports]

    def one(host: Host, transport: Transport) -> HostReadiness:
        layout = Layout(project.host_deploy_to(host))
        # the ad-hoc freeze is read in the same command (the plan shows it)
        script = read_freeze(layout) + "\n" + check_script(project, host, repo_url, branch)
        holder, output = read_lock_and_probe(transport, layout, script, env=env,
                                             timeout=COMMAND_TIMEOUT)
        freeze, output = split_freeze(output)
        found = parse_check(host.name, project, project.host_deploy_to(host), repo_url,
                            branch, output)
        found.lock = holder
        found.freeze = freeze
        if "bash: not found" in output or "bash: command not found" in output:
            found.problems.insert(0, Problem(host.name, "bash", "not installed"))
        return found

    outcomes = pool.map(one, targets, step="check")
    result: dict[str, HostReadiness] = {}
    for host in targets:
        outcome = outcomes[host.name]
        if outcome.ok and outcome.value is not None:
            result[host.name] = outcome.value
            continue
        failure = outcome.failure or failure_of(host.name, RuntimeError("no answer"), "check")
        reason = failure.reason
        check = "bash" if "bash: not found" in reason or "bash is required" in reason \
            else "login"
        result[host.name] = HostReadiness(host.name, [Problem(
            host.name, check, "not installed" if check == "bash" else reason)], reached=True)
    return result


def check_environment(config: Config, project: Project, environment: Environment, *,
                      factory: TransportFactory | None = None,
                      env: Mapping[str, str] | None = None,
                      login_problem=None) -> Readiness:
    """Connect to every host of `environment` and check what a deploy needs there.

    `login_problem(error)` words a connection failure (the CLI's own words by
    default: the error's message); `env` is the project's resolved `env:`.
    """
    from deploytui.engine.operations.source import repo_url as url_of

    readiness = Readiness(project.name, environment.name)
    url, branch = url_of(project), environment.branch or project.branch
    with HostPool(environment.hosts, factory or transport_factory(config),
                  max_parallel=config.ssh.max_parallel) as pool:
        failed = pool.connect()
        checked = check_pool(pool, project, environment.hosts, url, branch, env)
    for host in environment.hosts:
        error = failed.get(host.name)
        if error is not None:
            reason = login_problem(error) if login_problem else _login_words(error)
            readiness.hosts[host.name] = HostReadiness(host.name,
                                                       [Problem(host.name, "login", reason)])
        else:
            readiness.hosts[host.name] = checked[host.name]
    return readiness


def _login_words(error: TransportError) -> str:
    return " ".join(error.message.split())
