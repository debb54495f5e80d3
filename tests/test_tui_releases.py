"""The release browser: releases x hosts, rollback, prune preview then prune, delete."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_tui_support import local_config, seed_releases

from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import ConfirmModal, SummaryModal
from deploytui.tui.screens.release_browser import ReleaseBrowser

SIZE = (160, 48)
IDS = ["20240101000000", "20240102000000", "20240103000000", "20240104000000"]


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    cfg = local_config(tmp_path, hosts=2)
    for host in cfg.projects["demo"].environments["staging"].hosts:
        seed_releases(host.deploy_to, IDS, IDS[-1])
    return cfg


def host_dir(config, i: int) -> Path:
    return Path(config.projects["demo"].environments["staging"].hosts[i].deploy_to)


async def wait_until(pilot, predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    # A screen is on the stack before it has composed and mounted its widgets.
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.1)


async def open_browser(app, pilot) -> ReleaseBrowser:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                     and app.screen.fleet is not None)
    return app.screen


async def test_r_lists_releases_by_host_with_current_and_previous_marked(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(app, pilot)
        table = browser.query_one("#releases")
        assert [k.value for k in table.rows] == sorted(IDS, reverse=True)
        assert str(table.get_cell(IDS[-1], "host:staging-1")).startswith("● current")
        assert str(table.get_cell(IDS[-2], "host:staging-2")).startswith("◐ previous")


async def test_drift_between_hosts_is_reported(config):
    current = host_dir(config, 1) / "current"
    current.unlink()
    current.symlink_to(host_dir(config, 1) / "releases" / IDS[0])
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(app, pilot)
        status = str(browser.query_one("#browser-status").render())
        assert "DRIFT" in status and "current differs between hosts" in status


async def test_prune_shows_what_would_go_and_the_bytes_then_deletes_only_after_confirm(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        # keep_releases=2: current and previous stay, the two oldest go, on both hosts
        assert f"staging-1 → {IDS[0]}" in body and f"staging-2 → {IDS[1]}" in body
        assert "frees" in body
        assert (host_dir(config, 0) / "releases" / IDS[0]).exists()  # dry run so far
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: not (host_dir(config, 0) / "releases" / IDS[0]).exists())
        await wait_until(pilot, lambda: not (host_dir(config, 1) / "releases" / IDS[1]).exists())
        assert sorted(os.listdir(host_dir(config, 0) / "releases")) == IDS[2:]


async def test_the_current_release_can_never_be_deleted(config):
    app = DeployConsole(config, load_status=False)
    app.NOTIFICATION_TIMEOUT = 600  # a loaded box must not let the warning expire unseen
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("x")  # cursor on the newest = current
        await pilot.pause()
        assert isinstance(app.screen, ReleaseBrowser)
        assert any("cannot be deleted" in n.message for n in app._notifications)
        assert (host_dir(config, 0) / "releases" / IDS[-1]).exists()


async def test_an_old_release_is_deleted_after_confirmation(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("j", "j", "j", "x")  # the oldest
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: not (host_dir(config, 1) / "releases" / IDS[0]).exists())
        assert (host_dir(config, 0) / "releases" / IDS[1]).exists()


async def test_rolling_back_to_the_selected_release_switches_every_host(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("j", "b")  # the previous release
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen._title == "Rollback succeeded", app.screen._lines
        for i in range(2):
            assert os.readlink(host_dir(config, i) / "current").endswith(IDS[-2])
