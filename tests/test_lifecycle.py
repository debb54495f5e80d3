"""The operation skeleton (engine/operations/lifecycle.py) and the pool's result, on the
fleet: what every operation gets for free, and what a new phase has to do (nothing but
its work)."""

from __future__ import annotations

from fleet import Fleet
from release_fleet import load

from deploytui.config.secrets import SecretResolver
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HostFailed,
    PhaseFinished,
    PhaseStarted,
    Recorder,
)
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.operations.lifecycle import Lifecycle, Phase, Stop
from deploytui.engine.operations.result import OperationResult


class Checkup(Lifecycle):
    """A made-up operation: one phase that runs `command` on every host."""

    operation = "deploy"

    def __init__(self, config, command: str, sink, *, blow_up: bool = False) -> None:
        project = config.projects["app"]
        super().__init__(config, project, project.environments["prod"], sink=sink,
                         factory=transport_factory(config), user="ann@laptop",
                         resolver=SecretResolver())
        self.command, self.blow_up, self.undone = command, blow_up, False

    def phases(self) -> list[Phase]:
        return [Phase("verify", self._verify)]

    def _verify(self) -> None:
        if self.blow_up:
            raise RuntimeError("a bug")
        failed = self.fail_all(self.pool.map(
            lambda h, t: t.run(self.command, capture=True), step="verify"), "verify")
        if failed:
            raise self.first_stop(failed)

    def on_stop(self, stop: Stop) -> None:
        self.undone = True

    def result(self) -> OperationResult:
        return OperationResult()  # nothing of its own: the skeleton fills the rest


def locked(fleet: Fleet, n: int) -> list[bool]:
    return [h.path("/srv/app/.deploytui/lock").exists() for h in fleet.hosts[:n]]


def test_the_pool_reports_a_non_zero_exit_as_a_failure_with_host_step_and_reason(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    env = config.projects["app"].environments["prod"]
    with HostPool(env.hosts, transport_factory(config)) as pool:
        assert pool.connect() == {}
        result = pool.map(lambda h, t: t.run("hostname; [ $(hostname) = host1 ] ||"
                                             " { echo nope >&2; exit 3; }", capture=True),
                          step="check")
    assert list(result.succeeded) == ["host1"]
    failure = result.failed["host2"]
    assert (failure.host, failure.step, failure.reason, failure.kind) == (
        "host2", "check", "nope", "failed")
    assert result["host2"].value.exit_code == 3  # the output is kept for who wants it


def test_a_phase_that_stops_gets_its_events_the_undo_and_the_unlock_for_free(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    recorder = Recorder()
    run = Checkup(config, "[ $(hostname) = host1 ] || { echo sick >&2; exit 1; }",
                  recorder)
    result = run.execute()
    assert result.outcome == "failed" and run.undone
    assert result.error == "host2: verify: sick" == str(run.stopped)
    assert result.failed_hosts == {"host2": "verify: sick"} and result.op_id
    phases = [(type(e).__name__, e.phase, getattr(e, "ok", None))
              for e in recorder.events if isinstance(e, (PhaseStarted, PhaseFinished))]
    assert phases == [("PhaseStarted", "preflight", None), ("PhaseFinished", "preflight", True),
                      ("PhaseStarted", "verify", None), ("PhaseFinished", "verify", False)]
    assert [e.host for e in recorder.of(HostFailed)] == ["host2"]
    assert isinstance(recorder.events[0], DeployStarted)
    finished = recorder.of(DeployFinished)[0]
    assert finished.failed_hosts == {"host2": "verify: sick"}
    assert locked(hosts, 2) == [False, False]


def test_a_bug_in_a_phase_is_one_line_and_the_locks_are_still_released(hosts: Fleet) -> None:
    config = load(hosts, 2)
    recorder = Recorder()
    result = Checkup(config, "true", recorder, blow_up=True).execute()
    assert result.outcome == "failed" and result.error == "internal error: RuntimeError: a bug"
    assert recorder.of(DeployFinished)[0].error == result.error
    assert locked(hosts, 2) == [False, False]


def test_an_unreachable_host_stops_the_run_in_preflight_as_unreachable(hosts: Fleet) -> None:
    config = load(hosts, 2)
    hosts.hosts[1].kill()
    run = Checkup(config, "true", Recorder())
    assert run.execute().outcome == "failed"
    assert run.stopped is not None and run.stopped.failure.kind == "unreachable"
    assert run.stopped.failure.step == "connect" and run.stopped.failure.host == "host2"
    assert run.held == set()  # nothing was locked, so nothing to release
    assert locked(hosts, 1) == [False]
