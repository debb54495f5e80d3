"""The engine's one entry for every operation that reaches hosts: a request in, a
result out (result.OperationResult), events to the sink, a cancel event honoured.

The CLI, the console's Runner and a library user all come in here, so each operation
is set up one way (the secrets resolver, the transports) and ends one way: a refusal is
a result that says `refused` (nothing sent), never an exception.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, overload

from deploytui.config.model import Config
from deploytui.engine.events import Sink, discard
from deploytui.engine.failure import Refused
from deploytui.engine.operations.requests import (
    CatchUpRequest,
    DeleteRequest,
    PruneRequest,
    RollbackRequest,
)
from deploytui.engine.operations.result import OperationResult

if TYPE_CHECKING:
    from deploytui.engine.hosts.pool import TransportFactory
    from deploytui.engine.operations.deploy.catch_up import CatchUpResult
    from deploytui.engine.operations.prune import PruneResult
    from deploytui.engine.operations.request import DeployRequest, DeployResult
    from deploytui.engine.operations.requests import Request
    from deploytui.engine.operations.rollback import RollbackResult
    from deploytui.engine.operations.run import RunRequest, RunResult


@overload
def run_operation(config: Config, request: DeployRequest, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> DeployResult: ...
@overload
def run_operation(config: Config, request: RollbackRequest, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> RollbackResult: ...
@overload
def run_operation(config: Config, request: PruneRequest | DeleteRequest, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> PruneResult: ...
@overload
def run_operation(config: Config, request: CatchUpRequest, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> CatchUpResult | OperationResult:
    ...
@overload
def run_operation(config: Config, request: RunRequest, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> RunResult: ...
@overload
def run_operation(config: Config, request: Request, *, sink: Sink = ...,
                  cancel: threading.Event | None = ..., resolver: Any = ...,
                  factory: TransportFactory | None = ...) -> OperationResult: ...


def run_operation(config: Config, request: Request, *, sink: Sink = discard,
                  cancel: threading.Event | None = None, resolver: Any = None,
                  factory: TransportFactory | None = None) -> OperationResult:
    """Run `request` to its end on the calling thread; never raises for what went wrong
    on a host or for a refusal (see the result's `outcome`, `refused`, `error`)."""
    cancel = cancel or threading.Event()
    if resolver is None:
        from deploytui.config.secrets import resolver_for

        resolver = resolver_for(config)
    if factory is None:
        from deploytui.engine.hosts.pool import transport_factory

        factory = transport_factory(config, resolver=resolver)
    try:
        return _dispatch(config, request, sink, cancel, resolver, factory)
    except Refused as refused:
        return OperationResult(outcome="failed", error=str(refused), refused=True,
                               usage_error=refused.usage)


def _dispatch(config: Config, request: Request, sink: Sink, cancel: threading.Event,
              resolver: Any, factory: TransportFactory) -> OperationResult:
    common: dict[str, Any] = {"sink": sink, "cancel": cancel, "factory": factory}
    if isinstance(request, RollbackRequest):
        from deploytui.engine.operations.rollback import run_rollback

        return run_rollback(config, request.project, request.environment, to=request.to,
                            resolver=resolver, wait_lock=request.wait_lock, **common)
    if isinstance(request, PruneRequest):
        from deploytui.engine.operations.prune import run_prune

        return run_prune(config, request.project, request.environment, keep=request.keep,
                         dry_run=request.dry_run, wait_lock=request.wait_lock,
                         resolver=resolver, **common)
    if isinstance(request, DeleteRequest):
        from deploytui.engine.operations.prune import delete_release
        from deploytui.engine.remote.safety import is_release_id

        if not is_release_id(request.release):  # checked before anything connects
            refused = Refused(f"'{request.release}' is not a release id (14 digits)")
            refused.usage = True
            raise refused

        return delete_release(config, request.project, request.environment,
                              request.release, wait_lock=request.wait_lock,
                              resolver=resolver, **common)
    if isinstance(request, CatchUpRequest):
        from deploytui.engine.operations.deploy.catch_up import run_catch_up

        return run_catch_up(config, request.project, request.environment,
                            list(request.hosts) or None, resolver=resolver,
                            force_freeze=request.force_freeze, wait_lock=request.wait_lock,
                            **common)
    from deploytui.engine.operations.request import DeployRequest
    from deploytui.engine.operations.run import RunRequest

    if isinstance(request, DeployRequest):
        from deploytui.engine.operations.deploy import run_deploy

        return run_deploy(config, request, resolver=resolver, **common)
    if isinstance(request, RunRequest):
        from deploytui.engine.operations.run import run_command

        return run_command(config, request, resolver=resolver, **common)
    raise TypeError(f"not an operation request: {request!r}")
