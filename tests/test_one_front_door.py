"""One request in, one result out: every operation that reaches hosts goes through the
engine's `run_operation` and answers with the same OperationResult (outcome, error,
failed hosts, warnings, duration, id), which the CLI maps to an exit status by one rule;
a held lock is the same outcome for every operation, a cancel stops every operation
(prune and delete too, while they wait for a lock), a refusal is a result, not a raise."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fleet import Fleet
from release_fleet import R1, R2, R3, load, make_release, own, set_current

from deploytui.commands import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    exit_status,
)
from deploytui.engine import (
    CatchUpRequest,
    DeleteRequest,
    DeployRequest,
    OperationResult,
    PruneRequest,
    RollbackRequest,
    RunRequest,
    run_operation,
)


def three_releases(fleet: Fleet, hosts: int = 2) -> None:
    for host in fleet.hosts[:hosts]:
        for rid in (R1, R2, R3):
            make_release(host, rid)
        set_current(host, R3)


def held_by_bob(fleet: Fleet, hosts: int = 2) -> None:
    """Another operator's live lock on every host (not this machine's: never stale)."""
    for host in fleet.hosts[:hosts]:
        lock = host.path("/srv/app/.deploytui/lock")
        lock.mkdir(parents=True)
        (lock / "info").write_text(json.dumps({"user": "bob@ci", "operation": "deploy"}))
        own(fleet, host.path("/srv/app"))


@pytest.mark.parametrize("outcome, status", [
    ("success", EXIT_OK), ("unchanged", EXIT_OK), ("failed", EXIT_FAILED),
    ("rolled_back", EXIT_FAILED), ("locked", EXIT_LOCKED), ("cancelled", EXIT_CANCELLED)])
def test_one_rule_maps_every_outcome_to_an_exit_status(outcome: str, status: int) -> None:
    assert exit_status(OperationResult(outcome=outcome)) == status  # type: ignore[arg-type]


def test_a_refusal_of_the_request_itself_exits_2_and_of_the_fleet_1() -> None:
    assert exit_status(OperationResult(outcome="failed", refused=True, usage_error=True)) \
        == EXIT_USAGE
    assert exit_status(OperationResult(outcome="failed", refused=True)) == EXIT_FAILED


def test_every_operation_answers_with_the_same_result_filled_by_the_life_cycle(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    three_releases(hosts)
    project, env = config.projects["app"], config.projects["app"].environments["prod"]
    first = run_operation(config, DeployRequest(project, env))
    results = [first, run_operation(config, DeployRequest(project, env))]
    for request in (RollbackRequest("app", "prod", to=first.release_id),
                    RunRequest(project, env, "true"), DeleteRequest("app", "prod", R1),
                    PruneRequest("app", "prod", keep=1)):
        results.append(run_operation(config, request))
    for result in results:
        assert isinstance(result, OperationResult)
        assert result.outcome == "success" and result.ok, (result, result.error)
        assert result.op_id and result.duration > 0, result
        assert result.failed_hosts == {} and not result.refused, result
    assert len({r.op_id for r in results}) == len(results)  # one id per operation
    catch_up = run_operation(config, CatchUpRequest("app", "prod"))
    assert catch_up.ok and catch_up.plan.nothing_to_do


def test_a_held_lock_is_the_locked_outcome_and_exit_3_for_every_operation(
        hosts: Fleet) -> None:
    config = load(hosts, 2)
    three_releases(hosts)
    held_by_bob(hosts)
    project, env = config.projects["app"], config.projects["app"].environments["prod"]
    for request in (RollbackRequest("app", "prod", to=R2), PruneRequest("app", "prod", keep=1),
                    DeleteRequest("app", "prod", R1), DeployRequest(project, env)):
        result = run_operation(config, request)
        assert result.outcome == "locked", (request, result.outcome, result.error)
        assert "bob@ci" in result.error and exit_status(result) == EXIT_LOCKED
    for host in hosts.hosts[:2]:  # nothing was touched, and bob's lock is still his
        assert sorted(p.name for p in host.path("/srv/app/releases").iterdir()) == [R1, R2, R3]
        assert host.path("/srv/app/.deploytui/lock/info").exists()


@pytest.mark.parametrize("request_", [PruneRequest("app", "prod", keep=1, wait_lock=60),
                                      DeleteRequest("app", "prod", R1, wait_lock=60)],
                         ids=["prune", "delete"])
def test_prune_and_delete_stop_on_cancel_while_they_wait_for_a_lock(
        hosts: Fleet, request_: PruneRequest | DeleteRequest) -> None:
    """The console offers a five-minute wait for a lock; its Stop must end it."""
    config = load(hosts, 2)
    three_releases(hosts)
    held_by_bob(hosts)
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    began = time.monotonic()
    result = run_operation(config, request_, cancel=cancel)
    assert result.outcome == "cancelled" and exit_status(result) == EXIT_CANCELLED
    assert time.monotonic() - began < 15
    assert sorted(p.name for p in hosts.hosts[0].path("/srv/app/releases").iterdir()) == [
        R1, R2, R3]


def test_a_refusal_is_a_result_that_names_why_not_an_exception(hosts: Fleet) -> None:
    config = load(hosts, 2)
    three_releases(hosts)
    not_an_id = run_operation(config, DeleteRequest("app", "prod", "../../etc"))
    assert not_an_id.refused and not_an_id.usage_error and "not a release id" in \
        not_an_id.error
    unknown = run_operation(config, CatchUpRequest("app", "prod", ("host9",)))
    assert unknown.refused and "no host host9" in unknown.error
    assert exit_status(unknown) == EXIT_USAGE
    current = run_operation(config, RollbackRequest("app", "prod", to=R3))
    assert current.refused and current.usage_error and "already current" in current.error
