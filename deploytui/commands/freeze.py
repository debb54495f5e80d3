"""`deploytui freeze PROJECT ENV --until TIME --reason TEXT` and `deploytui unfreeze`.

The freeze is written on every host (engine/operations/freeze.py), next to the lock,
so every operator and every CI run is refused the same way until it ends or is lifted.
A host that cannot be reached is named and the exit status is 1: the others are
frozen (a deploy reads every host, so a freeze on some of them already refuses it).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from deploytui.commands import EXIT_FAILED, EXIT_OK, UsageError, select
from deploytui.config.model import Config
from deploytui.engine import Frozen, clear_freeze, set_freeze, when

_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """`90m`, `4h`, `2d` from now, or an ISO time (local time without an offset)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text)
    if match:
        return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--until: expected an ISO time (2026-12-24T08:00) or a duration"
                         f" (90m, 4h, 2d), got '{text}'") from None
    value = value if value.tzinfo else value.astimezone()  # naive: this machine's zone
    if value <= now:
        raise UsageError(f"--until: {text} is in the past")
    return value


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    if args.command == "freeze":
        until = parse_until(args.until)
        reason = " ".join(args.reason.split())
        if not reason:
            raise UsageError("--reason: say why (it is shown to whoever tries to deploy)")
        result = set_freeze(config, project, env, until=until, reason=reason)
        done = (f"froze {project.name}/{env.name} on {len(result.done)} host(s) until"
                f" {when(until.astimezone())}: {reason}")
    else:
        result = clear_freeze(config, project, env)
        for host, was in result.removed.items():
            print(f"[{host}] removed the freeze set by {was.user} until {was.until}:"
                  f" {was.reason}")
        done = (f"unfroze {project.name}/{env.name} on {len(result.done)} host(s)"
                if result.removed else f"{project.name}/{env.name} had no ad-hoc freeze")
    for host in result.record_failed:
        print(f"warning: {host}: fleet record: could not append", file=sys.stderr)
    for host, why in result.failed.items():
        print(f"deploytui: {host}: {why}", file=sys.stderr)
    if result.done:
        print(done)
    return EXIT_OK if result.ok else EXIT_FAILED


__all__ = ["Frozen", "parse_until", "run"]
