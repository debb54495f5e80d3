"""deploytui's own steps run in the command's shell, without a subshell per step (a fork
on every host, for every step): they still fail exactly like any step, and they never
change what the user's own steps see. Real bash (local host) and the real sshd fleet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.engine.events import HostStepDone, HostStepStarted, Recorder
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.remote.script import ScriptStep, run_script, tag_results, tagged
from deploytui.engine.remote.steps import StepFailed


@pytest.fixture
def local() -> LocalTransport:
    transport = LocalTransport("local1")
    transport.connect()
    yield transport
    transport.close()


def test_an_inline_step_that_exits_fails_as_itself_with_its_exit_code(local: LocalTransport):
    recorder = Recorder()
    with pytest.raises(StepFailed) as failed:
        run_script(local, "prepare", [
            ScriptStep("create release", "true", inline=True),
            ScriptStep("fetch", "echo 'no such commit' >&2; exit 5", inline=True),
            ScriptStep("build: make", "echo never")], sink=recorder)
    assert failed.value.step == "fetch"
    assert failed.value.reason == "no such commit (exit 5)"
    done = [(e.step, e.exit_code) for e in recorder.events if isinstance(e, HostStepDone)]
    assert done == [("create release", 0), ("fetch", 5)]
    started = [e.step for e in recorder.events if isinstance(e, HostStepStarted)]
    assert "build: make" not in started


def test_the_users_steps_still_run_apart_from_ours_and_from_each_other(local: LocalTransport):
    """An inline step's variables are ours; a user's `cd`, `set -e` or `exit` stays in
    its own step, as if each step were its own command."""
    recorder = Recorder()
    run_script(local, "prepare", [
        ScriptStep("ours", "__dt_x=1", inline=True),
        ScriptStep("build: a", "set -e -o pipefail; cd /; exit 0"),
        ScriptStep("build: b", "false | true; [[ -o pipefail ]] && p=on || p=off;"
                               " [[ $- == *e* ]] && e=on || e=off;"
                               " [ \"$PWD\" = / ] && r=yes || r=no;"
                               " echo \"pipefail=$p errexit=$e x=$__dt_x in-root=$r\""),
    ], sink=recorder)
    assert [e.line for e in recorder.lines()] == ["pipefail=off errexit=off x=1 in-root=no"]


def test_an_inline_part_reports_its_own_failure_and_the_next_part_still_runs(
        local: LocalTransport):
    command = "\n".join([
        tagged("Z-META", "printf 'mv: cannot move x: No space left on device' >&2; false",
               inline=True),
        tagged("Z-REV", "printf 'written'", inline=True),  # no final newline
        tagged("Z-UNLOCK", "true", inline=True)])
    result = local.run(command, capture=True)
    status = tag_results(result.stdout, ["Z-META", "Z-REV", "Z-UNLOCK"])
    assert status == {"Z-META": "mv: cannot move x: No space left on device",
                      "Z-REV": None, "Z-UNLOCK": None}


def test_a_part_with_no_status_line_reads_as_failed():
    assert tag_results("Z-META begin\nhalf", ["Z-META"]) == {
        "Z-META": "no report from the host"}


def test_a_build_step_sees_the_shell_options_it_would_see_on_its_own(hosts: Fleet,
                                                                     tmp_path: Path,
                                                                     monkeypatch):
    """The checkout (ours, inline) checks git's status without `set -o pipefail`, which
    would otherwise outlive it into the build: `false | true` succeeds in a shell."""
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    data = hosts.config(2, build=["false | true", "test -f REVISION"])
    config = load_config_text(json.dumps(data), "test.yml")
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              user="ann@laptop"), sink=Recorder())
    assert result.outcome == "success", result.error
