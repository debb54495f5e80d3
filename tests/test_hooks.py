"""Hooks run on the deploying machine, told about the deploy through DEPLOYTUI_* variables;
their output reaches the log as lines of the pseudo-host "local"; a hung hook is killed."""

from __future__ import annotations

import time
from pathlib import Path

from deploytui.config.model import Environment, Hooks, Project
from deploytui.engine.events import Recorder, each_line
from deploytui.engine.operations.hooks import HookContext, run_hooks
from deploytui.engine.redact import redacting_sink

CONTEXT = HookContext(project="shop", environment="prod", release="20261130104500",
                      sha="a" * 40, ref="main", user="ana@laptop")


def project(timeout: float = 30, **hooks: list[str]) -> Project:
    return Project(name="shop", repo="/srv/repo", deploy_to="/srv/app",
                   environments={"prod": Environment("prod", ())}, timeout=timeout,
                   hooks=Hooks(**{k: tuple(v) for k, v in hooks.items()}))


def lines(recorder: Recorder) -> list[str]:
    return [e.line for e in each_line(recorder.events) if e.host == "local"]


def test_a_hook_sees_the_deploy_in_its_environment_and_runs_in_the_config_dir(
        tmp_path: Path) -> None:
    recorder = Recorder()
    shop = project(after_deploy=['echo "$DEPLOYTUI_PROJECT $DEPLOYTUI_ENV $DEPLOYTUI_RELEASE '
                                 '$DEPLOYTUI_SHA $DEPLOYTUI_REF $DEPLOYTUI_USER '
                                 '$DEPLOYTUI_OUTCOME"', "pwd"])
    error = run_hooks(shop, "after_deploy", CONTEXT, sink=recorder, cwd=tmp_path,
                      outcome="success")
    assert error is None
    assert lines(recorder) == [
        'hook after_deploy: $ echo "$DEPLOYTUI_PROJECT $DEPLOYTUI_ENV $DEPLOYTUI_RELEASE '
        '$DEPLOYTUI_SHA $DEPLOYTUI_REF $DEPLOYTUI_USER $DEPLOYTUI_OUTCOME"',
        f"shop prod 20261130104500 {'a' * 40} main ana@laptop success",
        "hook after_deploy: $ pwd",
        str(tmp_path)]


def test_before_the_end_there_is_no_outcome_variable(tmp_path: Path) -> None:
    recorder = Recorder()
    run_hooks(project(before_deploy=['echo "[${DEPLOYTUI_OUTCOME-unset}]"']), "before_deploy",
              CONTEXT, sink=recorder, cwd=tmp_path)
    assert lines(recorder)[-1] == "[unset]"


def test_the_first_failing_command_stops_the_hook_and_is_named(tmp_path: Path) -> None:
    recorder = Recorder()
    error = run_hooks(project(before_deploy=["echo checking CI", "echo red >&2; exit 4",
                                             "touch never"]),
                      "before_deploy", CONTEXT, sink=recorder, cwd=tmp_path)
    assert error == "before_deploy: echo red >&2; exit 4: red (exit 4)"
    assert not (tmp_path / "never").exists()


def test_a_hook_that_hangs_is_killed_at_the_project_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    error = run_hooks(project(timeout=1, after_failure=["sleep 30 & sleep 30"]),
                      "after_failure", CONTEXT, sink=Recorder(), cwd=tmp_path)
    assert error is not None and "timed out after 1s" in error
    assert time.monotonic() - started < 8


class _Secrets:
    def known_values(self) -> list[str]:
        return ["s3cr3t-token"]


def test_hook_output_is_redacted_like_every_other_line(tmp_path: Path) -> None:
    recorder = Recorder()
    run_hooks(project(after_deploy=["echo token=s3cr3t-token"]), "after_deploy", CONTEXT,
              sink=redacting_sink(recorder, _Secrets()), cwd=tmp_path)
    assert lines(recorder)[-1] == "token=****"


def test_no_hooks_configured_runs_nothing(tmp_path: Path) -> None:
    recorder = Recorder()
    assert run_hooks(project(), "after_rollback", CONTEXT, sink=recorder, cwd=tmp_path) is None
    assert recorder.events == []
