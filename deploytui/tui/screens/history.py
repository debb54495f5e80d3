"""Past operations; enter opens one operation's per-host logs (when this machine ran it).

With an environment selected, the screen opens on the FLEET's record (what every
operator and CI run did there, read from the hosts and merged with this machine's
journal: history.fleet), because "who deployed what" is the question a team asks; `f`
toggles to this machine's journal alone (every project) and back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static

from deploytui.config.model import Config
from deploytui.tui.keymap import HISTORY_BINDINGS, VIM_BINDINGS
from deploytui.tui.messages import FleetHistoryRead, JournalRead, LogLinesRead, WorkerNote
from deploytui.tui.screens.modals import error_line
from deploytui.tui.widgets.fitted_table import fill_fitted

if TYPE_CHECKING:
    from deploytui.history.fleet import HistoryRow
    from deploytui.history.journal import JournalEntry as Entry

_OUTCOME_STYLE = {"success": "success", "failed": "error", "cancelled": "warning",
                  "interrupted": "warning", "running": "primary", "rolled_back": "warning"}


class HistoryTable(DataTable):
    BINDINGS = VIM_BINDINGS


class HistoryScreen(Screen[None]):
    BINDINGS = HISTORY_BINDINGS

    # (key, label). Filled with fill_fitted: widths from the cells in hand, because the
    # table's own measuring on idle could leave cells drawn at the header's width.
    COLUMNS = [("when", "started"), ("op", "operation"), ("target", "project/env"),
               ("outcome", "outcome"), ("release", "release"), ("who", "by"),
               ("took", "took"), ("failed", "failed hosts / notes")]

    def __init__(self, config: Config, project: str | None, environment: str | None) -> None:
        super().__init__()
        self.config = config
        self.project = project
        self.environment = environment
        self.entries: dict[str, Entry] = {}  # row key -> this machine's journal entry
        self.rows: dict[str, HistoryRow] = {}  # row key -> fleet row (fleet view)
        self.fleet = project is not None and environment is not None  # the default view

    def _title(self) -> str:
        if self.fleet:
            return f" History · {self.project} / {self.environment} · fleet (every operator)"
        scope = f"{self.project} / {self.environment}" if self.project else "all projects"
        return f" History · {scope} · this machine"

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="browser-title", markup=False)
        yield HistoryTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="browser-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(HistoryTable)
        for key, label in self.COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.load()

    def action_toggle_fleet(self) -> None:
        if self.project is None or self.environment is None:
            self.notify("the fleet's record is per environment: select one first",
                        severity="warning")
            return
        self.fleet = not self.fleet
        self.query_one("#browser-title", Static).update(self._title())
        self.query_one(HistoryTable).clear()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def load(self) -> None:
        from deploytui.history import list_entries

        self.post_message(WorkerNote("reading the hosts' record…" if self.fleet
                                     else "loading…"))
        try:
            if self.fleet:
                from deploytui.engine import read_fleet_history
                from deploytui.history.fleet import merged

                fleet = read_fleet_history(self.config, str(self.project),
                                           str(self.environment), limit=200)
                rows = merged(fleet.entries, list_entries(self.project, self.environment,
                                                          limit=200), limit=200)
                self.post_message(FleetHistoryRead(rows, fleet.unreachable))
                return
            entries = list_entries(self.project, self.environment, limit=200)
        except Exception as exc:
            self.post_message(WorkerNote(f"cannot read history: {error_line(exc)}"))
            return
        self.post_message(JournalRead(entries))

    def on_worker_note(self, message: WorkerNote) -> None:
        self._status(message.text)

    def on_fleet_history_read(self, message: FleetHistoryRead) -> None:
        self.show_rows(message.rows, message.unreachable)

    def on_journal_read(self, message: JournalRead) -> None:
        self.show_entries(message.entries)

    def show_rows(self, rows: list[HistoryRow], unreachable: dict[str, str]) -> None:
        """The fleet view: every operator's operations, this machine's marked by logs."""
        from datetime import datetime

        from deploytui.history.fleet import describe

        cells: list[tuple[str, list[object]]] = []
        self.entries, self.rows = {}, {}
        theme = self.app.current_theme
        for row in rows:
            key = row.id
            self.rows[key] = row
            if row.journal is not None:
                self.entries[key] = row.journal
            style = str(getattr(theme, _OUTCOME_STYLE.get(row.outcome, "foreground"), "") or "")
            try:
                when = datetime.fromisoformat(row.started.replace("Z", "+00:00"))
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when.timestamp()))
            except ValueError:
                started = row.started
            failed = [h for h, outcome in row.hosts.items() if outcome == "failed"]
            notes = "; ".join(p for p in (", ".join(failed), describe(row)) if p)
            cells.append((key, [started, row.operation, f"{row.project}/{row.environment}",
                                Text(row.outcome, style=style), row.release or "-", row.who,
                                f"{row.duration:.1f}s" if row.duration is not None else "-",
                                notes]))
        fill_fitted(self.query_one(HistoryTable), self.COLUMNS, cells)
        missing = (f"; not answering: {', '.join(unreachable)}" if unreachable else "")
        self._status(f"{len(rows)} operation(s) on the fleet{missing}; enter: logs (this"
                     " machine's); f: this machine only" if rows else
                     f"no operations recorded on the hosts yet{missing}; f: this machine only")

    def _status(self, text: str) -> None:
        self.query_one("#browser-status", Static).update(text)

    def show_entries(self, entries: list[Entry]) -> None:
        cells: list[tuple[str, list[object]]] = []
        self.entries, self.rows = {}, {}
        theme = self.app.current_theme
        for e in entries:
            key = str(e.id)
            self.entries[key] = e
            failed = [h for h, rec in e.hosts.items() if rec.outcome == "failed"]
            style = str(getattr(theme, _OUTCOME_STYLE.get(e.outcome, "foreground"), "") or "")
            cells.append((key, [
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.started)),
                e.operation, f"{e.project}/{e.environment}", Text(e.outcome, style=style),
                e.release_id or "-", e.user,
                f"{e.duration:.1f}s" if e.duration is not None else "-", ", ".join(failed)]))
        fill_fitted(self.query_one(HistoryTable), self.COLUMNS, cells)
        toggle = "; f: the fleet's record" if self.project and self.environment else ""
        self._status(f"{len(entries)} operation(s); enter: logs{toggle}" if entries
                     else f"no deploys recorded yet{toggle}")

    def action_open(self) -> None:
        table = self.query_one(HistoryTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        entry = self.entries.get(str(key))
        if entry is not None:
            self.app.push_screen(DeployLogScreen(entry, self.config.ui.log_lines))
        elif str(key) in self.rows:
            row = self.rows[str(key)]
            self.notify(f"{row.operation} by {row.who} ran on another machine: its logs are"
                        f" there; recorded on {', '.join(row.hosts) or 'no host'}",
                        timeout=8)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_close(self) -> None:
        self.dismiss(None)


class DeployLogScreen(Screen[None]):
    """One past operation's per-host logs, read from disk in a thread."""

    BINDINGS = [Binding("escape", "close", "Back", id="back")]

    def __init__(self, entry: Entry, max_lines: int) -> None:
        super().__init__()
        self.entry = entry
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        e = self.entry
        yield Static(f" {e.operation} {e.project}/{e.environment} · {e.outcome}"
                     f" · {e.release_id or '-'}", id="browser-title", markup=False)
        log = Log(id="history-log", max_lines=self.max_lines)
        log.border_title = "logs"
        yield log
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.read_logs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-log")
    def read_logs(self) -> None:
        self.post_message(LogLinesRead(self.log_lines()))

    def on_log_lines_read(self, message: LogLinesRead) -> None:
        self.query_one(Log).write_lines(message.lines)

    def log_lines(self) -> list[str]:
        """The operation's error, then each host's log (failed hosts first), from disk."""
        from deploytui.tui.log_buffer import clean_line

        e = self.entry
        lines: list[str] = []
        if e.error:
            lines.append(f"error: {e.error}")
        failed_first = sorted(e.host_logs.items(),
                              key=lambda kv: e.hosts[kv[0]].outcome != "failed")
        for host, path in failed_first:
            rec = e.hosts[host]
            lines.append(f"── {host} · {rec.outcome}"
                         + (f" · {rec.phase}/{rec.step}: {rec.error}" if rec.error else "")
                         + " ──")
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                lines.append(f"(no log was kept for {host}: the {e.operation} ended before "
                             "this host ran any step)")
                continue
            except OSError as exc:
                lines.append(f"(the log of {host} cannot be read: {error_line(exc)})")
                continue
            lines.extend(clean_line(ln) for ln in text.splitlines()[-5000:])
        if not e.host_logs:
            lines.append(f"(no logs were kept for this {e.operation})")
        return lines

    def action_close(self) -> None:
        self.dismiss(None)
