"""What keeps the console responsive under a log flood and quick to start with big configs."""

from __future__ import annotations

import gc
import threading

import pytest
from test_tui_support import local_config

from deploytui.config import load_config_text, yamlnodes
from deploytui.engine.events import DeployStarted, HostFailed, HostLine, HostStepStarted
from deploytui.tui import app as app_module
from deploytui.tui.app import DeployConsole
from deploytui.tui.widgets import hosts_table as hosts_table_module
from deploytui.tui.widgets.hosts_table import HostsTable

SIZE = (160, 48)
HOSTS = ("staging-1", "staging-2", "staging-3")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def _last(table: HostsTable, host: str) -> str:
    return str(table.get_cell(host, "last"))


class _Running:
    """Makes the console believe an operation runs (a parked thread) until stopped."""

    def __init__(self, app: DeployConsole) -> None:
        self.stop = threading.Event()
        app.runner.thread = threading.Thread(target=self.stop.wait, daemon=True)
        app.runner.thread.start()


async def test_a_host_cell_is_only_rewritten_when_what_it_shows_changes(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.buffer(HostLine("staging-1", "same line"))
        app.main.tick()
        table = app.query_one(HostsTable)
        before = table._update_count
        app.buffer(HostLine("staging-1", "same line"))
        app.main.tick()
        assert table._update_count == before  # no update: no re-render of the table


async def test_host_output_in_the_table_is_shown_verbatim_never_as_markup(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.buffer(HostLine("staging-1", "[bold red]not markup[/] [link=x]"))
        app.main.tick()
        assert _last(app.query_one(HostsTable), "staging-1") == (
            "[bold red]not markup[/] [link=x]")


async def test_during_an_operation_last_output_is_throttled_but_failures_show_at_once(
        tmp_path, monkeypatch):
    monkeypatch.setattr(hosts_table_module, "TABLE_INTERVAL", 3600.0)
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        running = _Running(app)
        app.buffer(DeployStarted(operation="deploy", project="demo", environment="staging",
                                 hosts=HOSTS, user="u@m"))
        for host in HOSTS:
            app.buffer(HostStepStarted(host, "prepare", "build"))
            app.buffer(HostLine(host, "first"))
        app.main.tick()  # the first refresh is never throttled
        table = app.query_one(HostsTable)
        assert _last(table, "staging-1") == "first"
        app.buffer(HostLine("staging-1", "second"))
        app.buffer(HostFailed("staging-2", "prepare", "build", "exit status 1"))
        app.main.tick()
        assert _last(table, "staging-1") == "first"  # within the interval
        assert str(table.get_cell("staging-2", "status")).startswith("failed")
        assert _last(table, "staging-2") == "exit status 1"
        running.stop.set()
        app.runner.thread.join()
        app.main.tick()  # the operation ended: nothing stays stale
        assert _last(table, "staging-1") == "second"


async def test_the_start_up_heap_is_frozen_out_of_garbage_collection_after_the_first_frame(
        tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app_module._frozen
        assert gc.get_freeze_count() > 0


def _big_yaml(projects: int = 3, envs: int = 2, hosts: int = 4) -> str:
    out = ["ssh:", "  connect_timeout: 2", "projects:"]
    for p in range(projects):
        out += [f"  p{p}:", f"    repo: 'git@example.invalid:t/p{p}.git'",
                f"    deploy_to: /srv/p{p}", "    build: [make, \"echo 'x'\"]",
                "    roles:", "      web: {restart: [sh restart.sh]}", "    environments:"]
        for e in range(envs):
            out += [f"      e{e}:", "        hosts:"]
            out += [f"          h{p}{e}{h}: {{address: 10.0.{e}.{h + 1}, port: 22, roles: [web]}}"
                    for h in range(hosts)]
    return "\n".join(out) + "\n"


def test_a_valid_config_reads_the_same_through_libyaml_as_through_pure_python(monkeypatch):
    text = _big_yaml()
    fast = load_config_text(text, "deploytui.yml")
    monkeypatch.setattr(yamlnodes, "_C_LOADER", None)
    slow = load_config_text(text, "deploytui.yml")
    assert fast == slow


def test_a_broken_config_is_reported_by_the_pure_python_parser_with_its_usual_message():
    tree, problems = yamlnodes.parse_yaml("a: [1, 2\nb: 3\n", "deploytui.yml")
    tree_slow = problems_slow = None
    saved = yamlnodes._C_LOADER
    try:
        yamlnodes._C_LOADER = None
        tree_slow, problems_slow = yamlnodes.parse_yaml("a: [1, 2\nb: 3\n", "deploytui.yml")
    finally:
        yamlnodes._C_LOADER = saved
    assert tree is None and problems and problems == problems_slow and tree_slow is None
