"""What each operation that changes servers is asked to do: one request type per
operation, the values `run_operation` (entry.py) takes and the console's Runner runs.

A deploy's request (request.py) and a run's (run.py) live with their operations; these
are the others'. They hold names, not config objects, and import nothing of SSH: the
console builds them on its UI thread at start-up speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from deploytui.engine.operations.request import DeployRequest
    from deploytui.engine.operations.run import RunRequest


@dataclass(frozen=True)
class _Named:
    project: str
    environment: str

    @property
    def target(self) -> tuple[str, str]:
        """(project, environment): the lock it takes, the journal's row."""
        return self.project, self.environment


@dataclass(frozen=True)
class RollbackRequest(_Named):
    """Every host back to one release: `to`, or the previous one."""

    to: str | None = None
    wait_lock: float = 0.0  # seconds to wait for another operation's live lock
    verb: ClassVar[str] = "rollback"


@dataclass(frozen=True)
class PruneRequest(_Named):
    """Keep `keep` good releases per host (None: the project's keep_releases);
    `dry_run` only says what would go (no lock, nothing journaled)."""

    keep: int | None = None
    dry_run: bool = False
    wait_lock: float = 0.0
    verb: ClassVar[str] = "prune"


@dataclass(frozen=True)
class DeleteRequest(_Named):
    """One named release, on every host that has it; never one a host serves."""

    release: str
    wait_lock: float = 0.0
    verb: ClassVar[str] = "prune"  # the journal's operation: a prune of one named release


@dataclass(frozen=True)
class CatchUpRequest(_Named):
    """The hosts left out of a deploy (behind), or those named, to the fleet's release."""

    hosts: tuple[str, ...] = ()  # () = every host behind
    wait_lock: float = 0.0
    force_freeze: bool = False
    verb: ClassVar[str] = "catch-up"


if TYPE_CHECKING:  # for annotations only: the classes of a union load with their modules
    from typing import TypeAlias

    Request: TypeAlias = (DeployRequest | RollbackRequest | PruneRequest | DeleteRequest
                          | CatchUpRequest | RunRequest)
