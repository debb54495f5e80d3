"""What a deploy is asked to do and what it reports back, and the environment its
remote commands get (shared with rollback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deploytui.config.model import Environment, Host, Project
from deploytui.engine.operations.exclusion import remaining_hosts
from deploytui.engine.operations.result import OperationResult
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.layout import ReleaseMeta
from deploytui.engine.remote.lock import local_user


@dataclass
class DeployRequest:
    project: Project
    environment: Environment
    ref: str | None = None
    break_lock: bool = False
    user: str = field(default_factory=local_user)
    release_id: str | None = None  # tests may pin it; normally made once per deploy
    sha: str | None = None  # the commit a confirmed plan showed: deployed even if `ref` moved
    wait_lock: float = 0.0  # seconds to wait for a live lock held by someone else
    exclude: tuple[str, ...] = ()  # hosts left out on purpose (exclusion.py); validated
    # catch-up (deploy/catch_up.py): deploy THIS release again (same id, sha, metadata) to the
    # hosts not excluded; the roles' `once` steps do not run again
    catch_up: ReleaseMeta | None = None
    force_freeze: bool = False  # deploy inside a freeze (recorded as an override)
    # only if some host serves another commit: the CLI and the console ask for this
    # (their --force turns it off); the engine's callers get what they asked for
    if_changed: bool = False

    @property
    def hosts(self) -> list[Host]:
        """The hosts this deploy runs on: the environment's, minus `exclude`; raises
        exclusion.ExcludeRefused (one line) for a bad exclusion."""
        return remaining_hosts(self.project, self.environment, self.exclude,
                               once_runs=self.catch_up is None)

    @property
    def operation(self) -> Literal["deploy", "catch-up"]:
        return "deploy" if self.catch_up is None else "catch-up"

    @property
    def verb(self) -> str:
        """What the journal and the console call it."""
        return "deploy"

    @property
    def target(self) -> tuple[str, str]:
        """(project, environment): the lock it takes, the journal's row."""
        return self.project.name, self.environment.name


@dataclass
class HostReport:
    host: str
    outcome: str = "skipped"  # deployed | failed | cancelled | switched back | skipped
    #                           | rolled back (an unhealthy deploy sent it back)
    #                           | excluded (left out on purpose)
    duration: float = 0.0
    step: str = ""
    error: str = ""


@dataclass(kw_only=True)
class DeployResult(OperationResult):
    """A deploy's (or catch-up's) result: the common part, and what it deployed where.
    Its outcome may also be `unchanged` or `rolled_back` (result.Outcome)."""

    release_id: str = ""
    sha: str = ""
    hosts: dict[str, HostReport] = field(default_factory=dict)
    subject: str = ""


def resolve_env(project: Project, resolver) -> dict[str, str]:
    """The project's `env:` and sudo password as plain strings (secrets resolved)."""
    env = {key: resolver.resolve(value) if not isinstance(value, str) else value
           for key, value in project.env.items()}
    if project.sudo_password is not None:
        pw = project.sudo_password
        pw = pw if isinstance(pw, str) else resolver.resolve(pw)
        if hasattr(resolver, "remember"):
            resolver.remember(pw)
        env["DEPLOYTUI_SUDO_PASSWORD"] = pw
    return env


def host_env(base: dict[str, str], ctx: HostContext, environment: str) -> dict[str, str]:
    return {**base, "DEPLOYTUI_RELEASE": ctx.release_id,
            "DEPLOYTUI_RELEASE_PATH": ctx.release_path,
            "DEPLOYTUI_DEPLOY_TO": ctx.layout.deploy_to, "DEPLOYTUI_HOST": ctx.host.name,
            "DEPLOYTUI_SHA": ctx.sha, "DEPLOYTUI_ENV": environment}
