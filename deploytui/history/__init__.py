"""The local journal: every deploy, rollback and prune, with per-host log files.

- `journal`: the SQLite rows (Journal, JournalEntry, HostRecord, list_entries).
- `logs`: the per-operation log directories (naming, `_deploy.log` lines, retention).
- `sink`: JournalSink, the Sink that records one operation into both.
"""

from __future__ import annotations

from deploytui.history.journal import (
    BUSY_TIMEOUT_MS,
    HostRecord,
    Journal,
    JournalEntry,
    list_entries,
    this_machine,
    who,
)
from deploytui.history.logs import DEPLOY_LOG, remove_old_logs, safe_name
from deploytui.history.sink import JournalSink

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DEPLOY_LOG",
    "HostRecord",
    "Journal",
    "JournalEntry",
    "JournalSink",
    "list_entries",
    "remove_old_logs",
    "safe_name",
    "this_machine",
    "who",
]
