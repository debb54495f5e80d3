"""The fleet's record merged with this machine's journal: one row per operation id.

The hosts' record (engine/operations/fleet_history.py) says what every operator and CI
run did; the journal adds this machine's log files. An operation both know is one row
(`source` "both"), one only the hosts know is "fleet" (another operator's), one only
the journal knows is "local" (it never reached a host: refused, or a dry run). Newest
first. `history --fleet` and the console's history screen both show these rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploytui.engine import FleetEntry
from deploytui.engine.clock import utc_iso
from deploytui.history.journal import JournalEntry


@dataclass
class HistoryRow:
    id: str
    operation: str
    project: str
    environment: str
    user: str  # user@machine
    started: str  # ISO 8601 UTC
    outcome: str
    duration: float | None
    actor: str = ""  # the CI's actor, when it ran in CI
    ref: str = ""
    sha: str = ""
    release: str = ""
    forced: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    freeze: str = ""
    note: str = ""
    error: str = ""
    hosts: dict[str, str] = field(default_factory=dict)  # host -> outcome it recorded
    source: str = "fleet"  # fleet | local | both
    journal: JournalEntry | None = None  # this machine's entry (its logs), if any

    @property
    def who(self) -> str:
        return self.actor or self.user

    def to_json(self) -> dict[str, Any]:
        """The `history --fleet --json` entry (docs/json-output-history.md)."""
        j = self.journal
        return {"id": self.id, "operation": self.operation, "project": self.project,
                "environment": self.environment, "user": self.user, "actor": self.actor,
                "started": self.started, "outcome": self.outcome,
                "duration": round(self.duration, 3) if self.duration is not None else None,
                "ref": self.ref, "sha": self.sha, "release": self.release,
                "forced": list(self.forced), "excluded": list(self.excluded),
                "freeze": self.freeze, "note": self.note, "error": self.error,
                "hosts": dict(self.hosts), "source": self.source,
                "journal_id": j.id if j else None,
                "log_dir": str(j.log_dir) if j and j.log_dir else None}


def _from_fleet(entry: FleetEntry, local: JournalEntry | None) -> HistoryRow:
    r = entry.record
    return HistoryRow(
        id=r.id, operation=r.operation, project=r.project, environment=r.environment,
        user=r.user, started=r.started, outcome=r.outcome, duration=r.duration,
        actor=r.actor, ref=r.ref, sha=r.sha, release=r.release, forced=list(r.forced),
        excluded=list(r.excluded), freeze=r.freeze, note=r.note, error=r.error,
        hosts=dict(entry.hosts), source="both" if local else "fleet", journal=local)


def _from_journal(e: JournalEntry) -> HistoryRow:
    return HistoryRow(
        id=e.op_id or f"journal-{e.id}", operation=e.operation, project=e.project,
        environment=e.environment, user=e.user, started=utc_iso(e.started),
        outcome=e.outcome, duration=e.duration, ref=e.ref, sha=e.sha, release=e.release_id,
        forced=list(e.forced), freeze=e.freeze, error=e.error,
        excluded=[h for h, rec in e.hosts.items() if rec.outcome == "excluded"],
        source="local", journal=e)


def merged(fleet: list[FleetEntry], journal: list[JournalEntry], limit: int = 100
           ) -> list[HistoryRow]:
    """Fleet entries (newest first) and journal entries as one list, newest first."""
    by_op = {e.op_id: e for e in journal if e.op_id}
    rows = [_from_fleet(entry, by_op.get(entry.record.id)) for entry in fleet]
    seen = {row.id for row in rows}
    rows += [_from_journal(e) for e in journal if not (e.op_id and e.op_id in seen)]
    rows.sort(key=lambda r: r.started, reverse=True)  # stable: the fleet's order stays
    return rows[:limit]


def describe(row: HistoryRow) -> str:
    """The facts a table's last column shows: overrides, freeze, left-out hosts, error."""
    parts = []
    if row.forced:
        parts.append("FORCED " + ",".join(row.forced))
    if row.freeze:
        parts.append(f"during freeze: {row.freeze}")
    if row.excluded:
        parts.append(f"excluded {','.join(row.excluded)}")
    if row.note:
        parts.append(row.note)
    if row.error and row.outcome != "success":
        parts.append(row.error)
    if row.source == "local":
        parts.append("(this machine only)")
    return "; ".join(parts)
