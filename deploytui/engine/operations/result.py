"""What every operation reports, whatever it is: one shape, filled by the life cycle.

Deploy, catch-up, rollback, prune, delete and run each add their own facts (the release,
the target, the deletions, the exit codes) to this one base; the outcome, the one-line
error, the failed hosts, the warnings and the duration are the life cycle's to fill
(lifecycle.Lifecycle.execute), so no operation words them its own way and every caller
(the CLI's one exit rule, the console, a library user) reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["success", "failed", "cancelled", "locked", "unchanged", "rolled_back"]
# success      done on every host
# unchanged    a deploy of what every host already serves: nothing sent (not a failure)
# failed       a host failed, a check refused, or it could not run (see `refused`)
# rolled_back  a deploy that switched, was found unhealthy, and sent every host back
# locked       another operation holds the environment's lock: nothing was changed
# cancelled    stopped on request (Ctrl-C, the console's Stop)


@dataclass(kw_only=True)
class OperationResult:
    """The common part of every operation's result (see the module docstring)."""

    outcome: Outcome = "success"
    error: str = ""  # one line when it did not succeed; never holds a secret
    duration: float = 0.0
    failed_hosts: dict[str, str] = field(default_factory=dict)  # host -> "step: reason"
    warnings: list[str] = field(default_factory=list)  # done, but worth reading
    op_id: str = ""  # the fleet record's and the journal's id of this operation
    forced: list[str] = field(default_factory=list)  # overrides used: break-lock, force-freeze
    freeze: str = ""  # the freeze in force while it ran, described
    refused: bool = False  # nothing was sent: the request cannot be done as asked
    usage_error: bool = False  # refused because the request itself is wrong (a bad id)

    @property
    def ok(self) -> bool:
        return self.outcome in ("success", "unchanged")

    @property
    def locked(self) -> bool:
        return self.outcome == "locked"

    @property
    def cancelled(self) -> bool:
        return self.outcome == "cancelled"
