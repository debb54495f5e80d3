"""The console's one confirmation rule, and the words of an operation's outcome.

The rule, for every operation that changes servers (deploy, rollback, prune, delete),
the same as the CLI's (commands/confirm.py):
- on a `confirm: true` environment the user types its name (the CLI: the typed name on a
  terminal, `--yes` without one); Enter in the box then confirms, a wrong name says why;
- elsewhere one button confirms. Enter hits it only for the deploy the user just asked
  for with its plan on screen; for rollback, prune and delete, which the user reaches by
  browsing, the focused button is Back, so a reflexive Enter never changes a server.
Stopping a running operation or quitting during one: "Keep deploying" is focused.
Escape always backs out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploytui.config.model import Environment
from deploytui.engine import CatchUpRequest, DeleteRequest, PruneRequest, RollbackRequest
from deploytui.engine.events import DeployFinished
from deploytui.tui.log_buffer import HostState
from deploytui.tui.screens.modals import ConfirmModal

if TYPE_CHECKING:
    from deploytui.engine import Request


def confirm_operation(op: RollbackRequest | PruneRequest | DeleteRequest | CatchUpRequest,
                      env: Environment,
                      body: str) -> ConfirmModal:
    """The dialog that asks before `op` runs, by the rule above."""
    where = f"{op.project}/{op.environment}"
    if isinstance(op, RollbackRequest):
        title, yes = f"Roll back {where}", "Roll back"
    elif isinstance(op, PruneRequest):
        title, yes = f"Prune {where}", "Prune"
    elif isinstance(op, CatchUpRequest):
        title, yes = f"Catch up {where}", "Catch up"
    else:
        title, yes = f"Delete release {op.release}", "Delete release"
    return ConfirmModal(title, body, yes, "Back",
                        type_name=env.name if env.confirm else None, focus_yes=False)


def confirm_stop(verb: str, *, quitting: bool) -> ConfirmModal:
    """Stop the running operation (and quit)? The default keeps it running."""
    body = (f"A {verb} is running. Stopping it: before the switch, no host changes what "
            "it serves; after the switch, the switch completes on every host.")
    yes = "Stop it and quit" if quitting else f"Stop the {verb}"
    return ConfirmModal("Quit" if quitting else f"Stop the {verb}?", body, yes,
                        f"Keep {_ing(verb)}")


def confirm_lock_wait(op: Request, why: str, minutes: int) -> ConfirmModal:
    """Wait for another operation's lock, then run `op` again? Back is focused."""
    project, environment = op.target
    return ConfirmModal(
        "Locked by another operation",
        f"The {op.verb} did not start: another operation holds the lock of "
        f"{project}/{environment}.\n{why}\n\nWait up to {minutes} minutes for it to be "
        f"released, then run the same {op.verb}?\n"
        "A lock left by a dead process is not waited for: unlock it instead.",
        "Wait, then run it", "Back", danger=False)


def _ing(verb: str) -> str:
    return {"deploy": "deploying", "rollback": "rolling back", "prune": "pruning"}.get(
        verb, "running")


def title_of(op: Request | None, finished: DeployFinished) -> str:
    if isinstance(op, DeleteRequest):
        return "Delete"
    if isinstance(op, CatchUpRequest):
        return "Catch-up"
    return (op.verb if op is not None else finished.operation).capitalize()


def summary(finished: DeployFinished, what: str, where: str, hosts: list[str],
            states: dict[str, HostState]) -> tuple[str, list[str], bool]:
    """(title, lines, ok) of an ended operation: the error, failed hosts first."""
    ok = finished.outcome == "success"
    title = f"{what} {'succeeded' if ok else finished.outcome.replace('_', ' ')}"
    lines = [where + (f" · release {finished.release_id}" if finished.release_id else "")
             + f" · {finished.duration:.1f}s"]
    if finished.error:
        lines.append(f"error: {finished.error}")
    for host, why in finished.failed_hosts.items():
        lines.append(f"✗ {host}: {why.removeprefix(f'{host}: ')}")
    for host in hosts:
        if host in finished.failed_hosts:
            continue
        state = states.get(host)
        lines.append(f"{'✓' if ok else '·'} {host}: {state.status}" if state
                     else f"· {host}")
    return title, lines, ok
