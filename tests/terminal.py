"""The console in a real terminal: a detached tmux session of a given size, what it
shows, and waiting for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True,
                          check=False).stdout


def start_console(tmp_path: Path, config: str | Path | None, name: str,
                  size: tuple[int, int], *, args: str = "", cwd: Path = ROOT,
                  env: str = "") -> tuple[str, Path]:
    """`deploytui --config CONFIG` (or `deploytui ARGS`) in a detached tmux session of
    `size`, in `cwd`, with a data dir and HOME of its own (plus `env`, `K=V ...`);
    returns the session and the file its exit status is written to."""
    session = f"deploytui-test-{name}-{os.getpid()}"
    done = tmp_path / "exit-code"
    env = (f"PYTHONPATH={ROOT} DEPLOYTUI_DATA_DIR={tmp_path / 'data'}"
           f" DEPLOYTUI_CONFIG_DIR={tmp_path / 'config'} HOME={tmp_path} TERM=xterm-256color"
           f" {env}")
    what = args or f"--config {config}"
    command = (f"cd {cwd} && env {env} {sys.executable} -m deploytui {what};"
               f" echo $? > {done}; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]),
                    "-y", str(size[1]), command], check=True)
    return session, done


def wait_for(session: str, *needles: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"never saw {needles!r} on:\n{screen}")
