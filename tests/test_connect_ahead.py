"""The hosts' connections are made while the deploying machine resolves the commit.

Resolving fetches the repository here (seconds from a real remote); the SSH handshakes
need nothing from it, so they overlap instead of following. A before_deploy hook still
runs before any host is contacted, and a deploy that stops before its first command
leaves no connection behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy

REAL_GIT = shutil.which("git") or "/usr/bin/git"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def established(hosts: list[FleetHost]) -> int:
    """This machine's open SSH connections to these hosts (client side)."""
    wanted = {f"{h.address}:{h.port}" for h in hosts}
    out = subprocess.run(["ss", "-Htn", "state", "established"], capture_output=True,
                         text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line.split()[-1] in wanted)


def counting_git(tmp_path: Path, hosts: list[FleetHost], monkeypatch: pytest.MonkeyPatch,
                 wait: float = 5.0) -> Path:
    """`git` first on PATH: when the deploy fetches the repository, it writes how many
    of the hosts' connections are open (waiting up to `wait` s for all), then runs git."""
    seen = tmp_path / "seen"
    targets = " ".join(f"{h.address}:{h.port}" for h in hosts)
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f"""#!/bin/bash
case " $* " in *" remote update "*|*" clone --mirror "*)
  for i in $(seq {round(wait * 10)}); do
    n=0
    for t in {targets}; do
      ss -Htn state established | awk '{{print $NF}}' | grep -qxF "$t" && n=$((n + 1))
    done
    [ "$n" = {len(hosts)} ] && break
    sleep 0.1
  done
  echo "$n" >> {seen};;
esac
exec {REAL_GIT} "$@"
""")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    return seen


def load(fleet: Fleet, n: int = 3, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(n, **overrides)), "test.yml")


def deploy(config: Config, **kw) -> DeployResult:
    project = config.projects["app"]
    return run_deploy(config, DeployRequest(project, project.environments["prod"],
                                            user="ann@laptop", **kw), sink=Recorder())


def test_every_host_is_connected_while_the_repository_is_fetched(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    chosen = hosts.hosts[:3]
    seen = counting_git(tmp_path, chosen, monkeypatch)
    result = deploy(load(hosts, 3))
    assert result.outcome == "success", result.error
    assert seen.read_text().split() == ["3"]


def test_a_host_left_out_is_never_contacted_ahead(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    chosen = hosts.hosts[:3]
    seen = counting_git(tmp_path, chosen, monkeypatch, wait=1.0)
    result = deploy(load(hosts, 3), exclude=("host3",))
    assert result.outcome == "success", result.error
    assert seen.read_text().split() == ["2"]  # host3 answers, and is left alone


def test_a_before_deploy_hook_runs_before_any_host_is_contacted(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    chosen = hosts.hosts[:3]
    seen = counting_git(tmp_path, chosen, monkeypatch, wait=1.0)
    during_hook = tmp_path / "during-hook"
    targets = "|".join(f"{h.address}:{h.port}" for h in chosen).replace(".", "\\.")
    hook = (f"sleep 0.5; ss -Htn state established | awk '{{print $NF}}'"
            f" | grep -cE '^({targets})$' > {during_hook}; true")
    result = deploy(load(hosts, 3, hooks={"before_deploy": [hook]}))
    assert result.outcome == "success", result.error
    assert during_hook.read_text().strip() == "0"
    assert seen.read_text().split() == ["0"]  # nor while the repository was fetched


def test_a_deploy_that_stops_before_its_first_command_leaves_no_connection_or_lock(
        hosts: Fleet):
    chosen = hosts.hosts[:3]
    result = deploy(load(hosts, 3), ref="no-such-branch")
    assert result.outcome == "failed"
    assert result.error.startswith("resolve: ref 'no-such-branch' not found")
    deadline = time.monotonic() + 10  # a handshake still under way closes when it ends
    while established(chosen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert established(chosen) == 0
    assert not any(h.path("/srv/app/.deploytui/lock").exists() for h in chosen)
