"""Named commands from the console: `x` picks one, the palette lists them, `confirm: true`
asks first; the output fills the per-host log panels. On local hosts with the real
engine; `s` (a shell) needs a real terminal: tests/test_tui_shell.py runs it in tmux."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_tui_support import local_config, run_from_palette, seed_releases, wait_until

from deploytui.config.model import Config, NamedCommand
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.command_picker import CommandPicker
from deploytui.tui.screens.modals import ConfirmModal
from deploytui.tui.widgets.hosts_table import HostsTable
from deploytui.tui.widgets.log_panel import LogPanel

SMALL = (80, 24)
RID = "20261201000001"


def with_commands(config: Config) -> Config:
    demo = config.projects["demo"]
    commands = {
        "where": NamedCommand("where", "echo on $DEPLOYTUI_HOST in $PWD", "all"),
        "touch": NamedCommand("touch", "touch $DEPLOYTUI_DEPLOY_TO/touched", "once",
                              confirm=True)}
    return replace(config, projects={**config.projects,
                                     "demo": replace(demo, commands=commands)})


@pytest.fixture
def config(tmp_path, monkeypatch) -> Config:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    config = with_commands(local_config(tmp_path))
    for host in config.projects["demo"].environments["staging"].hosts:
        seed_releases(host.deploy_to, [RID], RID)
    return config


async def ran(app, pilot) -> None:
    """The command ran and its end was announced: the UI tick that announces it has drained
    every line before it (the engine's last event)."""
    await wait_until(pilot, lambda: not app.runner.running and any(
        n.message.startswith("Run ") for n in app.notices), what="the command's end")


async def test_x_picks_a_named_command_and_its_output_fills_every_hosts_log(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPicker))
        await pilot.press("enter")  # the first: where (all hosts)
        await ran(app, pilot)
        lines = list(app.query_one(LogPanel).lines)
        for i in (1, 2, 3):
            release = config.projects["demo"].environments["staging"].hosts[i - 1].deploy_to
            assert any(f"staging-{i}" in ln and f"on staging-{i} in {release}/current" in ln
                       for ln in lines), lines
        assert app.runner.result.ok
        assert {h: s.status for h, s in app.buffer.states().items()} == {
            "staging-1": "done", "staging-2": "done", "staging-3": "done"}
        table = app.query_one(HostsTable)
        # one host's own log shows its own output
        await pilot.press("a")
        table.focus()
        await pilot.pause()
        assert app.query_one(LogPanel).host == "staging-1"
        assert any("on staging-1 in" in ln for ln in app.query_one(LogPanel).lines)


async def test_a_confirm_command_asks_first_and_back_runs_nothing(config, tmp_path):
    app = DeployConsole(config, load_status=False)
    touched = tmp_path / "srv" / "staging" / "h1" / "touched"
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPicker))
        await pilot.press("down", "enter")  # touch: confirm: true
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("enter")  # Back is focused: a reflexive Enter runs nothing
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        await pilot.pause()  # the dialog's answer reached the main screen
        assert not app.runner.running and app.runner.result is None
        assert not touched.exists()
        app.main.run_named("touch")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.click("#yes")
        await ran(app, pilot)
        assert touched.exists()  # on the once-host only
        assert not (tmp_path / "srv" / "staging" / "h2" / "touched").exists()


async def test_the_palette_lists_the_projects_commands(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SMALL) as pilot:
        await run_from_palette(pilot, "Run where")
        await ran(app, pilot)
        assert any("on staging-2 in" in ln for ln in app.query_one(LogPanel).lines)


async def test_a_project_without_commands_says_how_to_add_them(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SMALL) as pilot:
        app.main.select_environment("shop", "qa")
        await pilot.press("x")
        await wait_until(pilot, lambda: app.notices, what="a notice")
        assert not isinstance(app.screen, CommandPicker)
        assert "no commands in project shop" in app.notices[-1].message


async def test_s_on_a_console_without_a_terminal_says_so_in_one_line(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: any("terminal here" in n.message or "ended" in
                                            n.message for n in app.notices))
        assert any("cannot open a terminal here" in n.message for n in app.notices), \
            [n.message for n in app.notices]


def test_command_picker_snapshot(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    from pathlib import Path

    fixed = Path("/srv/snapshots")
    app = DeployConsole(with_commands(local_config(fixed, deploy_root=fixed)),
                        "deploytui-dark", clock=lambda: 0.0, load_status=False)
    assert snap_compare(app, terminal_size=SMALL, press=["x"])
