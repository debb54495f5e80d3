"""Errors that stay readable with their cause, and a console that says what it did:
notifications reopen, an unreachable host's reason is in its log pane, git's cause is
kept, `c` with nothing running answers, the environment is re-read and says when."""

from __future__ import annotations

import dataclasses

import pytest
from test_tui_support import local_config, seed_releases, wait_until

from deploytui.config.model import Host
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.notices import NoticesScreen
from deploytui.tui.widgets.hosts_table import HostsTable
from deploytui.tui.widgets.log_panel import LogPanel

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))




def with_staging_hosts(config, *hosts: Host, repo: str | None = None):
    demo = config.projects["demo"]
    staging = demo.environments["staging"]
    env = dataclasses.replace(staging, hosts=(*staging.hosts, *hosts))
    demo = dataclasses.replace(demo, environments={**demo.environments, "staging": env},
                               **({"repo": repo} if repo else {}))
    return dataclasses.replace(config, projects={**config.projects, "demo": demo})


async def test_a_plan_error_keeps_gits_cause_and_stays_in_the_notifications(
        tmp_path, monkeypatch):
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text("#!/bin/sh\necho 'ssh: Could not resolve hostname github.invalid:"
                        " Name or service not known' >&2\nexit 255\n")
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    config = with_staging_hosts(local_config(tmp_path), repo="git@github.invalid:acme/shop.git")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: any("cannot plan" in n.message for n in app.notices))
        error = next(n for n in app.notices if "cannot plan" in n.message)
        assert "ssh: Could not resolve hostname github.invalid" in error.message
        assert error.severity == "error"
        await pilot.press("n")  # long after the toast, the list reopens it
        await pilot.pause()
        assert isinstance(app.screen, NoticesScreen)
        assert "Could not resolve hostname" in str(app.screen.query_one("#body").render())


async def test_an_unreachable_hosts_reason_is_in_its_log_pane(tmp_path):
    gone = Host("staging-9", "127.0.0.1", port=1, roles=("web",))
    app = DeployConsole(with_staging_hosts(local_config(tmp_path), gone))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(HostsTable)
        await wait_until(pilot, lambda: str(table.get_cell("staging-9", "reach")) == "no")
        table.move_cursor(row=table.get_row_index("staging-9"))
        # the highlight reaches the main screen as a message bubbling up from the table
        await wait_until(pilot, lambda: app.query_one(LogPanel).host == "staging-9",
                         what="the log pane to show staging-9")
        lines = list(app.query_one(LogPanel).lines)
        assert any(ln.startswith("cannot reach staging-9:") for ln in lines), lines


async def test_c_with_nothing_running_says_so(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert app.notices and "nothing is running" in app.notices[-1].message


async def test_a_filter_that_matches_no_host_says_so(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"zzz")
        table = app.query_one(HostsTable)
        # the filter follows the typing a frame later: on a busy machine, later still
        await wait_until(pilot, lambda: "none match 'zzz'" in str(table.border_title))
        assert table.row_count == 0
        assert app.query_one(LogPanel).host == "staging-1", "the log keeps its host"


async def test_the_environment_is_re_read_periodically_and_says_when(tmp_path, monkeypatch):
    from deploytui.tui.screens import main

    monkeypatch.setattr(main, "REFRESH_EVERY", 0.5)
    config = local_config(tmp_path)
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(HostsTable)
        await wait_until(pilot, lambda: str(table.get_cell("staging-1", "reach")) == "yes")
        assert str(table.border_subtitle).startswith("read ")  # "read 10:57:05"
        # a deploy made elsewhere (the CLI): the console notices without ctrl+r
        seed_releases(config.projects["demo"].environments["staging"].hosts[0].deploy_to,
                      ["20250101000000"], "20250101000000")
        await wait_until(pilot, lambda: table.get_cell("staging-1", "release")
                         == "20250101000000")


def test_a_history_entry_without_a_host_log_says_so_in_words(tmp_path):
    from deploytui.history.journal import HostRecord, JournalEntry
    from deploytui.tui.screens.history import DeployLogScreen

    entry = JournalEntry(id=1, operation="rollback", project="demo", environment="staging",
                         strategy="release", ref="", sha="", release_id="20250101000000",
                         user="ana@laptop", machine="laptop", pid=1, started=0.0,
                         finished=1.0, duration=1.0, outcome="failed", error="",
                         log_dir=tmp_path / "missing",
                         hosts={"local1": HostRecord(outcome="failed")})
    lines = DeployLogScreen(entry, 100).log_lines()
    assert "(no log was kept for local1: the rollback ended before this host ran any step)" \
        in lines
    assert not any("Errno" in ln for ln in lines)
