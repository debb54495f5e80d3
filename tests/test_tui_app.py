"""The console's main screen: projects, hosts, logs, filter, keys (local hosts, no server)."""

from __future__ import annotations

import time

import pytest
from test_tui_support import local_config, seed_releases, wait_until

from deploytui.engine.events import HostLine
from deploytui.tui.app import DeployConsole
from deploytui.tui.widgets.hosts_table import HostsTable
from deploytui.tui.widgets.log_panel import LogPanel

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_console_opens_on_the_first_project_and_environment(tmp_path):
    config = local_config(tmp_path)
    seed_releases(config.projects["demo"].environments["staging"].hosts[0].deploy_to,
                  ["20240101000000"], "20240101000000")
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert (app.main.project, app.main.environment) == ("demo", "staging")
        table = app.query_one(HostsTable)
        assert table.hosts == ["staging-1", "staging-2", "staging-3"]
        assert str(table.get_cell("staging-1", "reach")) == "yes"
        assert table.get_cell("staging-1", "release") == "20240101000000"
        assert "demo / staging" in app.sub_title


async def test_choosing_another_environment_shows_only_its_hosts(tmp_path):
    app = DeployConsole(local_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.main.select_environment("demo", "production")
        await settle(app, pilot)
        assert app.query_one(HostsTable).hosts == ["production-1", "production-2"]
        assert app.query_one(HostsTable).row_count == 2


async def test_the_log_shows_the_selected_host_or_all_hosts_with_prefixes(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.buffer(HostLine("staging-1", "hello from one"))
        app.buffer(HostLine("staging-2", "hello from two"))
        app.runner.thread = None
        app.main.tick()
        log = app.query_one(LogPanel)
        app.main._show_log()
        assert log.host == "staging-1"
        assert list(log.lines) == ["hello from one"]
        await pilot.press("a")
        assert log.host is None
        assert [ln.split("│")[0].strip() for ln in log.lines] == ["staging-1", "staging-2"]


async def _console_with_fruit(tmp_path, pilot, app) -> None:
    await pilot.pause()
    for host in ("staging-1", "staging-2"):
        app.buffer(HostLine(host, f"{host} says apple"))
        app.buffer(HostLine(host, f"{host} says pear"))
    app.main.tick()


async def test_slash_on_the_hosts_filters_host_rows_and_leaves_the_log_whole(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await _console_with_fruit(tmp_path, pilot, app)
        table, log = app.query_one(HostsTable), app.query_one(LogPanel)
        table.focus()
        await pilot.press("a", "slash", *"2")
        assert [r.value for r in table.rows] == ["staging-2"]
        assert "matching '2'" in str(table.border_title)
        assert len(log.lines) == 4, "finding a host hides none of the log"
        await pilot.press("escape")
        assert table.row_count == 3
        assert app.query_one("#filter").display is False
        assert table.has_focus


async def test_slash_in_the_log_filters_its_lines_and_leaves_the_hosts_whole(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await _console_with_fruit(tmp_path, pilot, app)
        table, log = app.query_one(HostsTable), app.query_one(LogPanel)
        await pilot.press("a")
        log.focus()
        await pilot.press("slash", *"pear")
        assert [ln.split("│")[1].strip() for ln in log.lines] == [
            "staging-1 says pear", "staging-2 says pear"]
        assert "lines with 'pear'" in str(log.border_title)
        assert table.row_count == 3, "searching the log hides no host"
        await pilot.press("enter")  # kept: the box closes, the focus goes back to the log
        assert app.query_one("#filter").display is False and log.has_focus
        await pilot.press("slash")
        assert app.query_one("#filter").value == "pear"  # the log's filter, to edit
        await pilot.press("escape")
        assert len(log.lines) == 4 and "lines with" not in str(log.border_title)


async def test_f_toggles_follow_mode(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(LogPanel)
        assert log.follow
        await pilot.press("f")
        assert not log.follow and log.border_subtitle == "paused"
        await pilot.press("f")
        assert log.follow


async def test_keys_are_remapped_from_the_config_by_binding_id(tmp_path):
    app = DeployConsole(local_config(tmp_path, keys={"history": "H", "nope": "z"}),
                        load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("H")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "MainScreen"


async def test_help_lists_every_binding_with_its_id(tmp_path):
    app = DeployConsole(local_config(tmp_path, keys={"deploy": "D"}), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = str(app.screen.query_one("#help-keys").render())
        rows = [line.split() for line in text.splitlines()]
        assert ["console", "D", "Deploy", "deploy"] in rows


async def test_the_command_palette_offers_actions_environments_and_themes(tmp_path):
    from deploytui.tui.commands import ConsoleCommands

    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = ConsoleCommands(app.screen)
        labels = [label for label, _, _ in provider._commands()]
        assert "Deploy the selected environment" in labels
        assert "Open shop / qa" in labels
        assert "Theme: deploytui-high-contrast" in labels


async def test_q_quits_when_nothing_runs(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0


async def test_at_80x24_the_footer_keeps_help_and_quit_and_the_hosts_keep_last_output(
        tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        def footer() -> set[tuple[str, str]]:
            return {(w.key_display, w.description) for w in app.screen.query("FooterKey")
                    if w.region and w.region.right <= 80}

        deadline = time.monotonic() + 20
        while not {("?", "Help"), ("q", "Quit")} <= footer():  # laid out under load too
            assert time.monotonic() < deadline, footer()
            await pilot.pause(0.1)
        table = app.query_one(HostsTable)
        shown = [str(c.label) for c in table.columns.values()]
        assert shown[:2] == ["host", "status"] and "last output" in shown
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= (
            table.scrollable_content_region.width)


async def test_at_80x24_help_scrolls_to_its_last_key(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        # laid out: before that a body has no height, and nothing to scroll
        await wait_until(pilot, lambda: any(b.max_scroll_y > 0 for b in
                                            app.screen.query("#dialog-body")),
                         what="the help to be laid out, taller than 24 lines")
        body = app.screen.query_one("#dialog-body")
        await pilot.press("end")  # Textual scrolls after the next refresh
        await wait_until(pilot, lambda: body.scroll_y == body.max_scroll_y,
                         what="End to scroll to the bottom")
        assert "Scroll a dialog" in str(app.screen.query_one("#help-keys").render())


async def test_each_operation_starts_with_a_separator_line_in_the_log(tmp_path):
    from deploytui.engine.events import DeployStarted

    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.buffer(HostLine("staging-1", "from the last deploy"))
        app.main.tick()
        app.buffer(DeployStarted(operation="deploy", project="demo", environment="staging",
                                 hosts=("staging-1",), user="ana@laptop"))
        app.buffer(HostLine("staging-1", "from this deploy"))
        app.main.tick()
        lines = list(app.query_one(LogPanel).lines)
        assert lines[0] == "from the last deploy" and lines[-1] == "from this deploy"
        assert lines[1].startswith("──── deploy demo/staging by ana@laptop")
