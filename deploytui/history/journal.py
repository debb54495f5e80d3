"""The SQLite journal: one row per deploy, rollback and prune, with per-host outcomes.

A row is written as `running` (with pid and machine) BEFORE the operation starts, and
completed when it ends, so a crash or a kill leaves a trace: readers report a `running`
row whose process is gone (or that was written on another machine, where its pid
means nothing here) as `interrupted`. SQLite in WAL mode with a busy timeout and one
short transaction per write lets several processes record at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploytui import paths
from deploytui.engine import local_user as who  # user@machine, as locks record it
from deploytui.engine.clock import utc_iso
from deploytui.engine.events import DeployStarted
from deploytui.history.logs import DEPLOY_LOG, safe_name

BUSY_TIMEOUT_MS = 15000
EXCLUDED_NOTE = "left out on purpose (--exclude): still serves its earlier release"

# Columns added after the first release of the schema: added to an older journal as it opens.
_ADDED = (("op_id", "TEXT NOT NULL DEFAULT ''"), ("forced", "TEXT NOT NULL DEFAULT ''"),
          ("freeze", "TEXT NOT NULL DEFAULT ''"))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL, project TEXT NOT NULL, environment TEXT NOT NULL,
    strategy TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '',
    sha TEXT NOT NULL DEFAULT '', release_id TEXT NOT NULL DEFAULT '',
    user TEXT NOT NULL, machine TEXT NOT NULL, pid INTEGER NOT NULL,
    started REAL NOT NULL, finished REAL, duration REAL,
    outcome TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', log_dir TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS entries_by_target ON entries (project, environment, id);
CREATE TABLE IF NOT EXISTS hosts (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    host TEXT NOT NULL, outcome TEXT NOT NULL, phase TEXT NOT NULL DEFAULT '',
    step TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (entry_id, host)
);
"""


def this_machine() -> str:
    return socket.gethostname()




def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



@dataclass(frozen=True)
class HostRecord:
    outcome: str  # success | failed | cancelled | aborted (another host failed) | running
    #             | excluded (left out on purpose: deploy --exclude)
    phase: str = ""
    step: str = ""
    error: str = ""


@dataclass(frozen=True)
class JournalEntry:
    id: int
    operation: str
    project: str
    environment: str
    strategy: str
    ref: str
    sha: str
    release_id: str
    user: str  # user@machine
    machine: str
    pid: int
    started: float
    finished: float | None
    duration: float | None
    outcome: str  # running | success | failed | cancelled | interrupted
    error: str
    log_dir: Path | None
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    op_id: str = ""  # the operation's id, as the fleet record on the hosts has it
    forced: tuple[str, ...] = ()  # overrides used: break-lock, force-freeze, force
    freeze: str = ""  # the freeze in force while it ran

    @property
    def host_logs(self) -> dict[str, Path]:
        if self.log_dir is None:
            return {}
        return {h: self.log_dir / f"{safe_name(h)}.log" for h in self.hosts}

    @property
    def deploy_log(self) -> Path | None:
        return self.log_dir / DEPLOY_LOG if self.log_dir else None

    def to_json(self) -> dict[str, Any]:
        """The stable `history --json` object (docs/json-output-history.md)."""
        logs = self.host_logs
        return {
            "id": self.id, "operation": self.operation, "project": self.project,
            "environment": self.environment, "strategy": self.strategy, "ref": self.ref,
            "sha": self.sha, "release": self.release_id, "user": self.user,
            "machine": self.machine, "pid": self.pid, "started": utc_iso(self.started),
            "finished": utc_iso(self.finished) if self.finished else None,
            "duration": round(self.duration, 3) if self.duration is not None else None,
            "outcome": self.outcome, "error": self.error,
            "log_dir": str(self.log_dir) if self.log_dir else None,
            "hosts": {h: {**dataclasses.asdict(r), "log": str(logs[h]) if h in logs else None}
                      for h, r in self.hosts.items()},
            "op_id": self.op_id, "forced": list(self.forced), "freeze": self.freeze,
        }


class Journal:
    """The SQLite journal; one short-lived connection per call (safe across threads)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.journal_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
            for name, kind in _ADDED:
                if name not in have:
                    with contextlib.suppress(sqlite3.OperationalError):  # another process
                        db.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: still consistent after a crash
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    def begin(self, operation: str, project: str, environment: str, *,
              user: str | None = None, started: float | None = None,
              log_dir: Callable[[int], Path] | None = None) -> int:
        """Insert a `running` row (and its log dir, named after its id) in one transaction."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute(
                "INSERT INTO entries (operation, project, environment, user, machine, pid,"
                " started, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                (operation, project, environment, user or who(), this_machine(), os.getpid(),
                 started or time.time()))
            entry_id = int(cur.lastrowid or 0)
            if log_dir is not None:
                db.execute("UPDATE entries SET log_dir=? WHERE id=?",
                           (str(log_dir(entry_id)), entry_id))
            db.execute("COMMIT")
            return entry_id

    def set_log_dir(self, entry_id: int, log_dir: Path) -> None:
        with self._db() as db:
            db.execute("UPDATE entries SET log_dir=? WHERE id=?", (str(log_dir), entry_id))

    def started(self, entry_id: int, ev: DeployStarted) -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE entries SET strategy=?, ref=?, sha=?, release_id=?, user=?,"
                       " op_id=? WHERE id=?", (ev.strategy, ev.ref, ev.sha, ev.release_id,
                                               ev.user or who(), ev.op_id, entry_id))
            db.executemany("INSERT OR IGNORE INTO hosts (entry_id, host, outcome)"
                           " VALUES (?, ?, 'running')", [(entry_id, h) for h in ev.hosts])
            db.executemany("INSERT OR IGNORE INTO hosts (entry_id, host, outcome, error)"
                           " VALUES (?, ?, 'excluded', ?)",
                           [(entry_id, h, EXCLUDED_NOTE) for h in ev.excluded])
            db.execute("COMMIT")

    def finish(self, entry_id: int, *, outcome: str, duration: float | None,
               error: str = "", release_id: str = "",
               hosts: dict[str, HostRecord] | None = None,
               forced: tuple[str, ...] = (), freeze: str = "") -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE entries SET outcome=?, finished=?, duration=?, error=?,"
                " release_id=CASE WHEN ?='' THEN release_id ELSE ? END, forced=?, freeze=?"
                " WHERE id=?",
                (outcome, time.time(), duration, error, release_id, release_id,
                 ",".join(forced), freeze, entry_id))
            db.executemany(
                "INSERT OR REPLACE INTO hosts (entry_id, host, outcome, phase, step, error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(entry_id, h, r.outcome, r.phase, r.step, r.error)
                 for h, r in (hosts or {}).items()])
            db.execute("COMMIT")

    def prune(self, project: str, environment: str, keep: int) -> list[Path]:
        """Drop rows beyond the newest `keep` of a project/env; returns their log dirs."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, log_dir FROM entries WHERE project=? AND environment=?"
                " ORDER BY id DESC LIMIT -1 OFFSET ?", (project, environment, keep)).fetchall()
            db.executemany("DELETE FROM entries WHERE id=?", [(r[0],) for r in rows])
            db.execute("COMMIT")
        return [Path(r[1]) for r in rows if r[1]]

    def get(self, entry_id: int) -> JournalEntry | None:
        found = self._select("WHERE id=?", (entry_id,), 1)
        return found[0] if found else None

    def list_entries(self, project: str | None = None, environment: str | None = None,
                     limit: int = 100) -> list[JournalEntry]:
        """Newest first."""
        where, args = [], []
        if project is not None:
            where.append("project=?")
            args.append(project)
        if environment is not None:
            where.append("environment=?")
            args.append(environment)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._select(clause, tuple(args), limit)

    def _select(self, clause: str, args: tuple, limit: int) -> list[JournalEntry]:
        with self._db() as db:
            db.execute("BEGIN")
            rows = db.execute(
                "SELECT id, operation, project, environment, strategy, ref, sha, release_id,"
                " user, machine, pid, started, finished, duration, outcome, error, log_dir,"
                f" op_id, forced, freeze FROM entries {clause} ORDER BY id DESC LIMIT ?",
                (*args, limit)).fetchall()
            ids = [r[0] for r in rows]
            hosts: dict[int, dict[str, HostRecord]] = {i: {} for i in ids}
            if ids:
                marks = ",".join("?" * len(ids))
                for eid, host, outcome, phase, step, error in db.execute(
                        "SELECT entry_id, host, outcome, phase, step, error FROM hosts"
                        f" WHERE entry_id IN ({marks}) ORDER BY rowid", ids):
                    hosts[eid][host] = HostRecord(outcome, phase, step, error)
            db.execute("COMMIT")
        return [self._entry(r, hosts[r[0]]) for r in rows]

    @staticmethod
    def _entry(r: tuple, hosts: dict[str, HostRecord]) -> JournalEntry:
        outcome = r[14]
        if outcome == "running" and (r[9] != this_machine() or not _pid_alive(r[10])):
            outcome = "interrupted"
            hosts = {h: (HostRecord("interrupted", rec.phase, rec.step, rec.error)
                         if rec.outcome == "running" else rec) for h, rec in hosts.items()}
        return JournalEntry(
            id=r[0], operation=r[1], project=r[2], environment=r[3], strategy=r[4], ref=r[5],
            sha=r[6], release_id=r[7], user=r[8], machine=r[9], pid=r[10], started=r[11],
            finished=r[12], duration=r[13], outcome=outcome, error=r[15],
            log_dir=Path(r[16]) if r[16] else None, hosts=hosts, op_id=r[17],
            forced=tuple(f for f in r[18].split(",") if f), freeze=r[19])


def list_entries(project: str | None = None, environment: str | None = None,
                 limit: int = 100) -> list[JournalEntry]:
    """The console's API: newest first, from the user's journal."""
    return Journal().list_entries(project, environment, limit)
