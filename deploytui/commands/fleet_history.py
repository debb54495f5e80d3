"""`deploytui history PROJECT ENV --fleet [--json]`: what every operator did, from the hosts.

The hosts' fleet record (engine/operations/fleet_history.py, one round) merged with
this machine's journal by operation id, newest first: an operation seen by both is one
row (with the journal's log directory); one only this machine knows (refused before it
reached a host) is shown too. The JSON form is docs/json-output-history.md's contract.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from deploytui.commands import EXIT_FAILED, EXIT_OK, UsageError, select
from deploytui.config.model import Config
from deploytui.engine import read_fleet_history
from deploytui.history import list_entries
from deploytui.history.fleet import HistoryRow, describe, merged

LIMIT = 100
HEADER = ["WHEN", "OPERATION", "REF", "RELEASE", "WHO", "OUTCOME", "DURATION", "HOSTS", "NOTE"]


def _when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment.timestamp()))


def _row(row: HistoryRow) -> list[str]:
    ref = row.ref or "-"
    if row.sha:
        ref = f"{ref}@{row.sha[:8]}"
    duration = row.duration
    took = "-" if duration is None else (f"{int(duration) // 60}m{int(duration) % 60:02d}s"
                                        if duration >= 60 else f"{round(duration)}s")
    return [_when(row.started), row.operation, ref, row.release or "-", row.who, row.outcome,
            took, str(len(row.hosts)) if row.hosts else "-", describe(row)]


def table(rows: list[HistoryRow]) -> str:
    cells = [HEADER, *(_row(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
                     for cell in cells)


def run(args: argparse.Namespace, config: Config | None) -> int:
    if config is None or args.project is None or args.env is None:
        raise UsageError("history --fleet needs PROJECT ENV and the config that names"
                         " their hosts")
    project, env = select(config, args.project, args.env)
    fleet = read_fleet_history(config, project, env, limit=LIMIT)
    rows = merged(fleet.entries, list_entries(project.name, env.name, LIMIT))
    if args.json:
        print(json.dumps({"project": project.name, "environment": env.name,
                          "hosts": fleet.hosts, "unreachable": fleet.unreachable,
                          "entries": [r.to_json() for r in rows]}, indent=2))
    elif rows:
        print(table(rows))
    else:
        print(f"no operations recorded on {project.name}/{env.name} yet")
    for host, reason in fleet.unreachable.items():
        print(f"deploytui: {host}: not answering, its record is missing here: {reason}",
              file=sys.stderr)
    if fleet.unreachable and len(fleet.unreachable) == len(fleet.hosts):
        return EXIT_FAILED
    return EXIT_OK
