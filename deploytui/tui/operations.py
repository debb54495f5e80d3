"""The console's calls into the engine, each run off the UI thread by the caller; the
operations that change servers are the engine's requests (engine/operations/requests.py),
run by the Runner through the engine's one entry.

Only composition of public engine APIs lives here (a pool, its lock, a scan); the
logic itself stays in the engine. Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from deploytui.config.model import Config
from deploytui.engine import OperationResult

if TYPE_CHECKING:  # the engine's SSH side is imported by the operation that needs it
    from deploytui.engine import PruneResult, Request


def preview_prune(config: Config, project: str, environment: str,
                  keep: int | None = None) -> PruneResult:
    """What a prune would remove: a dry run, which reads hosts only (not journaled)."""
    from deploytui.engine import PruneRequest, run_operation

    return run_operation(config, PruneRequest(project, environment, keep=keep, dry_run=True))


# -- the operations that change servers: the engine's requests, run by the Runner -------
def waiting_for_the_lock(op: Request, seconds: float) -> Request:
    """The same operation, waiting up to `seconds` for a live lock to be released."""
    from deploytui.engine import RunRequest

    if isinstance(op, RunRequest):  # takes no lock: nothing to wait for
        return op
    return replace(op, wait_lock=seconds)


def stopped_by_lock(result: object) -> bool:
    """Did the operation stop because another one holds the environment's lock?"""
    return isinstance(result, OperationResult) and result.locked
