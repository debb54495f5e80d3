"""A failure reads as its cause: real tools' real failures, on the fleet and on this machine.

The rule (engine/errors.py): the first line that states a failure, or else the last
non-empty line; the full output stays in the log. Every output here comes from the real
tool (git, pip, python, bash, sudo), never a hand-written imitation of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.model import Environment, Project
from deploytui.engine.errors import failure_line, one_line
from deploytui.engine.events import HostFailed, Recorder
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.operations.source import SourceError, resolve
from deploytui.engine.remote.script import ScriptStep, run_script
from deploytui.engine.remote.steps import StepFailed

ROOT = Path(__file__).resolve().parents[1]


def _fail_on(transport, command: str) -> tuple[str, list[str]]:
    """Run `command` as a step that must fail: (its one-line reason, every output line)."""
    recorder = Recorder()
    transport.connect()
    try:
        with pytest.raises(StepFailed) as failed:
            run_script(transport, "prepare", [ScriptStep("build", command)], sink=recorder)
    finally:
        transport.close()
    [event] = recorder.of(HostFailed)
    assert event.reason == failed.value.reason
    return failed.value.reason, [e.line for e in recorder.lines()]


@pytest.fixture
def fleet_host(hosts: Fleet, tmp_path: Path):
    config = load_config_text(json.dumps(hosts.config(1)), str(tmp_path / "t.yml"))
    host = config.projects["app"].environments["prod"].hosts[0]
    return lambda: SSHTransport(host, config.ssh)


def test_git_dubious_ownership_on_a_host_is_the_cause_not_the_advice(hosts, fleet_host):
    made = hosts.hosts[0].run_inside("git init -q /srv/theirs && git -C /srv/theirs remote"
                                     f" add origin {hosts.repo_url}")
    assert made.returncode == 0, made.stderr
    reason, lines = _fail_on(fleet_host(), "export GIT_CONFIG_GLOBAL=/dev/null;"
                                           " git -C /srv/theirs fetch origin")
    assert reason == ("fatal: detected dubious ownership in repository at '/srv/theirs'"
                      " (exit 128)")
    assert any("safe.directory" in ln for ln in lines)  # the hints stay in the log


def test_git_unknown_ref_on_a_host(hosts, fleet_host):
    reason, _ = _fail_on(fleet_host(), f"git clone -q {hosts.repo_url} /tmp/c &&"
                                       " git -C /tmp/c checkout -q no-such-ref")
    assert reason.startswith("error: pathspec 'no-such-ref' did not match"), reason


def test_a_python_traceback_reads_as_its_exception(fleet_host):
    reason, lines = _fail_on(fleet_host(), "python3 -c 'import json; json.loads(\"{\")'")
    assert reason.startswith("json.decoder.JSONDecodeError: Expecting property name"), reason
    assert lines[0] == "Traceback (most recent call last):"


def test_a_missing_command_and_sudo_without_a_password(fleet_host):
    reason, _ = _fail_on(fleet_host(), "echo checking tools; nosuch-tool --version")
    assert reason.endswith(": nosuch-tool: command not found (exit 127)"), reason
    reason, _ = _fail_on(fleet_host(), "sudo -n true")
    assert reason == "sudo: a password is required (exit 1)"


def test_pip_with_no_such_package_names_the_package_not_the_advice():
    reason, lines = _fail_on(LocalTransport("local1"),
                             f"{sys.executable} -m pip install --no-index"
                             " --disable-pip-version-check no-such-pkg-deploytui")
    assert reason.startswith("ERROR: Could not find a version that satisfies the requirement"
                             " no-such-pkg-deploytui"), reason
    assert any("No matching distribution" in ln for ln in lines)


# -- on the deploying machine -----------------------------------------------------------------
def _project(repo: str) -> tuple[Project, Environment]:
    env = Environment("prod", ())
    return Project(name="p", repo=repo, deploy_to="/srv/app", environments={"prod": env}), env


@pytest.fixture
def own_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # no personal safe.directory


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a repo to another user")
def test_resolving_a_repo_owned_by_someone_else_says_dubious_ownership(tmp_path, own_data):
    repo = tmp_path / "theirs"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    subprocess.run(["chown", "-R", "65534", str(repo)], check=True)
    with pytest.raises(SourceError) as caught:
        resolve(*_project(f"file://{repo}"), "main")
    assert str(caught.value) == (f"cannot fetch file://{repo}: fatal: detected dubious"
                                 f" ownership in repository at '{repo}/.git'")


def test_resolving_an_unreachable_remote_says_why(own_data):
    with pytest.raises(SourceError) as caught:
        resolve(*_project("ssh://nobody@127.0.0.1:1/x.git"), "main")
    assert str(caught.value).endswith(
        ": ssh: connect to host 127.0.0.1 port 1: Connection refused"), caught.value


def test_resolving_an_unknown_ref_names_it(tmp_path, own_data):
    repo = tmp_path / "mine"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    with pytest.raises(SourceError) as caught:
        resolve(*_project(str(repo)), "no-such-ref")
    assert str(caught.value) == f"ref 'no-such-ref' not found in {repo}"


def test_the_cli_prints_the_cause_and_the_log_keeps_the_whole_traceback(hosts: Fleet,
                                                                        tmp_path: Path):
    build = ["python3 -c 'import no_such_module_here'"]
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(1, build=build))
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(data)}
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode != 0
    cause = "ModuleNotFoundError: No module named 'no_such_module_here' (exit 1)"
    assert f"[host1] FAILED in prepare at build: {build[0]}: {cause}" in proc.stdout
    log = next(data.glob("logs/app/prod/*/host1.log")).read_text()
    assert "[err] Traceback (most recent call last):" in log
    assert '[err]   File "<string>", line 1, in <module>' in log


# -- the rule itself, on text captured from the real tools here --------------------------------
def _stderr_of(*argv: str, cwd: Path | None = None) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, cwd=cwd,
                         env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull})
    assert res.returncode != 0
    return res.stderr


def test_the_rule_prefers_the_first_failure_and_falls_back_to_the_last_line(tmp_path):
    git = _stderr_of("git", "clone", "-q", "ssh://nobody@127.0.0.1:1/x.git", str(tmp_path / "c"))
    assert git.rstrip().endswith("and the repository exists.")  # what we used to show
    assert failure_line(git) == "ssh: connect to host 127.0.0.1 port 1: Connection refused"
    chained = _stderr_of(sys.executable, "-c",
                         "try:\n    {}['k']\nexcept KeyError:\n    raise ValueError('bad v')")
    assert failure_line(chained) == "KeyError: 'k'"  # the first failure is the cause
    assert failure_line("", "compiling\nlinking\n\n") == "linking"
    assert one_line(RuntimeError("")) == "RuntimeError"
