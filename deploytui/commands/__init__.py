"""Headless subcommands: one module per command, each exposing `run(args, config) -> int`.

`deploytui.cli` imports a command's module only when that command runs, so start-up
stays fast. This package holds what every command shares: the exit statuses (the
contract CI scripts rely on) and the project/environment lookup with its one-line
error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploytui.config.model import Config, Environment, Project
    from deploytui.engine import OperationResult

EXIT_OK = 0  # done
EXIT_FAILED = 1  # the operation ran and failed (a host failed, nothing was switched...)
EXIT_USAGE = 2  # bad command line or config: nothing was attempted
EXIT_LOCKED = 3  # someone else holds the deploy lock
EXIT_CANCELLED = 130  # Ctrl-C or a refused confirmation (128 + SIGINT, as shells do)


def exit_status(result: OperationResult) -> int:
    """The one rule from any operation's result to the exit status (docs/ci.md): done
    (or nothing to do) 0; stopped on request 130; another operation's lock 3; a request
    wrong in itself (a bad release id, a host not in the environment) 2; else 1."""
    if result.ok:
        return EXIT_OK
    if result.cancelled:
        return EXIT_CANCELLED
    if result.locked:
        return EXIT_LOCKED
    if result.usage_error:
        return EXIT_USAGE
    return EXIT_FAILED


class UsageError(Exception):
    """The command line names something that does not exist; str() is one line (exit 2)."""


def _config_name(config: Config) -> str:
    return str(config.path) if config.path is not None else "the config"


def select_project(config: Config, project: str) -> Project:
    """The named project, or a UsageError listing the ones that exist."""
    if project not in config.projects:
        known = ", ".join(config.projects) or "none"
        raise UsageError(f"no project '{project}' in {_config_name(config)} (projects: {known})")
    return config.projects[project]


def select(config: Config, project: str, env: str) -> tuple[Project, Environment]:
    """The named project and environment, or a UsageError naming what does not exist."""
    chosen = select_project(config, project)
    if env not in chosen.environments:
        known = ", ".join(chosen.environments) or "none"
        raise UsageError(f"no environment '{env}' in project '{project}' of "
                         f"{_config_name(config)} (environments: {known})")
    return chosen, chosen.environments[env]
