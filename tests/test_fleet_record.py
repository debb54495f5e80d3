"""The fleet's record: every operation leaves one JSON line on every host it reached, and
`history --fleet` shows every operator's operations from any machine (real sshd fleet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.fleet_history import read_fleet_history
from deploytui.engine.operations.prune import delete_release, run_prune
from deploytui.engine.operations.rollback import run_rollback
from deploytui.engine.remote import fleet_log
from deploytui.engine.remote.fleet_log import LOG_MAX, FleetRecord, ci_actor
from deploytui.engine.remote.layout import Layout

ROOT = Path(__file__).resolve().parent.parent
APP = "/srv/app"
LOG = f"{APP}/.deploytui/fleet.log"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    for name, _ci in fleet_log.CI_ACTORS:  # the suite may itself run in CI
        monkeypatch.delenv(name, raising=False)


def records(host) -> list[dict]:
    path = host.path(LOG)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def load(fleet: Fleet, n: int = 3, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(n, **overrides)), "test.yml")


def deploy(config: Config, user: str = "ann@laptop", **kw):
    project = config.projects["app"]
    sink = kw.pop("sink", Recorder())
    return run_deploy(config, DeployRequest(project, project.environments["prod"], user=user,
                                            **kw), sink=sink)


class Operator:
    """Someone at their own machine: their own HOME (so their own journal, cache and
    user name), running the real `deploytui` command."""

    def __init__(self, name: str, home: Path, config: Path, extra: dict | None = None):
        self.name, self.config = name, config
        home.mkdir(parents=True, exist_ok=True)
        drop = {"DEPLOYTUI_DATA_DIR", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                *(n for n, _ in fleet_log.CI_ACTORS)}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(HOME=str(home), USER=name, LOGNAME=name, PYTHONPATH=str(ROOT),
                        **(extra or {}))

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(self.config),
                               *args], capture_output=True, text=True, env=self.env,
                              timeout=50, stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def fleet_history(self) -> dict:
        return json.loads(self.run("history", "app", "prod", "--fleet", "--json").stdout)


def test_two_operators_with_separate_homes_see_each_others_deploy_rollback_and_break_lock(
        hosts: Fleet, tmp_path: Path):
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(3))
    ann = Operator("ann", tmp_path / "ann", path)
    bob = Operator("bob", tmp_path / "bob", path)

    ann.run("deploy", "app", "prod")
    bob.run("deploy", "app", "prod", "--force")  # the same commit again: a second release
    bob.run("rollback", "app", "prod")
    ann.run("lock", "app", "prod")
    bob.run("deploy", "app", "prod", "--force", "--break-lock")

    seen_by_ann = ann.fleet_history()
    seen_by_bob = bob.fleet_history()
    assert seen_by_ann["unreachable"] == {} and seen_by_ann["hosts"] == [
        "host1", "host2", "host3"]
    what = [(e["operation"], e["user"].split("@")[0], e["outcome"])
            for e in seen_by_ann["entries"]]
    assert what == [("deploy", "bob", "success"), ("lock", "ann", "success"),
                    ("rollback", "bob", "success"), ("deploy", "bob", "success"),
                    ("deploy", "ann", "success")]  # newest first
    assert [(e["id"], e["operation"]) for e in seen_by_bob["entries"]] == [
        (e["id"], e["operation"]) for e in seen_by_ann["entries"]]
    broke = seen_by_ann["entries"][0]
    assert broke["forced"] == ["break-lock", "force"]
    assert "broke the lock held by ann@" in broke["note"]
    assert broke["hosts"] == {h: "success" for h in ("host1", "host2", "host3")}
    # each operator's own operations are also in their journal: merged by id, not doubled
    by_ann = {e["id"]: e["source"] for e in seen_by_ann["entries"]}
    by_bob = {e["id"]: e["source"] for e in seen_by_bob["entries"]}
    ann_deploy = seen_by_ann["entries"][-1]["id"]
    assert by_ann[ann_deploy] == "both" and by_bob[ann_deploy] == "fleet"
    assert by_bob[broke["id"]] == "both" and by_ann[broke["id"]] == "fleet"
    assert seen_by_bob["entries"][0]["log_dir"] and not seen_by_ann["entries"][0]["log_dir"]
    # the table says the same to a person
    table = ann.run("history", "app", "prod", "--fleet").stdout
    assert "FORCED break-lock,force" in table and "rollback" in table


def test_every_operation_appends_one_line_on_every_host_it_reached(hosts: Fleet,
                                                                  tmp_path: Path):
    config = load(hosts, 2, keep_releases=1)
    assert deploy(config, release_id="20240101000001").outcome == "success"
    assert deploy(config, release_id="20240101000002").outcome == "success"
    assert run_rollback(config, "app", "prod", user="cy@ci").ok
    assert not run_prune(config, "app", "prod", keep=1, user="cy@ci").error
    assert not delete_release(config, "app", "prod", "20240101000002", user="cy@ci").error
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2))
    cy = Operator("cy", tmp_path / "cy", path)
    for command in (["lock"], ["unlock"], ["freeze", "--until", "1h", "--reason", "audit"],
                    ["unfreeze"]):
        cy.run(command[0], "app", "prod", *command[1:])
    for host in hosts.hosts[:2]:
        lines = records(host)
        assert [r["operation"] for r in lines] == [
            "deploy", "deploy", "rollback", "prune", "delete", "lock", "unlock", "freeze",
            "unfreeze"]
        assert len({r["id"] for r in lines}) == len(lines)
        first = lines[0]
        assert first["user"] == "ann@laptop" and first["release"] == "20240101000001"
        assert len(first["sha"]) == 40 and first["ref"] == "main"
        assert first["outcome"] == "success" and first["duration"] > 0
        assert lines[2]["release"] == "20240101000001" and lines[2]["sha"] == first["sha"]
        assert lines[4]["ref"] == "20240101000002"
        assert lines[6]["note"].startswith("removed the lock of cy@")
        assert lines[7]["note"] == "audit" and lines[7]["ref"].startswith("until ")
    assert not hosts.hosts[2].path(LOG).exists()  # not in the environment: never reached
    # revisions.log stays Capistrano's, one line per deploy and rollback
    assert len(hosts.hosts[0].path(f"{APP}/revisions.log").read_text().splitlines()) == 3


def test_a_failed_deploy_is_recorded_with_its_error_and_excluded_hosts_are_noted(
        hosts: Fleet):
    config = load(hosts, 3)
    assert deploy(config, release_id="20240101000001").outcome == "success"
    hosts.hosts[1].set_marker("fail-build")
    failed = deploy(config, release_id="20240101000002", exclude=("host3",))
    assert failed.outcome == "failed"
    for host in hosts.hosts[:2]:
        last = records(host)[-1]
        assert last["outcome"] == "failed" and last["id"] == failed.op_id
        assert "host2" in last["error"] and last["excluded"] == ["host3"]
    assert len(records(hosts.hosts[2])) == 1  # left out: not reached, not written


@pytest.mark.parametrize("checks_size", [False, True], ids=["plain", "checking-size"])
def test_a_record_that_cannot_be_appended_is_a_warning_never_a_failed_deploy(
        hosts: Fleet, checks_size: bool, monkeypatch: pytest.MonkeyPatch):
    # one append in sixteen checks the size first: a directory is never rotated away
    monkeypatch.setattr(fleet_log, "size_check_due", lambda _id: checks_size)
    config = load(hosts, 2)
    hosts.hosts[0].path(LOG).mkdir(parents=True)  # a directory where the log should be
    subprocess.run(["chmod", "-R", "a+rwX", str(hosts.hosts[0].path(f"{APP}/.deploytui"))],
                   check=True)
    result = deploy(config, release_id="20240101000001")
    assert result.outcome == "success", result.error
    assert any(w.startswith("host1: fleet record:") for w in result.warnings)
    assert records(hosts.hosts[1])[0]["outcome"] == "success"
    assert hosts.hosts[0].path(LOG).is_dir()
    assert not hosts.hosts[0].path(LOG).with_name("fleet.log.1").exists()


def test_the_log_is_bounded_rotating_to_dot_1_and_both_are_read_back(hosts: Fleet):
    config = load(hosts, 1)
    old = FleetRecord.now("lock", "app", "prod", "old@box").line() + "\n"
    log = hosts.hosts[0].path(LOG)
    log.parent.mkdir(parents=True)
    log.write_text(old * (LOG_MAX // len(old) + 1))
    subprocess.run(["chmod", "-R", "a+rwX", str(log.parent)], check=True)
    env = config.projects["app"].environments["prod"]
    checking = FleetRecord.now("unlock", "app", "prod", "cy@box")
    with HostPool(env.hosts, transport_factory(config)) as pool:
        pool.connect()
        command = fleet_log.append_command(Layout(APP), checking, check_size=True)
        assert pool.transports["host1"].run(command, timeout=30).ok
    assert [r["user"] for r in records(hosts.hosts[0])] == ["cy@box"]
    assert log.with_name("fleet.log.1").stat().st_size >= LOG_MAX
    result = deploy(config, release_id="20240101000001")
    assert result.outcome == "success"
    history = read_fleet_history(config, "app", "prod")
    assert [e.record.user for e in history.entries[:3]] == ["ann@laptop", "cy@box",
                                                            "old@box"]
    assert history.entries[0].record.id == result.op_id


def test_one_append_in_sixteen_checks_the_size_chosen_by_the_operation_id():
    layout = Layout(APP)
    due = [fleet_log.size_check_due(f"20260101T000000-abcde{d}") for d in "0123456789abcdef"]
    assert due.count(True) == 1
    quiet = FleetRecord.now("lock", "app", "prod", "x@y")
    quiet.id = quiet.id[:-1] + "1"
    assert "wc -c" not in fleet_log.append_command(layout, quiet)
    quiet.id = quiet.id[:-1] + "0"
    assert "wc -c" in fleet_log.append_command(layout, quiet)


def test_appends_from_two_writers_at_once_never_tear_or_lose_a_line_even_rotating(
        hosts: Fleet):
    config = load(hosts, 1)
    layout = Layout(APP)
    project = config.projects["app"]
    env = project.environments["prod"]
    big = "x" * 2500  # near the bound: the line is still written whole
    with HostPool(list(env.hosts), transport_factory(config)) as first, \
            HostPool(list(env.hosts), transport_factory(config)) as second:
        first.connect()
        second.connect()

        finished: dict[str, bool | str] = {}

        def writer(pool: HostPool, who: str) -> None:
            transport = pool.transports["host1"]
            script = "\n".join(fleet_log.append_command(  # every one checks: rotations race
                layout, FleetRecord.now("lock", "app", "prod", f"{who}{i}", note=big),
                check_size=True) for i in range(60))
            result = transport.run(script, capture=True, timeout=50)
            finished[who] = result.ok or result.stderr

        threads = [threading.Thread(target=writer, args=(p, w))
                   for p, w in ((first, "a"), (second, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(50)
    assert finished == {"a": True, "b": True}
    log = hosts.hosts[0].path(LOG)
    text = log.with_name("fleet.log.1").read_text() + log.read_text()  # it rotated meanwhile
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 120 and all(r["note"] == big for r in lines)
    assert {r["user"] for r in lines} == {f"{w}{i}" for w in "ab" for i in range(60)}


def test_history_fleet_names_a_host_that_does_not_answer_and_shows_the_others(
        hosts: Fleet, tmp_path: Path):
    config = load(hosts, 3)
    assert deploy(config, release_id="20240101000001").outcome == "success"
    hosts.hosts[2].kill()
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(3))
    dee = Operator("dee", tmp_path / "dee", path)
    done = dee.run("history", "app", "prod", "--fleet", "--json")
    seen = json.loads(done.stdout)
    assert list(seen["unreachable"]) == ["host3"]
    assert "host3: not answering" in done.stderr
    assert seen["entries"][0]["hosts"] == {"host1": "success", "host2": "success"}


def test_in_ci_the_record_names_the_ci_actor(hosts: Fleet, tmp_path: Path):
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(1))
    ci = Operator("runner", tmp_path / "ci", path, {"GITHUB_ACTOR": "octocat", "CI": "true"})
    ci.run("deploy", "app", "prod", "--yes")
    (entry,) = ci.fleet_history()["entries"]
    assert entry["actor"] == "github:octocat" and entry["user"].startswith("runner@")
    assert "github:octocat" in ci.run("history", "app", "prod", "--fleet").stdout


def test_the_ci_actor_is_the_first_set_in_the_documented_order():
    assert ci_actor({}) == ""
    assert ci_actor({"BUILD_USER": "Jo", "GITLAB_USER_LOGIN": "jo"}) == "gitlab:jo"
    assert ci_actor({"BUILD_USER_ID": "jo", "BUILD_USER": "Jo Q"}) == "jenkins:jo"
    assert ci_actor({"BITBUCKET_STEP_TRIGGERER_UUID": "{u}"}) == "bitbucket:{u}"
    assert ci_actor({"DEPLOYTUI_ACTOR": "release-bot", "GITHUB_ACTOR": "x"}) == "release-bot"


def test_a_record_line_stays_below_the_atomic_write_bound_whatever_it_holds():
    record = FleetRecord.now("deploy", "app", "prod", "ann@laptop",
                             excluded=[f"host{i:04d}" for i in range(600)],
                             error="boom " * 2000, note="n" * 5000)
    line = record.line()
    assert len(line.encode()) <= fleet_log.RECORD_MAX
    parsed = FleetRecord.parse(line)
    assert parsed is not None and parsed.excluded[-1] == "+580 more"
