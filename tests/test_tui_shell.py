"""`s` in the console, in a real terminal (tmux) against the sshd fleet: the console
suspends itself, the shell runs on the selected host in `current` with the project's
env, and `exit` brings the console back, saying how the shell ended."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.operations.deploy import DeployRequest, run_deploy

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


def wait_for(session: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = screen(session)
        if text in seen:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not on screen:\n{seen}")


def keys(session: str, *typed: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *typed], check=True)


def test_s_suspends_the_console_for_a_shell_on_the_host_and_exit_comes_back(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    data = hosts.config(2)
    data["projects"]["app"]["env"] = {"APP_MODE": "calm"}
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    assert run_deploy(config, DeployRequest(project, project.environments["prod"])
                      ).outcome == "success"
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    session = f"deploytui-shell-{os.getpid()}"
    done = tmp_path / "exit-code"
    env = (f"PYTHONPATH={ROOT} DEPLOYTUI_DATA_DIR={tmp_path / 'data'} HOME={tmp_path}"
           f" DEPLOYTUI_CONFIG_DIR={tmp_path / 'config'} TERM=xterm-256color")
    command = (f"env {env} {sys.executable} -m deploytui --config {path}; echo $? > {done};"
               " sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    command], check=True)
    try:
        wait_for(session, "host2")
        time.sleep(1)  # the hosts' first read
        keys(session, "s")
        wait_for(session, "deploytui: host1, in /srv/app/current")
        keys(session, "printf 'at:%s:%s:%s\\n' $(hostname) $PWD $APP_MODE", "Enter")
        wait_for(session, "at:host1:/srv/app/current:calm")
        keys(session, "exit 5", "Enter")
        back = wait_for(session, "shell on host1 ended (exit 5)")
        assert "hosts" in back and "Deploy" in back  # the console, redrawn
        keys(session, "q")
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
