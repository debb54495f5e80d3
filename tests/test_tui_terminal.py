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


def test_the_demo_console_draws_in_a_real_terminal_and_q_quits(tmp_path):
    session = f"deploytui-test-{os.getpid()}"
    done = tmp_path / "exit-code"
    env = (f"PYTHONPATH={ROOT} DEPLOYTUI_DATA_DIR={tmp_path / 'data'}"
           f" DEPLOYTUI_CONFIG_DIR={tmp_path / 'config'} HOME={tmp_path} TERM=xterm-256color")
    command = (f"cd {ROOT} && env {env} {sys.executable} -m deploytui"
               f" --config config.example.yml; echo $? > {done}; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48",
                    command], check=True)
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
