"""The typed configuration model: what the rest of deploytui reads, never raw YAML.

Every object is immutable once loaded; defaults live here so that the loader, the
engine and the console agree on them. The keys mirror config.example.yml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

Strategy = Literal["release", "artifact", "pull"]
STRATEGIES: tuple[str, ...] = ("release", "artifact", "pull")
HostKeyPolicy = Literal["strict", "accept-new"]
NotifyEvent = Literal["start", "success", "failure", "rollback"]
NOTIFY_EVENTS: tuple[str, ...] = ("start", "success", "failure", "rollback")
OnUnhealthy = Literal["rollback", "keep"]
ON_UNHEALTHY: tuple[str, ...] = ("rollback", "keep")
HOOK_NAMES: tuple[str, ...] = ("before_deploy", "after_deploy", "after_failure",
                               "after_rollback")
HEALTH_PLACEHOLDERS: tuple[str, ...] = ("address", "name")
COMMAND_TARGETS: tuple[str, ...] = ("all", "once")  # or a role's name
Ship = Literal["relay", "direct"]
SHIPS: tuple[str, ...] = ("relay", "direct")


@dataclass(frozen=True)
class SecretRef:
    """A `{secret: NAME}` value: resolved from the keyring only when it is needed."""

    name: str

    def __str__(self) -> str:  # never the value: there is none here
        return f"{{secret: {self.name}}}"


# A value that may be written in clear or as a reference to the keyring.
Secretish = str | SecretRef


@dataclass(frozen=True)
class SSHSettings:
    config: Path | None = None  # ~/.ssh/config when it exists
    # computed per instance, so a changed $HOME (tests, sudo -H) is honoured
    known_hosts: Path = field(default_factory=lambda: Path("~/.ssh/known_hosts").expanduser())
    host_keys: HostKeyPolicy = "strict"
    identity_file: Path | None = None
    passphrase: Secretish | None = None  # for an encrypted identity_file (or key)
    key: SecretRef | None = None  # the private key's text itself, from a secret (CI)
    # forward the operator's agent to the hosts (their git reaches a private repo with
    # it); None: what ssh_config's ForwardAgent says for the host, else off
    forward_agent: bool | None = None
    connect_timeout: float = 10.0
    # hosts worked on at once. Not what protects servers: handshakes to any one server
    # are capped (engine/hosts/context.py) whatever this says. A host costs ~2 threads
    # and well under 1 MB while connected, so every host of a fleet runs at once.
    max_parallel: int = 256


@dataclass(frozen=True)
class HealthCheck:
    """Is the app up on a host after its restart: an HTTP GET made from the host's side
    (through the SSH connection) or a command on the host (healthy = exit 0)."""

    url: str | None = None  # http://{address}:8000/up ; {address} {name} are filled in
    command: str | None = None
    status: tuple[int, int] = (200, 399)  # inclusive range of healthy HTTP codes
    timeout: float = 30.0  # seconds for the host to become healthy, retrying
    interval: float = 1.0  # seconds between attempts

    def describe(self) -> str:
        return f"GET {self.url}" if self.url else f"$ {self.command}"


@dataclass(frozen=True)
class Rollout:
    """A staged switch: canary hosts first, then batches, each health-gated."""

    canary: int = 0  # hosts switched, restarted and checked before any other
    batch: int | None = None  # hosts per later batch; None: all the rest at once
    batch_percent: int | None = None  # or a share of the environment's hosts (1-100)
    pause: float = 0.0  # seconds between stages


@dataclass(frozen=True)
class Hooks:
    """Commands run on the deploying machine around a deploy (DEPLOYTUI_* in env)."""

    before_deploy: tuple[str, ...] = ()  # non-zero: stop before the lock
    after_deploy: tuple[str, ...] = ()
    after_failure: tuple[str, ...] = ()
    after_rollback: tuple[str, ...] = ()

    def of(self, name: str) -> tuple[str, ...]:
        return getattr(self, name)


@dataclass(frozen=True)
class Role:
    name: str
    tasks: tuple[str, ...] = ()  # every host of the role, in prepare
    once: tuple[str, ...] = ()  # the role's first host only, after the barrier
    restart: tuple[str, ...] = ()  # after the switch, roles in configured order
    parallel: bool = True  # False: one host at a time
    batch: int | None = None  # restart in rolling batches of N hosts
    health: HealthCheck | None = None  # checked on each host after its restart
    # what `deploytui logs` shows: files or globs (absolute, or relative to `current`),
    # and/or a command printing the log (journalctl gets -n/-f/--since added)
    logs: tuple[str, ...] = ()
    logs_command: str | None = None


@dataclass(frozen=True)
class NamedCommand:
    """A project's `commands:` entry, run by `deploytui run PROJECT ENV NAME`."""

    name: str
    run: str  # shell text, run in `current` with the project's env
    on: str = "all"  # all | once | a role's name
    confirm: bool = False  # it changes servers: ask before running it


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # DNS name, IP, or an alias from ~/.ssh/config
    roles: tuple[str, ...] = ()
    port: int | None = None  # None: from ~/.ssh/config, else 22
    user: str | None = None  # None: from ~/.ssh/config, else the local user
    transport: Literal["ssh", "local"] = "ssh"  # local: run on this machine (the demo)
    deploy_to: str | None = None  # overrides the project's deploy_to for this host
    # where the other hosts reach this one to fetch the artifact (ship: relay); None: the
    # address deploytui connects to (after ~/.ssh/config's HostName)
    relay_address: str | None = None


WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class FreezeWindow:
    """A time when deploys are refused: once (`start`..`end`, aware datetimes) or every
    week (`weekly`: minutes since Monday 00:00 in `tz`, from and to; to < from wraps
    over the week's end, e.g. Fri 16:00 to Mon 08:00)."""

    reason: str
    start: datetime | None = None
    end: datetime | None = None
    weekly: tuple[int, int] | None = None
    tz: str = "UTC"
    line: int = 0  # where it is written, for messages

    def ends(self, now: datetime) -> datetime | None:
        """When the window that holds `now` (aware) ends, or None if `now` is outside."""
        if self.start is not None and self.end is not None:
            return self.end if self.start <= now < self.end else None
        if self.weekly is None:
            return None
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.tz)
        local = now.astimezone(zone)
        minute = local.weekday() * 1440 + local.hour * 60 + local.minute
        begin, end = self.weekly
        inside = begin <= minute < end if begin <= end else (minute >= begin or minute < end)
        if not inside:
            return None
        wall = local.replace(tzinfo=None, second=0, microsecond=0)
        return (wall + timedelta(minutes=(end - minute) % WEEK_MINUTES)).replace(tzinfo=zone)


@dataclass(frozen=True)
class Environment:
    name: str
    hosts: tuple[Host, ...]
    confirm: bool = False  # TUI asks to type the name; CLI needs --yes
    branch: str | None = None  # overrides the project's branch
    rollout: Rollout | None = None  # None: every host switches at once
    on_unhealthy: OnUnhealthy | None = None  # None: the project's
    freeze: tuple[FreezeWindow, ...] = ()  # deploys refused inside (--force-freeze overrides)


@dataclass(frozen=True)
class Project:
    name: str
    repo: str  # git URL, a local path, or "builtin:demo" (the bundled sample app)
    deploy_to: str  # absolute POSIX path on the hosts
    environments: dict[str, Environment]
    branch: str = "main"
    strategy: Strategy = "release"
    keep_releases: int = 5
    shared: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    roles: dict[str, Role] = field(default_factory=dict)  # insertion order = deploy order
    timeout: float = 600.0  # seconds a single remote step may take
    min_free_mb: int = 100  # preflight refuses a host with less free disk
    env: dict[str, Secretish] = field(default_factory=dict)  # exported to every step
    sudo_password: Secretish | None = None
    on_unhealthy: OnUnhealthy = "rollback"
    hooks: Hooks = Hooks()
    commands: dict[str, NamedCommand] = field(default_factory=dict)  # `deploytui run NAME`
    max_commits: int = 8  # a deploy shipping more is warned about (Shipit's default)
    # artifact: `relay` uploads it once and the hosts pass it on among themselves
    # (engine/operations/deploy/fanout.py); `direct` uploads it to every host from here
    ship: Ship = "relay"
    relay_port: int = 0  # the port hosts serve the artifact on; 0: any free port

    def on_unhealthy_in(self, environment: Environment) -> OnUnhealthy:
        return environment.on_unhealthy or self.on_unhealthy

    def host_deploy_to(self, host: Host) -> str:
        return host.deploy_to or self.deploy_to

    def roles_of(self, host: Host) -> list[Role]:
        """The host's roles in the project's configured order."""
        return [role for name, role in self.roles.items() if name in host.roles]


@dataclass(frozen=True)
class NotifyTarget:
    url: Secretish | None = None  # a webhook; or
    command: str | None = None  # a local command given the json message on stdin
    format: Literal["slack", "teams", "discord", "json"] = "json"
    on: tuple[str, ...] = NOTIFY_EVENTS
    timeout: float = 5.0


@dataclass(frozen=True)
class SecretsSettings:
    """Top-level `secrets:`: a team vault's CLI, asked before the keyring and the env."""

    command: str | None = None  # "op read op://deploy/{name}": {name} shell-quoted
    timeout: float = 30.0  # seconds the command may take for one secret


@dataclass(frozen=True)
class HistorySettings:
    keep_days: int = 90  # per-host log files older than this are removed
    keep_deploys: int = 1000  # journal rows kept per project/environment


@dataclass(frozen=True)
class UISettings:
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. deploy: "D"
    log_lines: int = 5000  # lines a log widget keeps; the full log is on disk


@dataclass(frozen=True)
class Config:
    path: Path | None
    projects: dict[str, Project]
    ssh: SSHSettings = SSHSettings()
    notify: tuple[NotifyTarget, ...] = ()
    history: HistorySettings = HistorySettings()
    ui: UISettings = UISettings()
    secrets: SecretsSettings = SecretsSettings()
    warnings: tuple[str, ...] = ()  # one line each, FILE:LINE: key: what
