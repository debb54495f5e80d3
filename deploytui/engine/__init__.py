"""The headless engine: operations over a fleet of hosts, reported as typed events.

Its rooms, top to bottom (arrows point down; import-linter enforces it):

    operations/  deploy, rollback, prune, catch-up, health, the listing, the plan,
                 run (a command on hosts), the ssh session, logs, freezes, the
                 fleet's record; the artifact fan-out among hosts
    remote/      the on-host format and the commands that read and change it
    hosts/       reaching a host: transports (SSH, local), host keys, the host pool
    events, errors, failure, clock, event_text, redact, shell
                 the vocabulary every room shares

The names below are the engine's public surface for the layers above (commands, the
console). They are loaded on first use, so importing `deploytui.engine.events` alone
does not pull in SSH.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "run_deploy": "deploytui.engine.operations.deploy",
    "DeployRequest": "deploytui.engine.operations.request",
    "DeployResult": "deploytui.engine.operations.request",
    "run_rollback": "deploytui.engine.operations.rollback",
    "run_prune": "deploytui.engine.operations.prune",
    "run_catch_up": "deploytui.engine.operations.catch_up",
    "delete_release": "deploytui.engine.operations.prune",
    "list_releases": "deploytui.engine.operations.releases",
    "build_plan": "deploytui.engine.operations.plan",
    "run_command": "deploytui.engine.operations.run",  # `run`: no lock, per-host exit codes
    "RunRequest": "deploytui.engine.operations.run",
    "RunResult": "deploytui.engine.operations.run",
    "prepare_session": "deploytui.engine.operations.session",  # `ssh`: argv for OpenSSH
    "check_environment": "deploytui.engine.operations.readiness",  # check --connect
    "Readiness": "deploytui.engine.operations.readiness",
    "read_fleet_history": "deploytui.engine.operations.fleet_history",  # history --fleet
    "set_freeze": "deploytui.engine.operations.freeze",
    "clear_freeze": "deploytui.engine.operations.freeze",
    "show_logs": "deploytui.engine.operations.logs",
    "LogsRequest": "deploytui.engine.operations.logs",
    "HostPool": "deploytui.engine.hosts.pool",
    "transport_factory": "deploytui.engine.hosts.pool",
    "TransportError": "deploytui.engine.hosts.transport",
    "read_lock": "deploytui.engine.remote.lock",
    "LockInfo": "deploytui.engine.remote.lock",
    "lock_problem": "deploytui.engine.remote.lock",  # the one line (with remedy) for Locked
    "Failure": "deploytui.engine.failure",
    "event_text": "deploytui.engine.event_text",
    "event_words": "deploytui.engine.event_text",
}

__all__ = sorted(_PUBLIC)

# A name that is also a submodule's: importing the submodule binds the module to it on
# this package, and __getattr__ would never be asked. Bound here, after that import, the
# function wins for good (the submodule only imports events: nothing of SSH).
from deploytui.engine.event_text import event_text as event_text  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'deploytui.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
