"""The deploytui console App: configuration, themes, keys, and what outlives any screen.

The App owns the LogBuffer and the Runner (the one operation thread, which must survive
screen changes) and the list of notifications (reopened from the palette: an error never
only lives in a 4-second toast). Everything on screen is the MainScreen's
(tui/screens/main.py) or a screen it opens.

Threads: the engine runs in the Runner's thread, reporting to the LogBuffer; the main
screen's 15 Hz timer drains it. Status loading, plans and previews run in thread
workers. No SSH, git or keyring call ever runs on the UI thread.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.notifications import SeverityLevel

from deploytui.config.model import Config
from deploytui.gc_pause import GCPause
from deploytui.tui import themes as theme_files
from deploytui.tui.commands import ConsoleCommands
from deploytui.tui.keymap import APP_BINDINGS, user_keymap
from deploytui.tui.log_buffer import LogBuffer
from deploytui.tui.messages import OperationEnded
from deploytui.tui.runner import Runner
from deploytui.tui.screens.main import MainScreen
from deploytui.tui.widgets.deploy_bar import format_elapsed

__all__ = ["DeployConsole", "format_elapsed", "run_console"]

_frozen = False


def freeze_startup_heap() -> None:
    """gc.freeze() once per process, after the console's first frame.

    Everything alive then (imported modules, the CSS, the widget tree: ~80,000 objects)
    lives as long as the console, yet every full collection used to walk it while
    holding the GIL, stalling the UI and every engine thread. A flood of host output
    causes a full collection every second or two (the renderer's short-lived objects get
    promoted), so these pauses were the console's worst key latencies. Frozen objects
    are never scanned nor freed; objects made later are collected as usual.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


@dataclass(frozen=True)
class Notice:
    """One notification, kept for the notifications list."""

    at: float  # wall clock
    severity: str
    message: str


class DeployConsole(App[int]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "deploytui"
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    def __init__(self, config: Config, theme: str | None = None, *,
                 clock: Callable[[], float] = time.monotonic, load_status: bool = True,
                 theme_dirs: list[Path] | None = None) -> None:
        super().__init__()
        self.config = config
        self.requested_theme = theme
        self.clock = clock
        self.load_status_enabled = load_status
        self.theme_dirs = theme_dirs
        self.user_themes: set[str] = set()
        self.buffer = LogBuffer(config.ui.log_lines, clock=clock)
        self.runner = Runner(self, config, self.buffer)
        self.notices: list[Notice] = []
        self._theme_ready = False
        self._startup_gc = GCPause()

    @property
    def main(self) -> MainScreen:
        screen = self.default_screen
        assert isinstance(screen, MainScreen)
        return screen

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.config, self.buffer, self.runner, clock=self.clock,
                          load_status=self.load_status_enabled)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"status-running": "#5FA8D3"}

    def on_load(self) -> None:
        """No garbage collection until the first frame (deploytui/gc_pause.py): all the
        start-up builds lives on."""
        self._startup_gc.begin()

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32,
                                                     thread_name_prefix="deploytui"))
        self._load_themes()
        keymap, warnings = user_keymap(dict(self.config.ui.keys))
        self.set_keymap(keymap)
        for w in warnings:
            self.notify(w, severity="warning")

    def on_ready(self) -> None:
        """After the first frame: the main screen loads host status, then the start-up
        heap leaves garbage collection."""
        self.main.first_frame()
        self.call_after_refresh(self._end_startup_gc)

    def _end_startup_gc(self) -> None:
        freeze_startup_heap()
        self._startup_gc.end()

    def on_unmount(self) -> None:
        self._startup_gc.end()  # an app that ends before its first frame

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A toast, also kept in the notifications list (`n`, or the palette). Host and
        git output reaches messages, so markup is off unless asked for."""
        self.notices.append(Notice(time.time(), severity, message))
        del self.notices[:-200]
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    def action_notifications(self) -> None:
        from deploytui.tui.screens.notices import NoticesScreen

        self.push_screen(NoticesScreen(self.notices))

    def on_operation_ended(self, message: OperationEnded) -> None:
        self.main.operation_ended(message)

    def _load_themes(self) -> None:
        found, errors = theme_files.load_themes(self.theme_dirs)
        builtin = theme_files.builtin_dir()
        for theme in found:
            self.register_theme(theme)
            if not (builtin / f"{theme.name}.yml").exists():
                self.user_themes.add(theme.name)
        for err in errors:
            self.notify(f"theme skipped: {err}", severity="error", timeout=10)
        wanted = [self.requested_theme, theme_files.remembered_theme(), self.config.ui.theme,
                  theme_files.DEFAULT_THEME]
        for name in wanted:
            if name and name in self.available_themes:
                self.theme = name
                break
            if name and name == self.requested_theme:
                self.notify(f"no theme named {name!r}", severity="warning")
        self._theme_ready = True

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready and theme:
            theme_files.remember_theme(theme)


def run_console(config: Config, theme: str | None = None, **run: Any) -> int:
    """`deploytui` with no subcommand: run the console; returns the exit code.

    "Stop it and quit" cancels the running operation and leaves the console at once; the
    operation's thread then still removes its unfinished releases and releases its
    locks, which over SSH takes round trips. The process ends only after that: ending
    with it would leave every host locked. Ctrl-C still ends it at once. `run` goes to
    App.run (a test's headless run and its pilot).
    """
    app = DeployConsole(config, theme)
    result = app.run(**run)
    if "deploytui.tui.screens.logs" in sys.modules:  # a logs view was opened: its hosts'
        sys.modules["deploytui.tui.screens.logs"].stop_followers()  # tails end before we go
    if app.runner.running:
        print("deploytui: stopping the operation: cleaning up and unlocking the hosts…",
              file=sys.stderr, flush=True)
        app.runner.join()
    return int(result or 0)
