"""Releases x hosts: which host keeps which release, current/previous marked, drift shown.

Roll back to the selected release, prune (dry run first, then confirm) or delete one
(never current). Confirmed operations are returned with `dismiss(...)`: the main screen
runs them on the App's Runner, so logs stream there and the journal and webhooks see
them as they see the CLI's. Listing and the prune preview run in this screen's workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from deploytui.config.model import Config, Environment
from deploytui.engine import CatchUpRequest, DeleteRequest, PruneRequest, RollbackRequest
from deploytui.tui.keymap import BROWSER_BINDINGS, VIM_BINDINGS
from deploytui.tui.messages import PrunePreviewed, ReleasesListed, WorkerNote
from deploytui.tui.screens.modals import error_line
from deploytui.tui.widgets.fitted_table import fill_fitted

if TYPE_CHECKING:
    from deploytui.engine import (
        FleetReleases,
        PruneResult,
        ReleaseRow,
        Request,  # noqa: F401 (the screen's result type, quoted)
    )


def human_bytes(n: int | None) -> str:
    """The engine's size format (as the CLI prints it); "-" for a host without the release."""
    from deploytui.engine import human_bytes as engine_human_bytes

    return "-" if n is None else engine_human_bytes(int(n))


def drifted_hosts(fleet: FleetReleases) -> set[str]:
    """Listed hosts whose `current` differs from the most common one. A host that could
    not be reached is not drift: it is reported apart, as "cannot reach"."""
    listed = {name: h for name, h in fleet.hosts.items() if not h.error}
    currents = [h.current for h in listed.values()]
    if not currents:
        return set()
    common = max(set(currents), key=currents.count)
    return {name for name, h in listed.items() if h.current != common}


class ReleaseTable(DataTable):
    BINDINGS = VIM_BINDINGS


class ReleaseBrowser(Screen["Request | None"]):
    """Dismisses the confirmed operation (rollback, prune, delete) for the main screen to
    run, or None. Listing and the prune preview only read hosts; they run here."""

    BINDINGS = BROWSER_BINDINGS

    # (key, label): the release's own columns; one column per host follows "state".
    # To add a column: add it here and a cell in `_row_cells`.
    LEADING = [("id", "release"), ("state", "state")]
    TRAILING = [("sha", "sha"), ("subject", "subject"), ("when", "deployed"), ("who", "by")]

    def __init__(self, config: Config, project: str, environment: str) -> None:
        super().__init__()
        self.config = config
        self.project = project
        self.environment = environment
        self.fleet: FleetReleases | None = None
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

    @property
    def env(self) -> Environment:
        return self.config.projects[self.project].environments[self.environment]

    @work(thread=True, exclusive=True, exit_on_error=False, group="releases")
    def load(self) -> None:
        from deploytui.engine import list_releases

        try:
            fleet = list_releases(self.config, self.project, self.environment)
        except Exception as exc:
            self.post_message(WorkerNote(f"cannot list releases: {error_line(exc)}"))
            return
        self.post_message(ReleasesListed(fleet))

    def on_worker_note(self, message: WorkerNote) -> None:
        self._status(message.text)

    def on_releases_listed(self, message: ReleasesListed) -> None:
        self.show_fleet(message.fleet)

    def _status(self, text: str) -> None:
        self.query_one("#browser-status", Static).update(text)

    def _theme(self, name: str) -> str:
        return str(getattr(self.app.current_theme, name, "") or "")

    def show_fleet(self, fleet: FleetReleases) -> None:
        """Render FleetReleases: one row per release, one column per host."""
        self.fleet = fleet
        table = self.query_one(ReleaseTable)
        self.host_names = list(fleet.hosts)
        drift = drifted_hosts(fleet)
        behind = set(fleet.behind_hosts())
        columns: list[tuple[str, str | Text]] = list(self.LEADING)
        for host in self.host_names:
            info = fleet.hosts[host]
            if info.error:
                label = Text(f"{host} (cannot reach)", style=self._theme("error"))
            else:
                label = Text(host + (" ⇣ behind" if host in behind else ""),
                             style=self._theme("warning") if host in drift else "")
            columns.append((f"host:{host}", label))
        columns.extend(self.TRAILING)
        fill_fitted(table, columns,
                    [(row.release_id, self._row_cells(row)) for row in fleet.releases])
        lines = [f"{len(fleet.releases)} release(s) on {len(self.host_names)} host(s)"
                 if fleet.releases else
                 f"no releases yet on {len(self.host_names)} host(s): nothing deployed"]
        unreachable = {h: info.error for h, info in fleet.hosts.items() if info.error}
        lines.extend(f"CANNOT REACH {host}: {why}" for host, why in unreachable.items())
        lines.extend(f"DRIFT: {line}" for line in fleet.drift
                     if not any(line.startswith(f"{h}: could not list") for h in unreachable))
        self._status("\n".join(lines))

    def _row_cells(self, row: ReleaseRow) -> list[object]:
        cells: dict[str, object] = {
            "id": row.release_id, "state": self._state_text(row.state),
            "sha": (row.sha or "")[:8], "subject": (row.subject or "")[:40],
            "when": str(row.deployed_at or "")[:19], "who": row.deployed_by or ""}
        for host in self.host_names:
            cells[f"host:{host}"] = self._cell(row, host)
        keys = [k for k, _ in self.LEADING] + [f"host:{h}" for h in self.host_names] + [
            k for k, _ in self.TRAILING]
        return [cells[k] for k in keys]

    def _state_text(self, state: str | None) -> Text:
        style = {"failed": "error", "ok": "success", "rolled_back": "warning"}.get(state or "")
        return Text(state or "", style=self._theme(style) if style else "")

    def _cell(self, row: ReleaseRow, host: str) -> Text:
        info = self.fleet.hosts.get(host) if self.fleet else None
        if host not in row.hosts:
            if (info is not None and info.behind and self.fleet is not None
                    and row.release_id == self.fleet.fleet_current):
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

    def current_on(self, release_id: str) -> list[str]:
        """The hosts on which release_id is current."""
        if self.fleet is None:
            return []
        return [h for h, info in self.fleet.hosts.items() if info.current == release_id]

    # -- actions: each asks by the one confirmation rule, then returns the operation ----
    def action_close(self) -> None:
        self.dismiss(None)

    def _ask(self, op: RollbackRequest | PruneRequest | DeleteRequest | CatchUpRequest,
             body: str) -> None:
        from deploytui.tui.deploy_flow import confirm_operation

        def chosen(ok: bool | None) -> None:
            if ok:
                self.dismiss(op)

        self.app.push_screen(confirm_operation(op, self.env, body), chosen)

    def action_rollback(self) -> None:
        release = self.selected
        if release is None or self.fleet is None:
            return
        hosts = self.current_on(release)
        if hosts and len(hosts) == len(self.fleet.listed_hosts()):
            self.notify(f"{release} is already current on every host: nothing to roll back",
                        severity="warning")
            return
        body = (f"Switch every host of {self.project}/{self.environment} to release\n"
                f"{release} and restart?")
        if self.fleet.behind_hosts():  # say what each host will do, the behind ones too
            from deploytui.engine import rollback_steps

            steps = rollback_steps({h: i.current for h, i in self.fleet.hosts.items()},
                                   release, self.fleet.position)
            body += "\n\n" + "\n".join(f"{h}: {step}" for h, step in steps.items())
        from deploytui.engine import migration_warnings

        pull = self.config.projects[self.project].strategy == "pull"  # as the CLI: none
        warnings = [] if pull else migration_warnings(self.fleet.scans.values(), release)
        if warnings:  # as the CLI says it: going back does not undo a migration
            body += "\n\n" + "\n".join(f"warning: {w}" for w in warnings)
        from deploytui.engine import rollback_env_lines

        current = next((i.current for i in self.fleet.hosts.values()
                        if i.current != release), None)  # as the CLI lists them
        body += "\n\nenv:\n" + "\n".join(
            f"  {line}" for line in rollback_env_lines(self.fleet.scans, current, release))
        self._ask(RollbackRequest(self.project, self.environment, release), body)

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
        self._ask(CatchUpRequest(self.project, self.environment, tuple(behind)),
                  f"Build release {release} on {', '.join(behind)} (behind: left out of its\n"
                  "deploy), switch and restart there? Up-to-date hosts are not touched.")

    def action_delete(self) -> None:
        release = self.selected
        if release is None:
            return
        if hosts := self.current_on(release):
            self.notify(f"{release} is current on {', '.join(hosts)}: it cannot be deleted",
                        severity="error")
            return
        self._ask(DeleteRequest(self.project, self.environment, release),
                  f"Delete release {release} from every host that keeps it?\n"
                  "This cannot be undone.")

    def action_prune(self, keep: int | None = None) -> None:
        self._status("computing what prune would remove…")
        self.prune_preview(keep)

    def action_prune_keep(self) -> None:
        """Prune keeping N releases per host, N asked (default: keep_releases)."""
        from deploytui.tui.screens.modals import NumberPrompt

        default = self.config.projects[self.project].keep_releases

        def chosen(keep: int | None) -> None:
            if keep is not None:
                self.action_prune(keep)

        self.app.push_screen(NumberPrompt(
            "Prune, keeping how many?", "Releases to keep per host (current and previous "
            "are always kept):", default), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="release-op")
    def prune_preview(self, keep: int | None = None) -> None:
        from deploytui.tui.operations import preview_prune

        try:
            preview = preview_prune(self.config, self.project, self.environment, keep)
            if preview.error and not preview.hosts:
                raise RuntimeError(preview.error)
        except Exception as exc:
            self.post_message(WorkerNote(f"prune preview failed: {error_line(exc)}"))
            return
        self.post_message(PrunePreviewed(preview, keep))

    def on_prune_previewed(self, message: PrunePreviewed) -> None:
        self._confirm_prune(message.preview, message.keep)

    def _confirm_prune(self, preview: PruneResult, keep: int | None = None) -> None:
        lines, total = prune_lines(preview)
        if not lines:
            self._status("nothing to prune")
            self.notify("Nothing to prune")
            return
        self._status("prune preview ready")
        kept = keep or self.config.projects[self.project].keep_releases
        self._ask(PruneRequest(self.project, self.environment, keep),
                  "\n".join([f"keeping {kept} release(s) per host:", *lines, "",
                             f"frees {human_bytes(total)}"]))


def prune_lines(result: PruneResult) -> tuple[list[str], int]:
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
