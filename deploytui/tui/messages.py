"""What the console's workers and its operation thread report, as typed messages.

Workers never touch widgets: they post one of these (thread-safe), and a handler on the
main screen (or the App, for OperationEnded) changes the state on the UI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from deploytui.engine.operations.plan import DeployPlan
    from deploytui.engine.operations.request import DeployRequest
    from deploytui.tui.operations import EnvStatus, Operation


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

    def __init__(self, operation: Operation, error: str | None) -> None:
        super().__init__()
        self.operation = operation
        self.error = error

