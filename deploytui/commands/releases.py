"""`deploytui releases PROJECT ENV [--json]`: what every host holds, and where they differ.

The JSON form is a stable contract for scripts and CI (docs/json-output.md).
"""

from __future__ import annotations

import argparse
import json

from deploytui.commands import EXIT_FAILED, EXIT_OK, select
from deploytui.config.model import Config
from deploytui.engine import FleetReleases, ReleaseRow, human_bytes, list_releases

HEADER = ["RELEASE", "SHA", "SUBJECT", "WHEN", "BY", "STATE", "SIZE", "HOSTS"]
SUBJECT_WIDTH = 40


def _size(row: ReleaseRow) -> str:
    sizes = sorted(set(row.size_bytes.values()))
    if not sizes:
        return "-"
    if len(sizes) == 1:
        return human_bytes(sizes[0])
    return f"{human_bytes(sizes[0])}..{human_bytes(sizes[-1])}"


def _hosts(row: ReleaseRow, listed: list[str]) -> str:
    return "all" if row.hosts == listed and len(listed) > 1 else ",".join(row.hosts)


def _state(row: ReleaseRow) -> str:
    """The summary state; `*` when hosts disagree (the drift lines say how)."""
    mixed = len(set(row.states.values())) > 1
    return row.state.replace("_", " ") + ("*" if mixed else "")


def _subject(text: str) -> str:
    return text if len(text) <= SUBJECT_WIDTH else text[:SUBJECT_WIDTH - 1] + "…"


def table(fleet: FleetReleases) -> str:
    listed = fleet.listed_hosts()
    rows = [HEADER]
    for r in fleet.releases:
        rows.append([r.release_id, r.sha[:8] or "-", _subject(r.subject) or "-",
                     r.deployed_at.replace("T", " ").rstrip("Z")[:16], r.deployed_by or "-",
                     _state(r), _size(r), _hosts(r, listed)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    if not fleet.releases:
        lines = ["no releases on any host"]
    lines.append("")
    for name, info in fleet.hosts.items():
        if info.error:
            continue
        free = human_bytes(info.free_bytes) if info.free_bytes is not None else "?"
        lines.append(f"{name}: current {info.current or '-'}, previous "
                     f"{info.previous or '-'}, {free} free")
    lines.extend(f"drift: {line}" for line in fleet.drift)
    return "\n".join(lines)


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    fleet = list_releases(config, project, env)
    if args.json:
        print(json.dumps(fleet.to_json(), indent=2))
    else:
        print(table(fleet))
    return EXIT_FAILED if any(h.error for h in fleet.hosts.values()) else EXIT_OK
