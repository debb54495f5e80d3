"""The headless engine: operations over a fleet of hosts, reported as typed events.

Its rooms, top to bottom (arrows point down; import-linter enforces it):

    operations/  deploy, rollback, prune, catch-up, health, the listing, the plan,
                 run (a command on hosts), the ssh session, logs, freezes, the
                 fleet's record, the status read, locks by hand; the artifact fan-out
    remote/      the on-host format and the commands that read and change it
    hosts/       reaching a host: transports (SSH, local), host keys, the host pool
    events, errors, failure, clock, event_text, redact, shell
                 the vocabulary every room shares

This module is the engine's front door: the console, the CLI, the journal and a library
user import from here (and from the shared vocabulary), never from a room; an
import-linter contract (pyproject.toml) holds them to it. Every operation that reaches
hosts goes in through `run_operation(config, request, sink=, cancel=)` and comes out as
an `OperationResult` (the README's "deploytui as a library").

The names load on first use, so importing `deploytui.engine` (or its events) alone
does not pull in SSH.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "run_operation": "deploytui.engine.operations.entry",
    "OperationResult": "deploytui.engine.operations.result",
    "Outcome": "deploytui.engine.operations.result",
    "CatchUpRequest": "deploytui.engine.operations.requests",
    "DeleteRequest": "deploytui.engine.operations.requests",
    "PruneRequest": "deploytui.engine.operations.requests",
    "RollbackRequest": "deploytui.engine.operations.requests",
    "Request": "deploytui.engine.operations.requests",
    "DeployRequest": "deploytui.engine.operations.request",
    "DeployResult": "deploytui.engine.operations.request",
    "HostReport": "deploytui.engine.operations.request",
    "resolve_env": "deploytui.engine.operations.request",
    "run_deploy": "deploytui.engine.operations.deploy",
    "RollbackResult": "deploytui.engine.operations.rollback",
    "run_rollback": "deploytui.engine.operations.rollback",
    "RollbackRefused": "deploytui.engine.operations.rollback_target",
    "check_release_id": "deploytui.engine.operations.rollback_target",
    "choose_target": "deploytui.engine.operations.rollback_target",
    "PruneResult": "deploytui.engine.operations.prune",
    "HostPrune": "deploytui.engine.operations.prune",
    "delete_release": "deploytui.engine.operations.prune",
    "human_bytes": "deploytui.engine.operations.prune",
    "run_prune": "deploytui.engine.operations.prune",
    "CatchUpPlan": "deploytui.engine.operations.deploy.catch_up",
    "CatchUpRefused": "deploytui.engine.operations.deploy.catch_up",
    "CatchUpResult": "deploytui.engine.operations.deploy.catch_up",
    "plan_catch_up": "deploytui.engine.operations.deploy.catch_up",
    "run_catch_up": "deploytui.engine.operations.deploy.catch_up",
    "FleetReleases": "deploytui.engine.operations.releases",
    "ReleaseRow": "deploytui.engine.operations.releases",
    "list_releases": "deploytui.engine.operations.releases",
    "DeployPlan": "deploytui.engine.operations.plan",
    "build_plan": "deploytui.engine.operations.plan",
    "EnvStatus": "deploytui.engine.operations.status",
    "load_status": "deploytui.engine.operations.status",
    "HandLock": "deploytui.engine.operations.hand_lock",
    "lock_by_hand": "deploytui.engine.operations.hand_lock",
    "unlock_by_hand": "deploytui.engine.operations.hand_lock",
    "RunRefused": "deploytui.engine.operations.run",
    "RunRequest": "deploytui.engine.operations.run",
    "RunResult": "deploytui.engine.operations.run",
    "choose_hosts": "deploytui.engine.operations.run",
    "named_command": "deploytui.engine.operations.run",
    "named_hosts": "deploytui.engine.operations.run",
    "run_command": "deploytui.engine.operations.run",
    "Session": "deploytui.engine.operations.session",
    "SessionRefused": "deploytui.engine.operations.session",
    "prepare_session": "deploytui.engine.operations.session",
    "Readiness": "deploytui.engine.operations.readiness",
    "check_environment": "deploytui.engine.operations.readiness",
    "FleetEntry": "deploytui.engine.operations.fleet_history",
    "read_fleet_history": "deploytui.engine.operations.fleet_history",
    "Frozen": "deploytui.engine.operations.freeze",
    "clear_freeze": "deploytui.engine.operations.freeze",
    "configured_freeze": "deploytui.engine.operations.freeze",
    "refusal": "deploytui.engine.operations.freeze",
    "set_freeze": "deploytui.engine.operations.freeze",
    "when": "deploytui.engine.operations.freeze",
    "HealthResult": "deploytui.engine.operations.health",
    "check_now": "deploytui.engine.operations.health",
    "LogsRefused": "deploytui.engine.operations.logs",
    "LogsRequest": "deploytui.engine.operations.logs",
    "LogsResult": "deploytui.engine.operations.logs",
    "check_grep": "deploytui.engine.operations.logs",
    "show_logs": "deploytui.engine.operations.logs",
    "sources": "deploytui.engine.operations.logs",
    "migration_warnings": "deploytui.engine.operations.migrations",
    "rollback_env_lines": "deploytui.engine.operations.release_env",
    "rollback_steps": "deploytui.engine.operations.behind",
    "ExcludeRefused": "deploytui.engine.operations.exclusion",
    "parse_hosts": "deploytui.engine.operations.exclusion",
    "remaining_hosts": "deploytui.engine.operations.exclusion",
    "SourceError": "deploytui.engine.operations.source",
    "HostPool": "deploytui.engine.hosts.pool",
    "transport_factory": "deploytui.engine.hosts.pool",
    "AuthFailed": "deploytui.engine.hosts.transport",
    "HostKeyChanged": "deploytui.engine.hosts.transport",
    "HostKeyRevoked": "deploytui.engine.hosts.transport",
    "HostKeyUnknown": "deploytui.engine.hosts.transport",
    "TransportError": "deploytui.engine.hosts.transport",
    "Unreachable": "deploytui.engine.hosts.transport",
    "add_host_key": "deploytui.engine.hosts.hostkeys",
    "LockInfo": "deploytui.engine.remote.lock",
    "local_user": "deploytui.engine.remote.lock",
    "lock_problem": "deploytui.engine.remote.lock",
    "read_lock": "deploytui.engine.remote.lock",
    "Failure": "deploytui.engine.failure",
    "Refused": "deploytui.engine.failure",
}

__all__ = sorted([*_PUBLIC, "event_text", "event_words"])

if TYPE_CHECKING:  # what a type checker reads; at run time __getattr__ loads on demand
    from deploytui.engine.failure import (
        Failure as Failure,
    )
    from deploytui.engine.failure import (
        Refused as Refused,
    )
    from deploytui.engine.hosts.hostkeys import (
        add_host_key as add_host_key,
    )
    from deploytui.engine.hosts.pool import (
        HostPool as HostPool,
    )
    from deploytui.engine.hosts.pool import (
        transport_factory as transport_factory,
    )
    from deploytui.engine.hosts.transport import (
        AuthFailed as AuthFailed,
    )
    from deploytui.engine.hosts.transport import (
        HostKeyChanged as HostKeyChanged,
    )
    from deploytui.engine.hosts.transport import (
        HostKeyRevoked as HostKeyRevoked,
    )
    from deploytui.engine.hosts.transport import (
        HostKeyUnknown as HostKeyUnknown,
    )
    from deploytui.engine.hosts.transport import (
        TransportError as TransportError,
    )
    from deploytui.engine.hosts.transport import (
        Unreachable as Unreachable,
    )
    from deploytui.engine.operations.behind import (
        rollback_steps as rollback_steps,
    )
    from deploytui.engine.operations.deploy import (
        run_deploy as run_deploy,
    )
    from deploytui.engine.operations.deploy.catch_up import (
        CatchUpPlan as CatchUpPlan,
    )
    from deploytui.engine.operations.deploy.catch_up import (
        CatchUpRefused as CatchUpRefused,
    )
    from deploytui.engine.operations.deploy.catch_up import (
        CatchUpResult as CatchUpResult,
    )
    from deploytui.engine.operations.deploy.catch_up import (
        plan_catch_up as plan_catch_up,
    )
    from deploytui.engine.operations.deploy.catch_up import (
        run_catch_up as run_catch_up,
    )
    from deploytui.engine.operations.entry import (
        run_operation as run_operation,
    )
    from deploytui.engine.operations.exclusion import (
        ExcludeRefused as ExcludeRefused,
    )
    from deploytui.engine.operations.exclusion import (
        parse_hosts as parse_hosts,
    )
    from deploytui.engine.operations.exclusion import (
        remaining_hosts as remaining_hosts,
    )
    from deploytui.engine.operations.fleet_history import (
        FleetEntry as FleetEntry,
    )
    from deploytui.engine.operations.fleet_history import (
        read_fleet_history as read_fleet_history,
    )
    from deploytui.engine.operations.freeze import (
        Frozen as Frozen,
    )
    from deploytui.engine.operations.freeze import (
        clear_freeze as clear_freeze,
    )
    from deploytui.engine.operations.freeze import (
        configured_freeze as configured_freeze,
    )
    from deploytui.engine.operations.freeze import (
        refusal as refusal,
    )
    from deploytui.engine.operations.freeze import (
        set_freeze as set_freeze,
    )
    from deploytui.engine.operations.freeze import (
        when as when,
    )
    from deploytui.engine.operations.hand_lock import (
        HandLock as HandLock,
    )
    from deploytui.engine.operations.hand_lock import (
        lock_by_hand as lock_by_hand,
    )
    from deploytui.engine.operations.hand_lock import (
        unlock_by_hand as unlock_by_hand,
    )
    from deploytui.engine.operations.health import (
        HealthResult as HealthResult,
    )
    from deploytui.engine.operations.health import (
        check_now as check_now,
    )
    from deploytui.engine.operations.logs import (
        LogsRefused as LogsRefused,
    )
    from deploytui.engine.operations.logs import (
        LogsRequest as LogsRequest,
    )
    from deploytui.engine.operations.logs import (
        LogsResult as LogsResult,
    )
    from deploytui.engine.operations.logs import (
        check_grep as check_grep,
    )
    from deploytui.engine.operations.logs import (
        show_logs as show_logs,
    )
    from deploytui.engine.operations.logs import (
        sources as sources,
    )
    from deploytui.engine.operations.migrations import (
        migration_warnings as migration_warnings,
    )
    from deploytui.engine.operations.plan import (
        DeployPlan as DeployPlan,
    )
    from deploytui.engine.operations.plan import (
        build_plan as build_plan,
    )
    from deploytui.engine.operations.prune import (
        HostPrune as HostPrune,
    )
    from deploytui.engine.operations.prune import (
        PruneResult as PruneResult,
    )
    from deploytui.engine.operations.prune import (
        delete_release as delete_release,
    )
    from deploytui.engine.operations.prune import (
        human_bytes as human_bytes,
    )
    from deploytui.engine.operations.prune import (
        run_prune as run_prune,
    )
    from deploytui.engine.operations.readiness import (
        Readiness as Readiness,
    )
    from deploytui.engine.operations.readiness import (
        check_environment as check_environment,
    )
    from deploytui.engine.operations.release_env import (
        rollback_env_lines as rollback_env_lines,
    )
    from deploytui.engine.operations.releases import (
        FleetReleases as FleetReleases,
    )
    from deploytui.engine.operations.releases import (
        ReleaseRow as ReleaseRow,
    )
    from deploytui.engine.operations.releases import (
        list_releases as list_releases,
    )
    from deploytui.engine.operations.request import (
        DeployRequest as DeployRequest,
    )
    from deploytui.engine.operations.request import (
        DeployResult as DeployResult,
    )
    from deploytui.engine.operations.request import (
        HostReport as HostReport,
    )
    from deploytui.engine.operations.request import (
        resolve_env as resolve_env,
    )
    from deploytui.engine.operations.requests import (
        CatchUpRequest as CatchUpRequest,
    )
    from deploytui.engine.operations.requests import (
        DeleteRequest as DeleteRequest,
    )
    from deploytui.engine.operations.requests import (
        PruneRequest as PruneRequest,
    )
    from deploytui.engine.operations.requests import (
        Request as Request,
    )
    from deploytui.engine.operations.requests import (
        RollbackRequest as RollbackRequest,
    )
    from deploytui.engine.operations.result import (
        OperationResult as OperationResult,
    )
    from deploytui.engine.operations.result import (
        Outcome as Outcome,
    )
    from deploytui.engine.operations.rollback import (
        RollbackResult as RollbackResult,
    )
    from deploytui.engine.operations.rollback import (
        run_rollback as run_rollback,
    )
    from deploytui.engine.operations.rollback_target import (
        RollbackRefused as RollbackRefused,
    )
    from deploytui.engine.operations.rollback_target import (
        check_release_id as check_release_id,
    )
    from deploytui.engine.operations.rollback_target import (
        choose_target as choose_target,
    )
    from deploytui.engine.operations.run import (
        RunRefused as RunRefused,
    )
    from deploytui.engine.operations.run import (
        RunRequest as RunRequest,
    )
    from deploytui.engine.operations.run import (
        RunResult as RunResult,
    )
    from deploytui.engine.operations.run import (
        choose_hosts as choose_hosts,
    )
    from deploytui.engine.operations.run import (
        named_command as named_command,
    )
    from deploytui.engine.operations.run import (
        named_hosts as named_hosts,
    )
    from deploytui.engine.operations.run import (
        run_command as run_command,
    )
    from deploytui.engine.operations.session import (
        Session as Session,
    )
    from deploytui.engine.operations.session import (
        SessionRefused as SessionRefused,
    )
    from deploytui.engine.operations.session import (
        prepare_session as prepare_session,
    )
    from deploytui.engine.operations.source import (
        SourceError as SourceError,
    )
    from deploytui.engine.operations.status import (
        EnvStatus as EnvStatus,
    )
    from deploytui.engine.operations.status import (
        load_status as load_status,
    )
    from deploytui.engine.remote.lock import (
        LockInfo as LockInfo,
    )
    from deploytui.engine.remote.lock import (
        local_user as local_user,
    )
    from deploytui.engine.remote.lock import (
        lock_problem as lock_problem,
    )
    from deploytui.engine.remote.lock import (
        read_lock as read_lock,
    )

# A name that is also a submodule's: importing the submodule binds the module to it on
# this package, and __getattr__ would never be asked. Bound here, after that import, the
# function wins for good (the submodule only imports events: nothing of SSH).
from deploytui.engine.event_text import event_text as event_text  # noqa: E402
from deploytui.engine.event_text import event_words as event_words  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None or name == "Request":  # Request: a union for annotations only
        raise AttributeError(f"module 'deploytui.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain one
    return value
