"""Every dialog keeps its prompt, its input and both buttons on screen at 80x24 and 120x40:
the body scrolls (with the keyboard), the foot is docked. Escape always backs out."""

from __future__ import annotations

import pytest
from test_tui_support import local_config, wait_until
from textual.widget import Widget

from deploytui.engine import DeleteRequest, PruneRequest, RollbackRequest
from deploytui.engine.operations.plan import DeployPlan
from deploytui.tui.app import DeployConsole
from deploytui.tui.deploy_flow import confirm_operation, confirm_stop
from deploytui.tui.screens.modals import (
    ConfirmModal,
    DialogBody,
    HostKeyModal,
    NumberPrompt,
    SecretPromptModal,
)
from deploytui.tui.screens.plan import PlanScreen

SIZES = [(80, 24), (120, 40)]
HOSTS = [f"production-{i}" for i in range(1, 13)]


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def long_plan() -> DeployPlan:
    """A plan far taller than 24 lines: many hosts, two distinct command lists."""
    plan = DeployPlan("demo", "production", "20250101120000", "3f2a9c1" + "0" * 33,
                      "Add a health endpoint", "main", "release",
                      hosts_by_role={"web": HOSTS}, once_host={"web": "production-1"},
                      inspected=True, current=dict.fromkeys(HOSTS, "20241231000000"),
                      prune={h: ["20241201000000 (1.2 MB, beyond keep_releases)"]
                             for h in HOSTS})
    plan.commands = {h: ["git clone --mirror ...", "sh build.sh", "ln -sfn ..."]
                     for h in HOSTS}
    plan.commands["production-1"].append("sh migrate.sh")
    return plan


def tall(text: str) -> str:
    return "\n".join(f"{text} line {i}" for i in range(60))


def production():
    return local_config_for_test().projects["demo"].environments["production"]


def local_config_for_test():
    from pathlib import Path

    return local_config(Path("/srv/modal-tests"), deploy_root=Path("/srv/modal-tests"))


DIALOGS = {
    "deploy plan": lambda: PlanScreen(long_plan(), "demo", "production", confirm=False),
    "confirm by typing": lambda: PlanScreen(long_plan(), "demo", "production", confirm=True),
    "cancel": lambda: confirm_stop("deploy", quitting=False),
    "quit": lambda: confirm_stop("deploy", quitting=True),
    "rollback": lambda: confirm_operation(RollbackRequest("demo", "production", "20250101000000"),
                                          production(), tall("switch")),
    "prune preview": lambda: confirm_operation(PruneRequest("demo", "production"), production(),
                                               tall("production-1 → 20240101000000")),
    "delete": lambda: confirm_operation(DeleteRequest("demo", "production", "20240101000000"),
                                        production(), tall("delete")),
    "host key": lambda: HostKeyModal("web-1", "[10.0.0.1]:22", "ssh-ed25519",
                                     "SHA256:" + "x" * 43, "/home/ana/.ssh/known_hosts"),
    "secret prompt": lambda: SecretPromptModal("demo-token"),
    "prune keep N": lambda: NumberPrompt("Prune, keeping how many?", "Releases to keep:", 3),
}


def laid_out(screen) -> bool:
    """The dialog has composed its foot and been through a layout (its buttons have a place)."""
    buttons = screen.query("#dialog-foot Button")
    return bool(buttons) and all(button.region for button in buttons)


def shown(screen, widget: Widget) -> bool:
    """The widget is wholly inside the terminal and is what is drawn at its centre."""
    region = widget.region
    if not region or not screen.region.contains_region(region):
        return False
    at, _ = screen.get_widget_at(region.x + region.width // 2, region.y + region.height // 2)
    return at is widget or widget in at.ancestors


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(DIALOGS))
async def test_prompt_input_and_both_buttons_are_visible(name, size):
    app = DeployConsole(local_config_for_test(), load_status=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        dialog = DIALOGS[name]()
        results: list[object] = []
        app.push_screen(dialog, results.append)
        await wait_until(pilot, lambda: app.screen is dialog and laid_out(dialog),
                         what=f"{name} to be laid out")
        screen = app.screen
        buttons = list(screen.query("#dialog-foot Button"))
        assert len(buttons) == 2, name
        for button in buttons:
            assert shown(screen, button), f"{name}: button {button.label} hidden"
        for selector in ("#prompt", "Input"):
            for widget in screen.query(selector):
                assert shown(screen, widget), f"{name}: {selector} hidden"
        if (isinstance(dialog, ConfirmModal) and dialog.type_name) or name in (
                "secret prompt", "prune keep N"):
            assert screen.query("#prompt") and screen.query("Input")
        await pilot.press("escape")
        await wait_until(pilot, lambda: results, what=f"{name} to be dismissed")
        assert app.screen is not dialog and results in ([False], [None])


async def test_a_tall_body_scrolls_with_the_keyboard_and_is_no_focus_stop():
    app = DeployConsole(local_config_for_test(), load_status=False)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = PlanScreen(long_plan(), "demo", "production", confirm=True)
        app.push_screen(dialog)
        await wait_until(pilot, lambda: app.screen is dialog and laid_out(dialog))
        body = dialog.query_one(DialogBody)
        assert body.max_scroll_y > 0 and body.scroll_y == 0
        # the hint follows the layout that tells whether the body overflows
        await wait_until(pilot, lambda: "scroll" in str(
            dialog.query_one("#dialog").border_subtitle), what="the scrolling hint")
        # Textual scrolls after the next refresh, not when the key is handled
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: body.scroll_y > 0, what="PgDn to scroll")
        await pilot.press("end")
        await wait_until(pilot, lambda: body.scroll_y == body.max_scroll_y,
                         what="End to scroll to the bottom")
        assert not body.focusable
        assert app.screen.focused is app.screen.query_one("#confirm-name")
