"""Confirming an operation on a `confirm: true` environment, the same way for every command."""

from __future__ import annotations

import sys

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
    if not sys.stdin.isatty():
        print(f"deploytui: environment '{env.name}' asks for confirmation: pass --yes to "
              f"{action}", file=sys.stderr)
        return EXIT_USAGE
    try:
        typed = input(f"type '{env.name}' to {action}: ")
    except EOFError:
        typed = ""
    if typed.strip() != env.name:
        print("deploytui: not confirmed; nothing done", file=sys.stderr)
        return EXIT_CANCELLED
    return None
