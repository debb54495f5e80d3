"""`deploytui history [PROJECT [ENV]] [--json]`: the local journal, newest first
(`--fleet`: the hosts' record of every operator's operations, commands/fleet_history.py).

The JSON form is a stable contract (docs/json-output-history.md).
"""

from __future__ import annotations

import argparse
import json
import time

from deploytui.commands import EXIT_OK
from deploytui.config.model import Config
from deploytui.history import JournalEntry, list_entries

LIMIT = 100


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def row(e: JournalEntry) -> list[str]:
    ref = e.ref or "-"
    if e.sha:
        ref = f"{ref}@{e.sha[:8]}"
    return [time.strftime("%Y-%m-%d %H:%M", time.localtime(e.started)), e.operation,
            f"{e.project}/{e.environment}", ref, e.release_id or "-", e.user, e.outcome,
            _duration(e.duration)]


HEADER = ["WHEN", "OPERATION", "TARGET", "REF", "RELEASE", "WHO", "OUTCOME", "DURATION"]


def table(entries: list[JournalEntry]) -> str:
    rows = [HEADER, *(row(e) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def run(args: argparse.Namespace, config: Config) -> int:
    if getattr(args, "fleet", False):
        from deploytui.commands import fleet_history

        return fleet_history.run(args, config)
    entries = list_entries(getattr(args, "project", None), getattr(args, "env", None), LIMIT)
    if getattr(args, "json", False):
        print(json.dumps([e.to_json() for e in entries], indent=2))
    elif entries:
        print(table(entries))
    else:
        print("no deploys recorded yet")
    return EXIT_OK
