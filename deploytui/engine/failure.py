"""The engine's one error vocabulary: which host, which step, why, and what kind.

Every way an operation or one host of it can go wrong is a `Failure`; code decides on
its `kind`, never on the words of its `reason`. An exception that knows its failure
carries it as `.failure` (StepFailed, Stop); the host pool derives one for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["failed", "cancelled", "locked", "lost", "unreachable", "denied", "refused"]
# failed       a command or check said no
# cancelled    the user asked to stop
# locked       another operation holds the lock
# lost         the host stopped answering mid-operation: later cleanup there is best effort
# unreachable  the connection could not be opened (preflight): the host is down, unknown
#              to DNS, not listening; leaving it out (--exclude) lets the others go on
# denied       the host answered but would not let us in (authentication, host key):
#              the operator's set-up is at fault, not the host; leaving it out cannot help
# refused      nothing was attempted: the request itself cannot be done


@dataclass(frozen=True)
class Failure:
    host: str  # "" when no single host is to blame (a local build, a refused request)
    step: str  # the step that failed: "connect", "lock", "switch current", ...
    reason: str  # one line, for a person
    kind: Kind = "failed"

    def __str__(self) -> str:
        return ": ".join(part for part in (self.host, self.step, self.reason) if part)


class Stop(Exception):
    """The one early exit of an operation: raise it from any phase to end the run.

    The skeleton (operations/lifecycle.py) catches it, runs the cleanup, releases the
    locks and reports `failure` in the finished event.
    """

    def __init__(self, reason: str, *, host: str = "", step: str = "",
                 kind: Kind = "failed", text: str = "") -> None:
        self.failure = Failure(host, step, reason, kind)
        super().__init__(text or str(self.failure))  # `text`: the one line, when it reads
        # better than "host: step: reason"

    @classmethod
    def of(cls, failure: Failure, text: str = "") -> Stop:
        return cls(failure.reason, host=failure.host, step=failure.step, kind=failure.kind,
                   text=text)


class Refused(Exception):
    """A request refused before anything changed; str() is one line naming why.

    The one base of every refusal (a bad exclusion, a rollback with no target, a fleet
    that disagrees, a run with no host), so a caller catches them all the same way and
    a result says `refused`. `usage`: the request itself is wrong, whatever the hosts
    hold (the CLI's exit 2); otherwise the fleet cannot do it as asked (exit 1).
    """

    usage = False
