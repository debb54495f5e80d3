"""Deploying from the console: plan, confirm (by typing for production), live status,
cancel, outcome summary — on local hosts with the real engine and a real sample repo."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from test_tui_support import local_config, wait_until

from deploytui.sample_app import create_sample_repo
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import ConfirmModal, SummaryModal
from deploytui.tui.screens.plan import PlanScreen
from deploytui.tui.widgets.deploy_bar import DeployBar
from deploytui.tui.widgets.hosts_table import HostsTable
from deploytui.tui.widgets.log_panel import LogPanel

SIZE = (160, 48)


@pytest.fixture
def config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    repo = create_sample_repo(tmp_path / "repo")
    return local_config(tmp_path, str(repo))




async def open_plan(app, pilot) -> PlanScreen:
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
    return app.screen


def current_of(config, env: str, host: int) -> str:
    link = Path(config.projects["demo"].environments[env].hosts[host].deploy_to) / "current"
    return os.path.basename(os.readlink(link))


async def test_while_the_plan_is_read_the_bar_says_so_and_clears_when_the_plan_opens(
        config, monkeypatch):
    # The real plan, held back until the test has looked (a real fleet takes seconds).
    import deploytui.engine as engine  # the console's way in: its front door

    go_on, real = threading.Event(), engine.build_plan

    def held_back(*args, **kwargs):
        go_on.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "build_plan", held_back)
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        bar = app.query_one(DeployBar)
        assert not bar.display  # nothing has run yet
        await pilot.press("d")
        await pilot.pause()
        assert bar.display
        assert str(bar.query_one("#phase-label").render()) == "planning…"
        go_on.set()
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        assert not bar.display  # as before the plan: no leftover over the main screen

        await pilot.press("enter")  # deploy it: the bar then tells how it ended
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        assert str(bar.query_one("#phase-label").render()) == "done"
        go_on.clear()
        await pilot.press("d")
        await pilot.pause()
        assert str(bar.query_one("#phase-label").render()) == "planning…"
        go_on.set()
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        assert bar.display and str(bar.query_one("#phase-label").render()) == "done"


async def test_d_shows_the_plan_then_deploys_every_host_and_announces_success(config):
    app = DeployConsole(config)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        plan = await open_plan(app, pilot)
        text = str(plan.query_one("#plan-text").render())
        assert "release" in text and "role     web: staging-1, staging-2, staging-3" in text
        assert "now      nothing deployed yet" in text  # a first deploy says so
        assert not plan.needs_typing
        await pilot.press("enter")  # Deploy is focused on a non-confirm environment
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Deploy succeeded"
        table = app.query_one(HostsTable)
        for host in table.hosts:
            assert str(table.get_cell(host, "status")).startswith("done")
        release = plan.plan.release_id
        assert all(current_of(config, "staging", i) == release for i in range(3))
        host = config.projects["demo"].environments["staging"].hosts[0]
        revisions = (Path(host.deploy_to) / "revisions.log").read_text()
        # the planned commit is deployed, and the log still names the branch
        assert f"Branch main (at {plan.plan.sha}) deployed as release {release}" in revisions
        log = app.query_one(LogPanel)
        assert any("Building sample app" in ln for ln in log.lines)
        await pilot.press("escape")
        # the status read the summary started reaches the table and the header
        await wait_until(pilot, lambda: table.get_cell("staging-1", "release") == release,
                         what="the hosts table to show the new release")
        assert release in app.sub_title


async def test_production_needs_its_name_typed_before_deploy_is_enabled(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.select_environment("demo", "production")
        plan = await open_plan(app, pilot)
        button = plan.query_one("#yes")
        assert plan.needs_typing and button.disabled
        await pilot.press(*"prod")
        assert button.disabled
        await pilot.press(*"uction")
        assert not button.disabled
        await pilot.press("escape")
        await pilot.pause()
        assert not app.runner.running  # escape cancels: nothing deployed
        assert not (Path(config.projects["demo"].environments["production"].hosts[0]
                         .deploy_to) / "current").exists()


async def test_cancel_asks_first_then_stops_the_deploy_before_the_switch(config, tmp_path):
    # long enough to outlast the test's keys on a busy machine; the Stop ends it anyway
    (tmp_path / "home" / ".deploytui-slow-build").write_text("120\n")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.runner.running and any(
            s.phase == "prepare" for s in app.buffer.states().values()))
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        labels = [str(b.label) for b in app.screen.query("Button")]
        assert labels == ["Keep deploying", "Stop the deploy"]  # each says what it does
        await pilot.press("enter")  # a reflexive Enter keeps the deploy running
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal) and app.runner.running
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")  # Escape backs out too
        await pilot.pause()
        assert app.runner.running and not app.runner.cancel_event.is_set()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("tab", "enter")  # "Stop the deploy"
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal), timeout=30)
        assert app.screen.heading == "Deploy cancelled"
        label = str(app.main.query_one("#phase-label").render())
        assert label.startswith("cancelled") and "barrier" not in label, label
        assert app.main.query_one("#phase-progress").percentage < 1.0
        for i in range(3):
            assert not (Path(config.projects["demo"].environments["staging"].hosts[i]
                             .deploy_to) / "current").exists()


async def test_a_failed_host_is_sorted_to_the_top_and_listed_first(config, tmp_path):
    (tmp_path / "home" / ".deploytui-fail-build").write_text("")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Deploy failed"
        hosts = [ln for ln in app.screen.lines[1:] if not ln.startswith("error:")]
        marks = [ln[0] for ln in hosts]
        assert marks[0] == "✗" and marks == sorted(marks, key=lambda m: m != "✗"), hosts
        failed = {ln.split()[1].rstrip(":") for ln in hosts if ln.startswith("✗")}
        assert failed == app.main.failed_hosts and failed
        table = app.query_one(HostsTable)
        first = table.coordinate_to_cell_key((0, 0)).row_key.value
        assert str(table.get_cell(first, "status")).startswith("failed")


async def test_quitting_during_a_deploy_asks_and_cancels_it(config, tmp_path):
    (tmp_path / "home" / ".deploytui-slow-build").write_text("20\n")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.runner.running)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert app.runner.running  # asking did not stop anything yet
        app.screen.query_one("#yes").press()
        # the dialog's answer reaches the main screen, which exits with 130
        await wait_until(pilot, lambda: app.return_value is not None, what="the exit")
    assert app.return_value == 130
    app.runner.join(45)
    assert not app.runner.running


async def test_history_lists_the_deploy_and_enter_opens_its_per_host_logs(config):
    from textual.widgets import Log

    from deploytui.tui.screens.history import DeployLogScreen, HistoryScreen

    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        await pilot.press("escape", "h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                         and app.screen.entries)
        table = app.screen.query_one("#history")
        row = [str(c) for c in table.get_row_at(0)]
        assert row[1:4] == ["deploy", "demo/staging", "success"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DeployLogScreen)
                         and len(app.screen.query_one(Log).lines) > 3)
        lines = list(app.screen.query_one(Log).lines)
        assert any(ln.startswith("── staging-1 · success") for ln in lines)
        assert any("Building sample app" in ln for ln in lines)


async def test_a_secret_missing_from_the_keyring_is_asked_once_and_never_shown(
        config, monkeypatch):
    import dataclasses

    from deploytui.config.model import SecretRef
    from deploytui.tui.screens.modals import SecretPromptModal

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("DEPLOYTUI_SECRET_DEMO_TOKEN", raising=False)
    demo = dataclasses.replace(
        config.projects["demo"], env={"API_TOKEN": SecretRef("demo-token")},
        build=("sh build.sh", 'echo "token is $API_TOKEN"'))
    config = dataclasses.replace(config, projects={**config.projects, "demo": demo})
    secret = "tok-5e3a9c1f77"
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretPromptModal))
        app.screen.query_one("#secret").value = secret
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Deploy succeeded"
        lines = app.query_one(LogPanel).lines
        assert any("token is ****" in ln for ln in lines)
        assert not any(secret in ln for ln in lines)


async def test_a_deploy_stopped_by_a_lock_offers_to_wait_for_it_then_deploys(config):
    import argparse
    import threading

    from deploytui.commands import lock

    def by_hand(command: str) -> int:
        return lock.run(argparse.Namespace(project="demo", env="staging", command=command),
                        config)

    assert by_hand("lock") == 0  # someone holds staging (this process: a live lock)
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_plan(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal)
                         and "Locked" in app.screen.heading)
        assert app.screen.focused is app.screen.query_one("#no")  # waiting is a choice
        assert "locked by" in str(app.screen.query_one("#body").render())  # who holds it
        assert not any(isinstance(s, SummaryModal) for s in app.screen_stack)
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: app.runner.running)
        threading.Timer(1.0, by_hand, args=("unlock",)).start()
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal)
                         and app.screen.heading == "Deploy succeeded", timeout=60)
    assert current_of(config, "staging", 0)


def test_stop_it_and_quit_ends_only_once_every_host_is_unlocked(hosts, tmp_path,
                                                                 monkeypatch):
    """The operation runs on its own thread; quitting stops it, and run_console returns
    only after its cleanup (unfinished releases removed, locks released), which over SSH
    takes round trips: returning at once left every host locked."""
    import json

    from deploytui.config import load_config_text
    from deploytui.tui.app import run_console

    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    config = load_config_text(json.dumps(hosts.config(3, build=["sleep 30"])), "fleet.yml")
    seen: dict[str, bool] = {}

    async def stop_and_quit(pilot) -> None:
        app = pilot.app
        await open_plan(app, pilot)
        await wait_until(pilot, lambda: app.screen.query_one("#yes").display)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.runner.running and any(
            s.phase == "prepare" for s in app.buffer.states().values()))
        seen["locked"] = all(h.path("/srv/app/.deploytui/lock").exists()
                             for h in hosts.hosts[:3])
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        app.screen.query_one("#yes").press()

    assert run_console(config, headless=True, size=SIZE, auto_pilot=stop_and_quit) == 130
    assert seen["locked"]
    for host in hosts.hosts[:3]:  # read the moment run_console returned
        assert not host.path("/srv/app/.deploytui/lock").exists(), host.name
        assert list(host.path("/srv/app/releases").iterdir()) == [], host.name


@pytest.mark.parametrize("verb", ["prune", "delete"])
async def test_stop_ends_a_prune_or_delete_that_waits_for_a_lock(config, verb):
    """The lock offer waits up to five minutes; Stop must end a prune or a delete too,
    and the console learns the outcome from the result its message carries."""
    import argparse

    from deploytui.commands import lock
    from deploytui.engine import DeleteRequest, PruneRequest
    from deploytui.tui.messages import OperationEnded

    def by_hand(command: str) -> int:
        return lock.run(argparse.Namespace(project="demo", env="staging", command=command),
                        config)

    assert by_hand("lock") == 0
    ended: list[OperationEnded] = []
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE, message_hook=lambda m: isinstance(
            m, OperationEnded) and ended.append(m)) as pilot:
        op = (PruneRequest("demo", "staging", keep=1, wait_lock=300) if verb == "prune"
              else DeleteRequest("demo", "staging", "20240101000000", wait_lock=300))
        app.main.start(op)
        await wait_until(pilot, lambda: app.runner.running)
        await pilot.pause(1.0)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("tab", "enter")  # "Stop the prune"
        await wait_until(pilot, lambda: not app.runner.running and ended, timeout=20,
                         what="the stopped operation")
    assert ended[0].result is app.runner.result
    assert app.runner.result.outcome == "cancelled"
    assert by_hand("unlock") == 0
