"""Themes are data files, registered at start, switchable, remembered; broken ones skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import local_config, run_from_palette, wait_until

from deploytui.tui import themes
from deploytui.tui.app import DeployConsole

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def test_three_builtin_themes_ship_as_data_and_the_top_level_folder_matches_them():
    shipped = {p.name: p.read_bytes() for p in themes.builtin_dir().glob("*.yml")}
    assert {"deploytui-dark.yml", "deploytui-light.yml",
            "deploytui-high-contrast.yml"} <= set(shipped)
    top = {p.name: p.read_bytes() for p in (REPO / "themes").glob("*.yml")}
    assert top == shipped
    loaded, errors = themes.load_themes([themes.builtin_dir()])
    assert errors == []
    assert {t.name for t in loaded} >= {"deploytui-dark", "deploytui-light",
                                        "deploytui-high-contrast"}


def test_a_broken_theme_file_is_reported_and_skipped(tmp_path):
    folder = tmp_path / "config" / "themes"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text("name: bad\nprimary: not-a-colour\n")
    (folder / "worse.yml").write_text("name: [unclosed\n")
    (folder / "typo.yml").write_text("name: typo\nprimary: '#fff'\nprimery: '#000'\n")
    (folder / "mine.yml").write_text("name: mine\nprimary: '#ff00ff'\ndark: true\n")
    loaded, errors = themes.load_themes([themes.builtin_dir(), folder])
    assert "mine" in {t.name for t in loaded}
    assert not {"bad", "typo"} & {t.name for t in loaded}
    assert len(errors) == 3
    assert all("\n" not in e for e in errors)
    assert any(e.startswith("typo.yml: unknown theme key(s): primery") for e in errors)


async def test_the_console_starts_despite_a_broken_theme_and_says_so(tmp_path):
    folder = tmp_path / "config" / "themes"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text("name: bad\nprimary: 42\n")
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "deploytui-dark"
        assert any("theme skipped: bad.yml" in n.message for n in app.notices)


async def test_theme_argument_wins_and_a_switch_is_remembered_for_next_time(tmp_path):
    app = DeployConsole(local_config(tmp_path), "deploytui-light", load_status=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "deploytui-light"
        app.theme = "deploytui-high-contrast"
        await pilot.pause()
    assert themes.remembered_theme() == "deploytui-high-contrast"
    again = DeployConsole(local_config(tmp_path), load_status=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert again.theme == "deploytui-high-contrast"


async def test_switching_theme_from_the_palette(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_from_palette(pilot, "Theme: deploytui-light")
        await wait_until(pilot, lambda: app.theme == "deploytui-light", what="the theme")


async def test_an_unknown_theme_name_falls_back_with_a_warning(tmp_path):
    app = DeployConsole(local_config(tmp_path), "no-such-theme", load_status=False)
    app.NOTIFICATION_TIMEOUT = 600  # raised in on_mount: must not expire before we look
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "deploytui-dark"
        assert any("no-such-theme" in n.message for n in app.notices)
