"""Unknown host keys over real SSH: the console asks, shows the fingerprint, and only an
accepted key is written to known_hosts (then the host is reached)."""

from __future__ import annotations

import json
import time

import pytest

from deploytui.config import load_config_text
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import HostKeyModal
from deploytui.tui.widgets.hosts_table import HostsTable

SIZE = (160, 48)


@pytest.fixture
def setup(hosts, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    data = hosts.config(hosts=2)
    lines = hosts.known_hosts.read_text().splitlines()
    missing = hosts.hosts[1]
    tag = f"[{missing.address}]:{missing.port}" if missing.port != 22 else missing.address
    partial = tmp_path / "known_hosts"
    partial.write_text("".join(ln + "\n" for ln in lines if not ln.startswith(tag + " ")))
    data["ssh"]["known_hosts"] = str(partial)
    return load_config_text(json.dumps(data), "test.yml"), partial, missing


async def wait_until(pilot, predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    # A screen is on the stack before it has composed and mounted its widgets.
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.1)


async def test_accepting_an_unknown_host_key_writes_it_and_reconnects(setup):
    config, known_hosts, missing = setup
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HostKeyModal))
        body = str(app.screen.query_one("#body").render())
        assert missing.name in app.screen.heading and "SHA256:" in body
        table = app.query_one(HostsTable)
        assert str(table.get_cell(missing.name, "reach")) == "no"
        await pilot.press("tab", "enter")  # "Accept key" is never focused by default
        await wait_until(pilot, lambda: str(table.get_cell(missing.name, "reach")) == "yes")
        assert str(missing.port) in known_hosts.read_text()


async def test_rejecting_an_unknown_host_key_leaves_known_hosts_alone(setup):
    config, known_hosts, missing = setup
    before = known_hosts.read_text()
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HostKeyModal))
        await pilot.press("enter")  # the focused button is Cancel
        await pilot.pause()
        assert not isinstance(app.screen, HostKeyModal)
        assert str(app.query_one(HostsTable).get_cell(missing.name, "reach")) == "no"
    assert known_hosts.read_text() == before
