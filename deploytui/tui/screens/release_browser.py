"""Releases x hosts: which host keeps which release, current/previous marked, drift shown.

Roll back to the selected release, prune (dry run first, then confirm) or delete one
(never current). Long operations run on the App's runner so logs stream on the main
screen; listing, previews and deletes run in this screen's thread workers.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from deploytui.tui.keymap import BROWSER_BINDINGS, VIM_BINDINGS
from deploytui.tui.screens.modals import ConfirmModal, error_line


def human_bytes(n: int | None) -> str:
    """The engine's size format (as the CLI prints it); "-" for a host without the release."""
    from deploytui.engine.operations.prune import human_bytes as engine_human_bytes

    return "-" if n is None else engine_human_bytes(int(n))


def drifted_hosts(fleet: Any) -> set[str]:
    """Hosts whose `current` differs from the most common one (or that could not be read)."""
    currents = [h.current for h in fleet.hosts.values()]
    if not currents:
        return set()
    common = max(set(currents), key=currents.count)
    return {name for name, h in fleet.hosts.items() if h.current != common or h.error}


class ReleaseTable(DataTable):
    BINDINGS = VIM_BINDINGS


class ReleaseBrowser(Screen[None]):
    BINDINGS = BROWSER_BINDINGS

    def __init__(self, project: str, environment: str) -> None:
        super().__init__()
        self.project = project
        self.environment = environment
        self.fleet: Any = None
        self.host_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(f" Releases · {self.project} / {self.environment}", id="browser-title")
        table = ReleaseTable(id="releases", cursor_type="row", zebra_stripes=True)
        table.border_title = "releases x hosts"
        yield table
        yield Static("loading…", id="browser-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ReleaseTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="releases")
    def load(self) -> None:
        from deploytui.engine.operations.releases import list_releases

        try:
            fleet = list_releases(self.app.config, self.project, self.environment)
        except Exception as exc:
            self.app.call_from_thread(self._status, f"cannot list releases: {error_line(exc)}")
            return
        self.app.call_from_thread(self.show_fleet, fleet)

    def _status(self, text: str) -> None:
        self.query_one("#browser-status", Static).update(text)

    def _theme(self, name: str) -> str:
        return str(getattr(self.app.current_theme, name, "") or "")

    def show_fleet(self, fleet: Any) -> None:
        """Render FleetReleases: one row per release, one column per host."""
        self.fleet = fleet
        table = self.query_one(ReleaseTable)
        table.clear(columns=True)
        self.host_names = list(fleet.hosts)
        drift = drifted_hosts(fleet)
        behind = set(fleet.behind_hosts())
        for key, label in [("id", "release"), ("sha", "sha"), ("subject", "subject"),
                           ("when", "deployed"), ("who", "by"), ("state", "state")]:
            table.add_column(label, key=key)
        for host in self.host_names:
            label = Text(host + (" ⇣ behind" if host in behind else ""),
                         style=self._theme("warning") if host in drift else "")
            table.add_column(label, key=f"host:{host}")
        for row in fleet.releases:
            cells: list[Any] = [row.release_id, (row.sha or "")[:8], (row.subject or "")[:40],
                                str(row.deployed_at or "")[:19], row.deployed_by or "",
                                self._state_text(row.state)]
            for host in self.host_names:
                cells.append(self._cell(row, host))
            table.add_row(*cells, key=row.release_id)
        lines = [f"{len(fleet.releases)} release(s) on {len(self.host_names)} host(s)"]
        lines.extend(f"DRIFT: {line}" for line in fleet.drift)
        self._status("\n".join(lines))

    def _state_text(self, state: str | None) -> Text:
        style = {"failed": "error", "ok": "success", "rolled_back": "warning"}.get(state or "")
        return Text(state or "", style=self._theme(style) if style else "")

    def _cell(self, row: Any, host: str) -> Text:
        info = self.fleet.hosts.get(host)
        if host not in row.hosts:
            if info is not None and info.behind and row.release_id == self.fleet.fleet_current:
                return Text("⇣ behind (u: catch up)", style=self._theme("warning"))
            return Text("·", style="dim")
        size = human_bytes(row.size_bytes.get(host))
        if info is not None and info.current == row.release_id:
            return Text(f"● current {size}", style=f"bold {self._theme('success')}")
        if info is not None and info.previous == row.release_id:
            return Text(f"◐ previous {size}", style=self._theme("primary"))
        if row.states.get(host, row.state) == "failed":
            return Text(f"✗ failed {size}", style=self._theme("error"))
        return Text(f"○ {size}")

    @property
    def selected(self) -> str | None:
        table = self.query_one(ReleaseTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def is_current_anywhere(self, release_id: str) -> bool:
        return any(h.current == release_id for h in self.fleet.hosts.values())

    # -- actions ---------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_rollback(self) -> None:
        release = self.selected
        if release is None:
            return

        def chosen(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)
                self.app.start_rollback(self.project, self.environment, release)

        body = (f"Switch every host of {self.project}/{self.environment} to release\n"
                f"{release} and restart?")
        if self.fleet.behind_hosts():  # say what each host will do, the behind ones too
            from deploytui.engine.operations.behind import rollback_steps

            steps = rollback_steps({h: i.current for h, i in self.fleet.hosts.items()},
                                   release, self.fleet.position)
            body += "\n\n" + "\n".join(f"{h}: {step}" for h, step in steps.items())
        self.app.push_screen(ConfirmModal("Roll back", body, "Roll back"), chosen)

    def action_catch_up(self) -> None:
        """Bring the hosts that are behind (left out of a deploy) to the fleet's release."""
        if self.fleet is None:
            return
        behind, release = self.fleet.behind_hosts(), self.fleet.fleet_current
        if self.fleet.position.disagreement:
            self.notify(f"catch-up refused: {self.fleet.position.disagreement}",
                        severity="error")
            return
        if not behind or release is None:
            self.notify("Nothing behind: every host serves the fleet's release")
            return

        def chosen(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)
                self.app.start_catch_up(self.project, self.environment, behind)

        self.app.push_screen(ConfirmModal(
            "Catch up",
            f"Build release {release} on {', '.join(behind)} (behind: left out of its\n"
            "deploy), switch and restart there? Up-to-date hosts are not touched.",
            "Catch up"), chosen)

    def action_delete(self) -> None:
        release = self.selected
        if release is None:
            return
        if self.is_current_anywhere(release):
            self.notify(f"{release} is current on a host: it cannot be deleted",
                        severity="error")
            return

        def chosen(ok: bool | None) -> None:
            if ok:
                self.delete(release)

        self.app.push_screen(ConfirmModal(
            "Delete release", f"Delete release {release} from every host that keeps it?",
            "Delete"), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="release-op")
    def delete(self, release: str) -> None:
        from deploytui.tui.operations import delete_release

        try:
            result = delete_release(self.app.config, self.project, self.environment, release)
            errors = [result.error] if result.error else []
            errors += [h.error for h in result.hosts.values() if h.error]
            if errors:
                raise RuntimeError(errors[0])
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"delete failed: {error_line(exc)}",
                                      severity="error")
        else:
            self.app.call_from_thread(self.notify, f"deleted {release}")
        self.app.call_from_thread(self.load)

    def action_prune(self) -> None:
        self._status("computing what prune would remove…")
        self.prune_preview()

    @work(thread=True, exclusive=True, exit_on_error=False, group="release-op")
    def prune_preview(self) -> None:
        from deploytui.tui.operations import prune

        try:
            preview = prune(self.app.config, self.project, self.environment, dry_run=True)
            if preview.error and not preview.hosts:
                raise RuntimeError(preview.error)
        except Exception as exc:
            self.app.call_from_thread(self._status, f"prune preview failed: {error_line(exc)}")
            return
        self.app.call_from_thread(self._confirm_prune, preview)

    def _confirm_prune(self, preview: Any) -> None:
        lines, total = prune_lines(preview)
        if not lines:
            self._status("nothing to prune")
            self.notify("Nothing to prune")
            return
        body = "\n".join([*lines, "", f"frees {human_bytes(total)}"])
        self._status("prune preview ready")

        def chosen(ok: bool | None) -> None:
            if ok:
                self.prune_now()

        self.app.push_screen(ConfirmModal("Prune releases", body, "Prune"), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="release-op")
    def prune_now(self) -> None:
        from deploytui.tui.operations import prune

        try:
            result = prune(self.app.config, self.project, self.environment, dry_run=False)
            if result.error:
                raise RuntimeError(result.error)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"prune failed: {error_line(exc)}",
                                      severity="error")
        else:
            self.app.call_from_thread(
                self.notify, f"pruned: freed {human_bytes(result.bytes_freed)}")
        self.app.call_from_thread(self.load)


def prune_lines(result: Any) -> tuple[list[str], int]:
    """`host → release (size, reason)` lines and the bytes they free, from a PruneResult."""
    lines: list[str] = []
    total = 0
    for host, plan in result.hosts.items():
        if plan.error:
            lines.append(f"{host}: {plan.error}")
        for d in plan.deletions:
            total += d.size_bytes
            lines.append(f"{host} → {d.release_id} ({human_bytes(d.size_bytes)}, {d.reason})")
    return lines, total
