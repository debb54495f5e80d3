"""Per-operation log files on disk: naming, the `_deploy.log` lines, and retention.

Each operation owns `<logs>/<project>/<env>/<started>-<id>/`, one `<host>.log` per host
plus `_deploy.log` (phases and events). Only run directories exactly three levels under
the logs root are ever deleted.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from deploytui.engine.event_text import event_text
from deploytui.engine.events import Event, HostLine

DEPLOY_LOG = "_deploy.log"


def safe_name(name: str) -> str:
    """A host/project name usable as one path component (no '/', no leading dot)."""
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]", "_", name) or "_"
    return "_" + cleaned if cleaned.startswith(".") else cleaned


def remove_old_logs(logs_root: Path, keep_days: int, now: float | None = None) -> int:
    """Delete operation log directories older than keep_days; returns how many."""
    cutoff = (now or time.time()) - keep_days * 86400
    removed = 0
    for run_dir in logs_root.glob("*/*/*"):
        try:
            if run_dir.is_symlink() or not run_dir.is_dir():
                continue
            if run_dir.stat().st_mtime < cutoff:
                shutil.rmtree(run_dir, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def remove_log_dir(logs_root: Path, log_dir: Path) -> None:
    """Only ever a run directory three levels under logs_root."""
    try:
        if log_dir.resolve().parent.parent.parent == logs_root.resolve() and log_dir.is_dir():
            shutil.rmtree(log_dir, ignore_errors=True)
    except OSError:
        pass


def describe(event: Event) -> str:
    """One `_deploy.log` line per event that is not host output."""
    if isinstance(event, HostLine):
        return ""
    return event_text(event) or ""
