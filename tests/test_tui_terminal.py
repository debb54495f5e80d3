"""The console in a real terminal (tmux): it draws the demo, then `q` quits it."""

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


def start_console(tmp_path: Path, config: str | Path, name: str, size: tuple[int, int]
                  ) -> tuple[str, Path]:
    """The console on `config` in a detached tmux session of `size`, with a data dir and
    HOME of its own; returns the session and the file its exit status is written to."""
    session = f"deploytui-test-{name}-{os.getpid()}"
    done = tmp_path / "exit-code"
    env = (f"PYTHONPATH={ROOT} DEPLOYTUI_DATA_DIR={tmp_path / 'data'}"
           f" DEPLOYTUI_CONFIG_DIR={tmp_path / 'config'} HOME={tmp_path} TERM=xterm-256color")
    command = (f"cd {ROOT} && env {env} {sys.executable} -m deploytui --config {config};"
               f" echo $? > {done}; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]),
                    "-y", str(size[1]), command], check=True)
    return session, done


def test_the_demo_console_draws_in_a_real_terminal_and_q_quits(tmp_path):
    session, done = start_console(tmp_path, "config.example.yml", "demo", (160, 48))
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", session)
            if "staging" in screen and "Deploy" in screen and "reachable" in screen:
                break
            time.sleep(0.2)
        assert "demo" in screen and "staging" in screen, screen
        assert "Deploy" in screen and "Releases" in screen  # the footer's keys
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), tmux("capture-pane", "-p", "-t", session)
        assert done.read_text().strip() == "0"
    finally:
        tmux("kill-session", "-t", session)


def wait_for(session: str, *needles: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"never saw {needles!r} on:\n{screen}")


def test_at_80x24_production_is_deployed_by_typing_its_name(tmp_path):
    """A new user's path: select production, d, read the plan, type the name, Enter."""
    demo_root = tmp_path / "demo"
    config = tmp_path / "config.yml"
    config.write_text((ROOT / "config.example.yml").read_text()
                      .replace("/tmp/deploytui-demo", str(demo_root)))
    session, _done = start_console(tmp_path, config, "prod", (80, 24))
    try:
        wait_for(session, "production", "q Quit", "? Help")
        tmux("send-keys", "-t", session, "BTab")  # from the hosts table to the tree
        tmux("send-keys", "-t", session, "j")  # demo / production
        wait_for(session, "demo / production")
        tmux("send-keys", "-t", session, "d")
        screen = wait_for(session, "Type production to enable Deploy", "Back", "Deploy")
        assert "Deploy demo → production" in screen
        tmux("send-keys", "-t", session, "Enter")  # nothing typed: refused, and it says why
        wait_for(session, "nothing typed")
        tmux("send-keys", "-t", session, "-l", "production")
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "Deploy succeeded", "local3: done", timeout=60)
        for host in ("local1", "local2", "local3"):
            assert (demo_root / "production" / host / "current").is_symlink()
        tmux("send-keys", "-t", session, "Escape")
        tmux("send-keys", "-t", session, "q")
    finally:
        tmux("kill-session", "-t", session)
