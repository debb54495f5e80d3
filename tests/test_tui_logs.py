"""The console's logs view (`L`), driven with the pilot against the real sshd fleet, and
its SVG snapshot at 80x24 from fixed events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from fleet import Fleet
from log_hosts import LOG, eventually, tails_on, write_log
from test_tui_support import local_config

from deploytui.config import load_config_text
from deploytui.config.model import Config, Role
from deploytui.engine.events import HostLines, LogFollow, Sink
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.logs import LogsScreen, stop_followers
from deploytui.tui.widgets.log_panel import LogPanel


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def fleet_config(hosts: Fleet, n: int = 2, **role: object) -> Config:
    roles = {"web": {"restart": ["true"], **(role or {"logs": [LOG]})}}
    return load_config_text(json.dumps(hosts.config(n, roles=roles)), "t.yml")


async def until(pilot, check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the console")
        await pilot.pause(0.05)


async def test_l_follows_every_hosts_log_with_pause_filter_one_host_and_closes_clean(
        hosts: Fleet):
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["h1 INFO started"])
    write_log(h2, ["h2 INFO started"])
    app = DeployConsole(fleet_config(hosts), "deploytui-dark", load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        log = screen.query_one(LogPanel)

        def shown() -> list[str]:
            return [ln.split("│ ", 1)[-1] for ln in log.lines]

        await until(pilot, lambda: {"h1 INFO started", "h2 INFO started"} <= set(shown()))
        assert any(ln.startswith("host1") for ln in log.lines)  # all hosts, prefixed
        write_log(h1, ["h1 ERROR boom"])
        await until(pilot, lambda: "h1 ERROR boom" in shown())

        await pilot.press("f")
        assert log.border_subtitle == "paused"
        await pilot.press("f")
        assert log.border_subtitle == "follow"

        await pilot.press("slash", *"ERROR", "enter")
        assert shown() == ["h1 ERROR boom"]
        write_log(h2, ["h2 ERROR late", "h2 INFO quiet"])
        await until(pilot, lambda: "h2 ERROR late" in shown())
        assert "h2 INFO quiet" not in shown()

        screen.query_one("#log-hosts").focus()
        await pilot.press("down", "enter")  # host2 only
        assert log.host == "host2" and shown() == ["h2 ERROR late"]
        await pilot.press("a")
        assert log.host is None

        assert eventually(lambda: bool(tails_on(h1) and tails_on(h2)))
        await pilot.press("escape")
        assert app.screen is app.main
        await asyncio.get_running_loop().run_in_executor(None, stop_followers, 15.0)
        assert tails_on(h1) == [] and tails_on(h2) == []


async def test_a_host_that_drops_out_shows_as_lost_and_then_following_again(hosts: Fleet):
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["one"])
    write_log(h2, ["two"])
    app = DeployConsole(fleet_config(hosts), "deploytui-dark", load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        table = screen.query_one("#log-hosts")

        def state(host: str) -> str:
            return str(table.get_cell(host, "state"))

        await until(pilot, lambda: state("host2") == "following")
        h2.kill()
        await until(pilot, lambda: state("host2") == "lost")
        await asyncio.get_running_loop().run_in_executor(None, h2.restart)
        await until(pilot, lambda: state("host2") == "following", timeout=30)
        await pilot.press("escape")
    await asyncio.get_running_loop().run_in_executor(None, stop_followers, 15.0)


async def test_an_environment_without_logs_says_so_instead_of_opening_an_empty_view(
        tmp_path: Path):
    app = DeployConsole(local_config(tmp_path), "deploytui-dark", load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        assert app.screen is app.main
        assert "no logs configured in demo/staging" in app.notices[-1].message


def fixed_view() -> tuple[DeployConsole, LogsScreen]:
    """The logs view of the demo's staging, fed fixed events (no hosts reached)."""
    from deploytui.engine.operations.logs import LogsRequest

    base = local_config(Path("/srv/snapshots"), deploy_root=Path("/srv/snapshots"))
    demo = base.projects["demo"]
    demo.roles["web"] = Role("web", logs=("log/app.log",))
    app = DeployConsole(base, "deploytui-dark", clock=lambda: 0.0, load_status=False)

    def fixed(sink: Sink, cancel: threading.Event) -> None:
        for i in (1, 2, 3):
            host = f"staging-{i}"
            sink(LogFollow(host=host, state="following"))
            sink(HostLines(host=host, lines=(f"GET /health 200 ({i}ms)",
                                              f"worker {i} ready")))
        sink(LogFollow(host="staging-3", state="lost", text="lost connection; retrying"))
        cancel.wait()

    request = LogsRequest(demo, demo.environments["staging"], follow=True)
    return app, LogsScreen(base, request, ["staging-1", "staging-2", "staging-3"],
                           follow=fixed)


def test_logs_view_snapshot_at_80x24(snap_compare):
    app, view = fixed_view()

    async def open_view(pilot) -> None:
        app.push_screen(view)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_view)
