"""Locks that tell the truth: stale locks are named with their remedy, live ones can be
waited for (`--wait-lock`), and nothing breaks a lock silently. Run as a user would, with
`deploytui` subprocesses against the fleet."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Fleet

REMEDY = "deploytui unlock app prod"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent),
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state")}


def write(fleet: Fleet, tmp_path: Path, **overrides) -> Path:
    return fleet.write_config(tmp_path / "deploytui.yml", fleet.config(2, **overrides))


def write_asking(fleet: Fleet, tmp_path: Path) -> Path:
    """The same environment with `confirm: true`: the CLI asks before changing it."""
    data = fleet.config(2)
    data["projects"]["app"]["environments"]["prod"]["confirm"] = True
    return fleet.write_config(tmp_path / "asking.yml", data)


def run(config: Path, tmp_path: Path, *argv: str, timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploytui", *argv, "--config", str(config)],
                          capture_output=True, text=True, env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, timeout=timeout)


def start(config: Path, tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "deploytui", *argv, "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(tmp_path), stdin=subprocess.DEVNULL)


def read_until(proc: subprocess.Popen[str], text: str, deadline: float = 30) -> list[str]:
    """stdout lines up to the first that contains `text` (event-driven, with a deadline)."""
    assert proc.stdout is not None
    lines: list[str] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} in {lines}")


def test_a_deploy_killed_mid_build_leaves_a_lock_the_next_deploy_calls_stale(
        hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path, build=["echo building; sleep 30"])
    proc = start(config, tmp_path, "deploy", "app", "prod")
    read_until(proc, "building")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)  # reaped: its pid is really gone
    nxt = run(config, tmp_path, "deploy", "app", "prod")
    assert nxt.returncode == 3, nxt.stderr
    assert "STALE" in nxt.stderr and f"process {proc.pid} on this machine is gone" in nxt.stderr
    assert REMEDY in nxt.stderr and "--break-lock" in nxt.stderr
    assert hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()  # never broken silently
    assert run(config, tmp_path, "unlock", "app", "prod").returncode == 0


@pytest.mark.timeout(60)
def test_a_host_frozen_mid_build_leaves_its_lock_and_the_deploy_names_the_remedy(
        hosts: Fleet, tmp_path: Path) -> None:
    data = hosts.config(2, build=["echo building; sleep 2"])
    data["ssh"]["connect_timeout"] = 3
    config = hosts.write_config(tmp_path / "deploytui.yml", data)
    proc = start(config, tmp_path, "deploy", "app", "prod")
    read_until(proc, "[host2] building")
    hosts.hosts[1].freeze()
    try:
        out, err = proc.communicate(timeout=40)
    finally:
        hosts.hosts[1].thaw()
    assert proc.returncode == 1, err
    assert "host2: build: echo building; sleep 2: host stopped answering" in err
    assert f"host2: lock left in place (host not answering); clear it with '{REMEDY}'" in out
    nxt = run(config, tmp_path, "deploy", "app", "prod")
    assert nxt.returncode == 3 and "STALE" in nxt.stderr and REMEDY in nxt.stderr


def test_wait_lock_proceeds_once_the_holder_lets_go(hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "lock", "app", "prod").returncode == 0
    proc = start(config, tmp_path, "deploy", "app", "prod", "--wait-lock", "40")
    waiting = read_until(proc, "waiting up to")
    assert "(locked by hand)" in waiting[-1]
    assert run(config, tmp_path, "unlock", "app", "prod").returncode == 0
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert "deployed release" in out


def test_ctrl_c_while_prune_waits_for_a_lock_cancels_it_and_leaves_the_lock_alone(
        hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "lock", "app", "prod").returncode == 0
    logins = hosts.hosts[0].connections()
    proc = start(config, tmp_path, "prune", "app", "prod", "--yes", "--wait-lock", "40")
    # logged in: the operation runs and Ctrl-C is the engine's cancel (on a busy machine
    # the interpreter alone can take more than the 2 s once slept here); the lock round
    # itself is one command (prune prints only failures, not its wait)
    deadline = time.monotonic() + 20
    while hosts.hosts[0].connections() == logins:
        assert time.monotonic() < deadline, "the prune never logged in"
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "prune cancelled: host1: lock: cancelled while waiting for the lock" in err
    assert "Traceback" not in err
    held = run(config, tmp_path, "deploy", "app", "prod")
    assert held.returncode == 3 and "locked by hand" in held.stderr


def test_wait_lock_exits_3_when_the_lock_is_still_held(hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "lock", "app", "prod").returncode == 0
    began = time.monotonic()
    for argv in (["deploy"], ["rollback", "--to", "20240101120000"], ["prune", "--yes"]):
        done = run(config, tmp_path, *argv, "app", "prod", "--wait-lock", "2")
        assert done.returncode == 3, (argv, done.stderr)
        assert "still held after waiting 2s" in done.stderr and REMEDY in done.stderr
    assert time.monotonic() - began >= 6


def test_rollback_to_a_non_release_is_one_usage_line_with_no_header(
        hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    done = run(config, tmp_path, "rollback", "app", "prod", "--to", "banana")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "deploytui: rollback refused: 'banana' is not a release id (14 digits)"]


def test_rollback_to_the_current_release_is_refused_before_asking(
        hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "deploy", "app", "prod").returncode == 0
    current = hosts.hosts[0].path("/srv/app/current").readlink().name
    asking = write_asking(hosts, tmp_path)
    done = run(asking, tmp_path, "rollback", "app", "prod", "--to", current)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (f"deploytui: rollback refused: release {current} is"
                                   " already current on every host")
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


def test_a_rollback_that_cannot_happen_is_refused_before_the_question(
        hosts: Fleet, tmp_path: Path) -> None:
    """Nobody types the environment's name for a rollback the hosts would refuse."""
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "deploy", "app", "prod").returncode == 0
    first = hosts.hosts[0].path("/srv/app/current").readlink().name
    assert run(config, tmp_path, "deploy", "app", "prod").returncode == 0
    shutil.rmtree(hosts.hosts[1].path(f"/srv/app/releases/{first}"))
    asking = write_asking(hosts, tmp_path)
    done = run(asking, tmp_path, "rollback", "app", "prod", "--to", first)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (f"deploytui: rollback failed: release {first} is not on"
                                   " every host: missing on host2")


def test_rollback_to_the_current_release_without_a_question_is_refused_under_the_lock(
        hosts: Fleet, tmp_path: Path) -> None:
    """No confirmation to protect: the rollback connects once and refuses under its lock
    (one connection wave, not a listing and then the rollback), with the same exit 2."""
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "deploy", "app", "prod").returncode == 0
    current = hosts.hosts[0].path("/srv/app/current").readlink().name
    for argv in ((), ("--yes",)):
        done = run(config, tmp_path, "rollback", "app", "prod", "--to", current, *argv)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == (
            f"deploytui: rollback refused: release {current} is already current on every"
            " host")
        for host in hosts.hosts[:2]:
            assert not host.path("/srv/app/.deploytui/lock").exists()
            assert host.path("/srv/app/current").readlink().name == current


def test_history_json_needs_no_config_and_a_dry_run_prune_is_not_journaled(
        hosts: Fleet, tmp_path: Path) -> None:
    config = write(hosts, tmp_path)
    assert run(config, tmp_path, "prune", "app", "prod", "--dry-run").returncode == 0
    nowhere = tmp_path / "no-config"
    nowhere.mkdir()
    env = {**_env(tmp_path), "XDG_CONFIG_HOME": str(nowhere)}
    env.pop("DEPLOYTUI_CONFIG", None)
    listed = subprocess.run([sys.executable, "-m", "deploytui", "history", "--json"],
                            capture_output=True, text=True, env=env, cwd=nowhere,
                            stdin=subprocess.DEVNULL, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"
