"""JournalSink: one operation's recorder, a Sink that writes its journal row and log files.

One JournalSink per operation: it is a Sink (reacts to the engine's events) and owns
that operation's log directory `<logs>/<project>/<env>/<started>-<id>/`, one
`<host>.log` per host plus `_deploy.log` (phases and events). Host lines are written
as the tool wrote them (ANSI colour codes included), a batch per buffered write.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from deploytui import paths
from deploytui.config.model import HistorySettings
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    Event,
    HostFailed,
    HostLine,
    HostLines,
    PhaseFinished,
)
from deploytui.history.journal import EXCLUDED_NOTE, HostRecord, Journal
from deploytui.history.logs import DEPLOY_LOG, describe, remove_log_dir, remove_old_logs, safe_name


class JournalSink:
    """Records one operation: the row (begun now, before any work) and its log files."""

    def __init__(self, *, operation: str, project: str, environment: str,
                 journal: Journal | None = None, logs_root: Path | None = None,
                 settings: HistorySettings | None = None) -> None:
        self.journal = journal or Journal()
        self.logs_root = logs_root or paths.logs_dir()
        self.operation = operation
        settings = settings or HistorySettings()
        started = time.time()
        stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
        parent = self.logs_root / safe_name(project) / safe_name(environment)
        self.entry_id = self.journal.begin(operation, project, environment, started=started,
                                           log_dir=lambda i: parent / f"{stamp}-{i}")
        self.log_dir = parent / f"{stamp}-{self.entry_id}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files: dict[str, IO[str]] = {}
        self._hosts: tuple[str, ...] = ()
        self._records: dict[str, HostRecord] = {}
        self._finished = False
        self._closed = False
        self._stamp: tuple[int, str] = (-1, "")
        self._deploy_log = self._open(DEPLOY_LOG)
        self._retention(project, environment, settings)

    def _retention(self, project: str, environment: str, settings: HistorySettings) -> None:
        for old in self.journal.prune(project, environment, settings.keep_deploys):
            remove_log_dir(self.logs_root, old)
        remove_old_logs(self.logs_root, settings.keep_days)

    def _open(self, filename: str) -> IO[str]:
        return open(self.log_dir / filename, "a", encoding="utf-8", errors="replace",
                    buffering=64 * 1024)

    def _host_file(self, host: str) -> IO[str]:
        f = self._files.get(host)
        if f is None:
            f = self._files[host] = self._open(f"{safe_name(host)}.log")
        return f

    def __call__(self, event: Event) -> None:
        if self._closed:
            return
        # one strftime per second, not per line (one tuple swap: safe across threads)
        second = int(event.at)
        cached = self._stamp
        if cached[0] != second:
            cached = self._stamp = (second, time.strftime("%H:%M:%S", time.localtime(second)))
        ts = cached[1]
        if isinstance(event, HostLine | HostLines):
            lines = event.lines if isinstance(event, HostLines) else (event.line,)
            tag = "" if event.stream == "out" else f"[{event.stream}] "
            with self._lock:  # one lock and one (buffered) write per batch
                if self._closed or not lines:
                    return
                known = not self._hosts or event.host in self._hosts
                target = self._host_file(event.host) if known else self._deploy_log
                prefix = f"{ts} {tag}" if known else f"{ts} [{event.host}] {tag}"
                target.write(prefix + ("\n" + prefix).join(lines) + "\n")
            return
        self._on_event(event, ts)

    def _on_event(self, event: Event, ts: str) -> None:
        line = describe(event)
        with self._lock:
            if self._closed:
                return
            if line:
                self._deploy_log.write(f"{ts} {line}\n")
            if isinstance(event, DeployStarted):
                self._hosts = event.hosts
                self._records = {h: HostRecord("running") for h in event.hosts}
                self._records.update({h: HostRecord("excluded", error=EXCLUDED_NOTE)
                                      for h in event.excluded})
            elif isinstance(event, HostFailed):
                self._records[event.host] = HostRecord("failed", event.phase, event.step,
                                                       event.reason)
            elif isinstance(event, PhaseFinished):
                self._flush()
        if isinstance(event, DeployStarted):
            self.journal.started(self.entry_id, event)
        elif isinstance(event, DeployFinished):
            self._finish(event)

    def _finish(self, event: DeployFinished) -> None:
        with self._lock:
            for host, why in event.failed_hosts.items():
                if self._records.get(host, HostRecord("running")).outcome != "failed":
                    step, _, reason = why.partition(": ")
                    self._records[host] = HostRecord("failed", "", step, reason or why)
            others = {"success": "success", "cancelled": "cancelled",
                      "rolled_back": "rolled_back", "unchanged": "unchanged"}.get(
                          event.outcome, "aborted")
            records = {h: (r if r.outcome in ("failed", "excluded") else HostRecord(others))
                       for h, r in self._records.items()}
            self._finished = True
            self._flush()
        self.journal.finish(self.entry_id, outcome=event.outcome, duration=event.duration,
                            error=event.error, release_id=event.release_id, hosts=records,
                            forced=event.forced, freeze=event.freeze)

    def _flush(self) -> None:
        for f in (*self._files.values(), self._deploy_log):
            f.flush()

    def close(self) -> None:
        """Flush and close the logs; an operation that never finished is `interrupted`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for f in (*self._files.values(), self._deploy_log):
                f.close()
            finished = self._finished
            records = {h: (r if r.outcome != "running" else HostRecord("interrupted"))
                       for h, r in self._records.items()}
        if not finished:
            self.journal.finish(self.entry_id, outcome="interrupted", duration=None,
                                error="ended without a result", hosts=records)
