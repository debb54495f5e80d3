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
from typing import Any

from deploytui.commands import EXIT_FAILED, EXIT_OK, UsageError, select
from deploytui.config.model import Config
from deploytui.engine.clock import utc_iso
from deploytui.engine.operations.fleet_history import read_fleet_history
from deploytui.history import JournalEntry, list_entries

LIMIT = 100
HEADER = ["WHEN", "OPERATION", "REF", "RELEASE", "WHO", "OUTCOME", "DURATION", "HOSTS", "NOTE"]


def merged(fleet_entries: list, journal: list[JournalEntry], limit: int = LIMIT
           ) -> list[dict[str, Any]]:
    """Fleet entries and journal entries as one list of JSON rows, newest first."""
    by_op = {e.op_id: e for e in journal if e.op_id}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in fleet_entries:
        row = entry.to_json()
        local = by_op.get(row["id"])
        seen.add(row["id"])
        row["source"] = "both" if local else "fleet"
        row["journal_id"] = local.id if local else None
        row["log_dir"] = str(local.log_dir) if local and local.log_dir else None
        rows.append(row)
    for e in journal:
        if e.op_id and e.op_id in seen:
            continue
        rows.append({
            "id": e.op_id or f"journal-{e.id}", "operation": e.operation,
            "project": e.project, "environment": e.environment, "user": e.user,
            "actor": "", "started": utc_iso(e.started), "outcome": e.outcome,
            "duration": round(e.duration, 3) if e.duration is not None else None,
            "ref": e.ref, "sha": e.sha, "release": e.release_id, "forced": list(e.forced),
            "excluded": [h for h, r in e.hosts.items() if r.outcome == "excluded"],
            "freeze": e.freeze, "note": "", "error": e.error, "hosts": {},
            "source": "local", "journal_id": e.id,
            "log_dir": str(e.log_dir) if e.log_dir else None})
    rows.sort(key=lambda r: r["started"], reverse=True)  # stable: the fleet's order stays
    return rows[:limit]


def _when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment.timestamp()))


def _note(row: dict[str, Any]) -> str:
    parts = []
    if row["forced"]:
        parts.append("FORCED " + ",".join(row["forced"]))
    if row["freeze"]:
        parts.append(f"during freeze: {row['freeze']}")
    if row["excluded"]:
        parts.append(f"excluded {','.join(row['excluded'])}")
    if row.get("note"):
        parts.append(row["note"])
    if row["error"] and row["outcome"] != "success":
        parts.append(row["error"])
    if row["source"] == "local":
        parts.append("(this machine only)")
    return "; ".join(parts)


def _row(row: dict[str, Any]) -> list[str]:
    ref = row["ref"] or "-"
    if row["sha"]:
        ref = f"{ref}@{row['sha'][:8]}"
    duration = row["duration"]
    took = "-" if duration is None else (f"{int(duration) // 60}m{int(duration) % 60:02d}s"
                                        if duration >= 60 else f"{round(duration)}s")
    hosts = row["hosts"]
    return [_when(row["started"]), row["operation"], ref, row["release"] or "-",
            row["actor"] or row["user"], row["outcome"], took,
            str(len(hosts)) if hosts else "-", _note(row)]


def table(rows: list[dict[str, Any]]) -> str:
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
                          "entries": rows}, indent=2))
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
