"""What the console's workers and its operation thread report, as typed messages.

Workers never touch widgets: they post one of these (thread-safe), and a handler on the
screen that started them (or the App, for OperationEnded) changes the state on the UI
thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from deploytui.engine import (
        DeployPlan,
        DeployRequest,
        EnvStatus,
        FleetReleases,
        PruneResult,
        Request,
    )
    from deploytui.history.fleet import HistoryRow
    from deploytui.history.journal import JournalEntry


class PlanReady(Message):
    """The plan of a deploy was built; the plan screen shows it."""

    def __init__(self, request: DeployRequest, plan: DeployPlan) -> None:
        super().__init__()
        self.request = request
        self.plan = plan


class PlanFailed(Message):
    """The plan could not be built (repository unreachable, unknown ref...)."""

    def __init__(self, project: str, environment: str, error: str) -> None:
        super().__init__()
        self.project = project
        self.environment = environment
        self.error = error


class StatusLoaded(Message):
    """Reachability, current release and locks of an environment's hosts were read."""

    def __init__(self, project: str, environment: str, status: EnvStatus,
                 read_at: float) -> None:
        super().__init__()
        self.project = project
        self.environment = environment
        self.status = status
        self.read_at = read_at  # wall clock (time.time())


class StatusFailed(Message):
    def __init__(self, project: str, environment: str, error: str) -> None:
        super().__init__()
        self.project = project
        self.environment = environment
        self.error = error


class OperationEnded(Message):
    """Posted (never awaited) when the operation's thread ends: the app may be gone."""

    def __init__(self, operation: Request, result: object, error: str | None) -> None:
        super().__init__()
        self.operation = operation
        self.result = result  # the engine's OperationResult (a benchmark's call: anything)
        self.error = error  # the Runner's own trouble (journal, an exception), or None



class WorkerNote(Message):
    """A worker's one line for its screen's status line (loading…, or why it failed)."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ReleasesListed(Message):
    """The release browser's listing of every host was read."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, fleet: FleetReleases) -> None:
        super().__init__()
        self.fleet = fleet


class PrunePreviewed(Message):
    """What a prune would delete was read; the browser asks to confirm it."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, preview: PruneResult, keep: int | None) -> None:
        super().__init__()
        self.preview = preview
        self.keep = keep


class FleetHistoryRead(Message):
    """The hosts' records merged with this machine's journal, and the hosts not read."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, rows: list[HistoryRow], unreachable: dict[str, str]) -> None:
        super().__init__()
        self.rows = rows
        self.unreachable = unreachable


class JournalRead(Message):
    """This machine's journal entries were read."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, entries: list[JournalEntry]) -> None:
        super().__init__()
        self.entries = entries


class LogLinesRead(Message):
    """One past operation's per-host log lines were read."""

    bubble = False  # the screen whose worker posted it is the only reader

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines
