"""Confirming an operation on a `confirm: true` environment, the same way for every command."""

from __future__ import annotations

import sys
from collections.abc import Callable

from deploytui.commands import EXIT_CANCELLED, EXIT_USAGE
from deploytui.config.model import Environment


def asks_confirmation(env: Environment, yes: bool) -> bool:
    """Whether `confirmed` will put a question to a person."""
    return env.confirm and not yes and sys.stdin.isatty()


def confirmed(env: Environment, yes: bool, action: str) -> int | None:
    """None when the operation may go ahead, else the exit status to return.

    Without a terminal (CI) only --yes confirms; on a terminal the user types the
    environment's name, so a production deploy is never one stray Enter away.
    """
    if not env.confirm or yes:
        return None
    return ask(f"environment '{env.name}'", action, f"type '{env.name}' to {action}: ",
               lambda typed: typed == env.name, "nothing done")


def ask(who: str, action: str, question: str, accepts: Callable[[str], bool],
        nothing: str) -> int | None:
    """`who` asks for confirmation: without a terminal only --yes would do (exit 2);
    on one, `question` is put and an answer `accepts` refuses is a cancel (exit 130)."""
    if not sys.stdin.isatty():
        print(f"deploytui: {who} asks for confirmation: pass --yes to {action}",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        answer = input(question)
    except EOFError:
        answer = ""
    if not accepts(answer.strip()):
        print(f"deploytui: not confirmed; {nothing}", file=sys.stderr)
        return EXIT_CANCELLED
    return None
