"""The release browser: releases x hosts, rollback, prune preview then prune, delete."""

from __future__ import annotations

import os

import pytest
from test_tui_support import (
    IDS,
    host_dir,
    open_browser,
    seed_releases,
    two_hosts_with_releases,
    wait_until,
)

from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import ConfirmModal, SummaryModal
from deploytui.tui.screens.release_browser import ReleaseBrowser

SIZE = (160, 48)
@pytest.fixture
def config(tmp_path, monkeypatch):
    return two_hosts_with_releases(tmp_path, monkeypatch, IDS)


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
        assert any("cannot be deleted" in n.message for n in app.notices)
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
        assert app.screen.heading == "Rollback succeeded", app.screen.lines
        for i in range(2):
            assert os.readlink(host_dir(config, i) / "current").endswith(IDS[-2])


async def test_the_rollback_confirmation_warns_about_a_migration_it_goes_back_past(config):
    from deploytui.engine.remote.layout import ReleaseMeta

    for i in range(2):  # the current release ran a migration when it was deployed
        meta_dir = host_dir(config, i) / ".deploytui" / "releases"
        meta_dir.mkdir(parents=True, exist_ok=True)
        meta = ReleaseMeta(IDS[-1], "ok", once=["python manage.py migrate"])
        (meta_dir / f"{IDS[-1]}.json").write_text(meta.to_json() + "\n")
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("j", "b")  # the previous release
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        assert (f"warning: {IDS[-1]} ran `python manage.py migrate`: the database may be "
                f"ahead of the code you are going back to ({IDS[-2]})") in body.replace("\n", " ")
        await pilot.press("escape")


async def test_rolling_back_to_the_release_already_current_is_refused_before_asking(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(app, pilot)
        await pilot.press("b")  # the cursor is on the newest release: current everywhere
        await pilot.pause()
        assert app.screen is browser  # no dialog: nothing to confirm
        assert "already current on every host" in app.notices[-1].message
        assert not app.runner.running


async def test_on_a_confirm_environment_rollback_prune_and_delete_need_its_name_typed(config):
    """One rule for every operation that changes servers, as the CLI's --yes/typed name."""
    prod = config.projects["demo"].environments["production"]
    for host in prod.hosts:
        seed_releases(host.deploy_to, IDS, IDS[-1])
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.select_environment("demo", "production")
        browser = await open_browser(app, pilot)
        for keys in (["j", "b"], ["j", "j", "j", "x"]):
            await pilot.press(*keys)
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            dialog = app.screen
            assert dialog.type_name == "production" and dialog.query_one("#yes").disabled
            assert dialog.focused is dialog.query_one("#confirm-name")
            await pilot.press(*"prod", "enter")  # wrong name: nothing happens, and it says why
            assert app.screen is dialog
            assert "type production exactly" in str(dialog.query_one("#confirm-why").render())
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is browser and not app.runner.running
            browser.query_one("#releases").move_cursor(row=0)


async def test_delete_from_the_console_is_journaled_like_the_cli(config):
    from deploytui.history import list_entries

    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(app, pilot)
        await pilot.press("j", "j", "j", "x")  # the oldest
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert app.screen.focused is app.screen.query_one("#no")  # Enter would back out
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert app.screen.heading == "Delete succeeded", app.screen.lines
        assert any(f"deleted release {IDS[0]}" in ln for ln in app.main.buffer.lines(None))
    entries = list_entries("demo", "staging")
    assert [(e.operation, e.outcome) for e in entries] == [("prune", "success")]


def test_an_unreachable_host_is_reported_as_cannot_reach_not_as_drift():
    from deploytui.engine.operations.releases import FleetReleases, HostReleases
    from deploytui.tui.screens.release_browser import drifted_hosts

    fleet = FleetReleases("demo", "staging", hosts={
        "web-1": HostReleases("web-1", current=IDS[-1]),
        "web-2": HostReleases("web-2", current=IDS[-1]),
        "web-3": HostReleases("web-3", error="cannot connect: Connection refused")})
    assert drifted_hosts(fleet) == set()


async def test_the_browser_says_cannot_reach_for_a_host_it_could_not_list(config, tmp_path):
    import dataclasses

    from deploytui.config.model import Host

    staging = config.projects["demo"].environments["staging"]
    gone = Host("staging-9", "127.0.0.1", port=1, roles=("web",))
    env = dataclasses.replace(staging, hosts=(*staging.hosts, gone))
    demo = dataclasses.replace(config.projects["demo"],
                               environments={**config.projects["demo"].environments,
                                             "staging": env})
    config = dataclasses.replace(config, projects={**config.projects, "demo": demo})
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(app, pilot)
        status = str(browser.query_one("#browser-status").render())
        assert "CANNOT REACH staging-9" in status
        assert "DRIFT: staging-9" not in status


async def test_at_80x24_the_browser_shows_each_release_state_and_every_host(config):
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await open_browser(app, pilot)
        table = browser.query_one("#releases")
        shown = [str(c.label) for c in table.columns.values()]
        assert shown[:4] == ["release", "state", "staging-1", "staging-2"]
        # those four fit in the 80 columns; the rest (sha, subject...) may scroll
        assert sum(c.get_render_width(table) for c in list(table.columns.values())[:4]) <= 78


async def test_prune_can_keep_a_chosen_number_of_releases(config):
    from deploytui.tui.screens.modals import NumberPrompt

    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_browser(app, pilot)
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, NumberPrompt))
        await pilot.press("backspace", "0", "enter")  # 0 is refused, with a reason
        assert isinstance(app.screen, NumberPrompt)
        assert "1 or more" in str(app.screen.query_one("#confirm-why").render())
        await pilot.press("backspace", "3", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        assert "keeping 3 release(s) per host" in body
        assert f"→ {IDS[0]}" in body and f"→ {IDS[1]}" not in body
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert sorted(os.listdir(host_dir(config, 0) / "releases")) == IDS[1:]


async def test_the_listing_reaches_the_browser_as_a_typed_message_from_its_worker(config):
    from deploytui.tui.messages import ReleasesListed

    seen: list[object] = []
    app = DeployConsole(config, load_status=False)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        browser = await open_browser(app, pilot)
        # the hook sees a message at each pump it reaches: one message, one listing
        listed = list({id(m): m for m in seen if isinstance(m, ReleasesListed)}.values())
        assert len(listed) == 1 and listed[0].fleet is browser.fleet
        assert [r.release_id for r in listed[0].fleet.releases] == sorted(IDS, reverse=True)
