"""`deploytui deploy` as a process (Ctrl-C), and secrets reaching hosts but never output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy

ROOT = Path(__file__).resolve().parents[1]


def test_ctrl_c_cancels_before_the_switch_exits_130_and_leaves_nothing(
        hosts: Fleet, tmp_path: Path):
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(3))
    hosts.hosts[1].set_marker("slow-build", "30")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(tmp_path / "d"),
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                             "app", "prod"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "slow mirror" in line:
            proc.send_signal(signal.SIGINT)
            break
    began = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 15
    assert "deploy cancelled" in err and "Traceback" not in err
    assert "cancelled" in out
    for host in hosts.hosts[:3]:
        assert not host.path("/srv/app/current").exists()
        assert not host.path("/srv/app/.deploytui/lock").exists()
        releases = host.path("/srv/app/releases")
        assert not releases.exists() or list(releases.iterdir()) == []


def test_a_successful_deploy_exits_0_and_says_nothing_on_stderr(hosts: Fleet, tmp_path: Path):
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines()[-1].startswith("deployed release ")


def test_secrets_and_the_sudo_password_reach_the_hosts_but_never_the_output(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("DEPLOYTUI_SECRET_API_TOKEN", "tok-s3cr3t-value")
    data = hosts.config(1, sudo_password=hosts.sudo_password,
                        roles={"web": {"tasks": ["echo token=$API_TOKEN", "sudo whoami",
                                                 "echo pw=$DEPLOYTUI_SUDO_PASSWORD."]}})
    data["projects"]["app"]["env"] = {"API_TOKEN": {"secret": "api-token"}}
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    recorder = Recorder()
    result = run_deploy(config, DeployRequest(project, project.environments["prod"]),
                        sink=recorder)
    assert result.outcome == "success", result.error
    lines = [e.line for e in recorder.lines()]
    assert "token=****" in lines and "root" in lines
    assert "pw=." in lines  # the password is never even exported to commands
    assert not any("tok-s3cr3t-value" in ln or hosts.sudo_password in ln for ln in lines)
