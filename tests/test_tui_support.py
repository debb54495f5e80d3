"""Shared builders for the console tests (no tests here): configs with local hosts, and
waiting for what the console promises instead of for a guessed time."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path

from deploytui.config.model import Config, Environment, Host, Project, Role, UISettings
from deploytui.tui.screens.release_browser import ReleaseBrowser


def local_config(tmp_path: Path, repo: str = "builtin:demo", *, hosts: int = 3,
                 confirm_prod: bool = True, keys: dict[str, str] | None = None,
                 deploy_root: Path | None = None) -> Config:
    """A `demo` project whose hosts are local directories under tmp_path."""
    root = deploy_root or tmp_path / "srv"

    def env(name: str, count: int, confirm: bool = False) -> Environment:
        return Environment(name, tuple(
            Host(f"{name}-{i}", "localhost", roles=("web",), transport="local",
                 deploy_to=str(root / name / f"h{i}")) for i in range(1, count + 1)),
            confirm=confirm)

    project = Project(
        name="demo", repo=repo, deploy_to=str(root / "default"),
        environments={"staging": env("staging", hosts),
                      "production": env("production", 2, confirm_prod)},
        keep_releases=2, build=("sh build.sh",),
        roles={"web": Role("web", restart=("sh restart.sh",))})
    shop = Project(name="shop", repo=repo, deploy_to=str(root / "shop"),
                   environments={"qa": env("qa", 1)})
    return Config(path=None, projects={"demo": project, "shop": shop},
                  ui=UISettings(keys=keys or {}, log_lines=500))


def seed_releases(deploy_to: str | Path, ids: list[str], current: str | None) -> None:
    """A host as a previous deploy leaves it: releases/<id> with REVISION, `current` link."""
    root = Path(deploy_to)
    for i, rid in enumerate(ids):
        rel = root / "releases" / rid
        rel.mkdir(parents=True, exist_ok=True)
        (rel / "REVISION").write_text(f"{i:040x}\n")
        (rel / "restart.sh").write_text("echo restarted\n")
        (rel / "payload.bin").write_bytes(b"x" * 4096 * (i + 1))
    if current is not None:
        (root / "current").symlink_to(root / "releases" / current)


def two_hosts_with_releases(tmp_path: Path, monkeypatch, ids: list[str]) -> Config:
    """A private HOME and data dir, and a `demo/staging` of two local hosts that each keep
    `ids` as releases, the last one current: the release browser's starting point."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    cfg = local_config(tmp_path, hosts=2)
    for host in cfg.projects["demo"].environments["staging"].hosts:
        seed_releases(host.deploy_to, ids, ids[-1])
    return cfg


async def wait_until(pilot, predicate: Callable[[], object], timeout: float = 30.0,
                     what: str = "the console") -> None:
    """Let the app run until `predicate()` holds and the screen on top is mounted, failing
    after `timeout` seconds.

    Why not one `pilot.pause()`: what the console does after a key or a message often lands
    a frame later (work deferred with `call_after_refresh`, every scroll, a worker's or the
    operation thread's message, the 15 Hz UI tick), and on a busy machine that frame comes
    whenever the CPU allows. A screen is on the stack before it has composed its widgets.
    """
    deadline = time.monotonic() + timeout
    while not (predicate() and pilot.app.screen.is_mounted):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def run_from_palette(pilot, text: str) -> None:
    """Open the command palette, type `text` and press Enter once the palette's search
    (a worker, re-run on every key) highlights a command that says `text`."""
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette),
                     what="the command palette")
    await pilot.press(*text)

    def offered() -> bool:
        hits = pilot.app.screen.query_one(CommandList)
        return hits.highlighted is not None and text in str(
            hits.get_option_at_index(hits.highlighted).prompt)

    await wait_until(pilot, offered, what=f"the palette to offer {text!r}")
    await pilot.press("enter")


_SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)"[^>]*?-line-(\d+)\)">(.*?)</text>', re.S)
_SVG_CELL = 12.2  # Rich's export_svg: a character cell is 0.61 x its 20 px font size


def screen_text(app) -> list[str]:
    """The console as it is drawn, one string per terminal line, read from
    `app.export_screenshot()`: what a user sees, not what a widget says it holds."""
    width, height = app.size
    lines = [[" "] * width for _ in range(height)]
    for x, line, content in _SVG_TEXT.findall(app.export_screenshot()):
        col = round(float(x) / _SVG_CELL)
        for i, char in enumerate(html.unescape(content).replace("\xa0", " ")):
            if col + i < width and int(line) < height:
                lines[int(line)][col + i] = char
    return ["".join(chars).rstrip() for chars in lines]


IDS = ["20240101000000", "20240102000000", "20240103000000", "20240104000000"]


def host_dir(config, i: int) -> Path:
    """The deploy_to of staging's host i (a local directory)."""
    return Path(config.projects["demo"].environments["staging"].hosts[i].deploy_to)


async def open_browser(app, pilot) -> ReleaseBrowser:
    """`r` on the main screen, once the browser has listed its releases."""

    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, ReleaseBrowser)
                     and app.screen.fleet is not None)
    return app.screen
