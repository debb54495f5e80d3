"""The command line of `deploytui freeze|unfreeze` (kept apart from cli.py's list, so the
parser module stays small; imported only by the parser, which is itself cheap)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def add_freeze_commands(command: Callable[[str, str], Any], target: Callable[..., None]
                        ) -> None:
    sub = command("freeze", "freeze an environment: deploys are refused until TIME "
                  "(stored on the hosts, so every operator and CI sees it)")
    target(sub)
    sub.add_argument("--until", required=True, metavar="TIME", help="when it ends: ISO "
                     "time (2026-12-24T08:00, local time unless it has an offset or Z) or "
                     "a duration from now (90m, 4h, 2d)")
    sub.add_argument("--reason", required=True, metavar="TEXT", help="why: shown to "
                     "whoever tries to deploy")
    target(command("unfreeze", "remove an environment's ad-hoc freeze"))
