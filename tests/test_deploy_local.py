"""The deploy engine on local hosts (transport: local): its logic, without the fleet.

Each "host" is a deploy_to directory on this machine; the sample repo is a real git
repository. Remote behaviour over SSH is asserted in test_deploy_fleet.py.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from deploytui.config.model import Config, Environment, Host, Project, Role
from deploytui.engine.events import PhaseStarted, Recorder, Switched, SwitchedBack, each_line
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.plan import build_plan
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LockInfo, read_lock
from deploytui.sample_app import create_sample_repo

RID1, RID2 = "20240101000001", "20240101000002"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    create_sample_repo(tmp_path / "repo")
    return tmp_path


def make(world: Path, n: int = 3, **overrides) -> tuple[Config, Project]:
    host_roles = overrides.pop("host_roles", ("web",))
    hosts = tuple(Host(f"h{i}", "localhost", roles=host_roles,
                       transport="local", deploy_to=str(world / f"h{i}"))
                  for i in range(1, n + 1))
    spec = {"build": ("sh build.sh",),
            "roles": {"web": Role("web", restart=("sh restart.sh",))}, **overrides}
    project = Project("app", str(world / "repo"), "/srv/unused",
                      {"prod": Environment("prod", hosts)}, **spec)
    return Config(None, {"app": project}), project


def deploy(config: Config, project: Project, **kw):
    sink = kw.pop("sink", None) or Recorder()
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop", **kw)
    return run_deploy(config, request, sink=sink, cancel=kw.get("cancel"))


def current(world: Path, host: str) -> str | None:
    link = world / host / "current"
    return Path(link.readlink()).name if link.is_symlink() else None


def meta(world: Path, host: str, rid: str) -> dict:
    return json.loads((world / host / ".deploytui" / "releases" / f"{rid}.json").read_text())


def releases(world: Path, host: str) -> list[str]:
    d = world / host / "releases"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_a_release_deploy_switches_every_host_to_the_same_release_and_records_it(world):
    config, project = make(world)
    result = deploy(config, project, release_id=RID1)
    assert result.outcome == "success", result.error
    assert [r.outcome for r in result.hosts.values()] == ["deployed"] * 3
    for host in ("h1", "h2", "h3"):
        assert current(world, host) == RID1
        assert (world / host / "current").readlink() == world / host / "releases" / RID1
        assert (world / host / "releases" / RID1 / "REVISION").read_text().strip() == result.sha
        assert meta(world, host, RID1)["state"] == "ok"
        assert (world / host / "revisions.log").read_text() == (
            f"Branch main (at {result.sha}) deployed as release {RID1} by ann@laptop\n")
        assert not (world / host / ".deploytui" / "lock").exists()


def test_one_host_failing_its_build_leaves_every_host_on_its_old_release(world):
    config, project = make(world)
    assert deploy(config, project, release_id=RID1).outcome == "success"
    failing = Project(**{**project.__dict__, "build": (
        'if [ "$DEPLOYTUI_HOST" = h2 ]; then echo broken >&2; exit 1; fi',)})
    result = deploy(config, failing, release_id=RID2)
    assert result.outcome == "failed"
    assert result.hosts["h2"].outcome == "failed"
    assert result.error == f"h2: build: {failing.build[0]}: broken (exit 1)"
    for host in ("h1", "h2", "h3"):
        assert current(world, host) == RID1
        assert releases(world, host) == [RID1]  # the unfinished release is gone
        assert meta(world, host, RID2)["state"] == "failed"  # but its record stays
        assert not (world / host / ".deploytui" / "lock").exists()


def test_roles_run_in_order_and_once_runs_on_the_first_host_of_its_role_exactly_once(world):
    log = world / "trace.log"
    roles = {
        "db": Role("db", tasks=(f"echo $DEPLOYTUI_HOST db-task >> {log}",),
                   once=(f"echo $DEPLOYTUI_HOST db-once >> {log}",)),
        "web": Role("web", tasks=(f"echo $DEPLOYTUI_HOST web-task >> {log}",),
                    restart=(f"echo $DEPLOYTUI_HOST web-restart >> {log}",), parallel=False),
    }
    config, project = make(world, roles=roles, host_roles=("web", "db"))
    assert deploy(config, project).outcome == "success"
    lines = log.read_text().splitlines()
    assert [ln for ln in lines if "once" in ln] == ["h1 db-once"]
    for host in ("h1", "h2", "h3"):
        mine = [ln.split()[1] for ln in lines if ln.startswith(host + " ")]
        assert mine.index("db-task") < mine.index("web-task")
    restarts = [ln for ln in lines if "restart" in ln]
    assert restarts == ["h1 web-restart", "h2 web-restart", "h3 web-restart"]


def test_restarts_in_batches_finish_a_batch_before_the_next_starts(world):
    log = world / "batches.log"
    cmd = f"echo start $DEPLOYTUI_HOST >> {log}; sleep 0.3; echo end $DEPLOYTUI_HOST >> {log}"
    config, project = make(world, 4, roles={"web": Role("web", restart=(cmd,), batch=2)})
    assert deploy(config, project).outcome == "success"
    lines = log.read_text().splitlines()
    first_batch_ends = max(lines.index("end h1"), lines.index("end h2"))
    second_batch_starts = min(lines.index("start h3"), lines.index("start h4"))
    assert first_batch_ends < second_batch_starts


def test_cancel_before_the_switch_changes_nothing_and_releases_the_lock(world):
    config, project = make(world, build=("echo slow build; sleep 20",))
    cancel = threading.Event()
    recorder = Recorder()

    def sink(event):
        recorder(event)
        if any(e.line == "slow build" for e in each_line([event])):
            cancel.set()

    began = time.monotonic()
    request = DeployRequest(project, project.environments["prod"])
    result = run_deploy(config, request, sink=sink, cancel=cancel)
    assert time.monotonic() - began < 10
    assert result.outcome == "cancelled"
    assert not recorder.of(Switched)
    for host in ("h1", "h2", "h3"):
        assert current(world, host) is None
        assert releases(world, host) == []
        assert not (world / host / ".deploytui" / "lock").exists()


def test_a_failed_switch_on_one_host_switches_the_others_back(world):
    config, project = make(world)
    assert deploy(config, project, release_id=RID1).outcome == "success"
    recorder = Recorder()

    def sink(event):  # sabotage host h2 right before the switch
        recorder(event)
        if isinstance(event, PhaseStarted) and event.phase == "switch":
            shutil.rmtree(world / "h2" / "releases" / RID2)

    result = deploy(config, project, release_id=RID2, sink=sink)
    assert result.outcome == "failed"
    assert result.hosts["h2"].outcome == "failed"
    assert {result.hosts[h].outcome for h in ("h1", "h3")} == {"switched back"}
    assert sorted(e.host for e in recorder.of(SwitchedBack)) == ["h1", "h3"]
    for host in ("h1", "h2", "h3"):
        assert current(world, host) == RID1
        assert releases(world, host) == [RID1]


def test_a_held_lock_refuses_the_deploy_and_changes_nothing_until_broken(world):
    config, project = make(world)
    layout = Layout(str(world / "h3"))
    holder = LockInfo(user="bob@desk", project="app", environment="prod", ref="feature")
    (world / "h3" / ".deploytui" / "lock").mkdir(parents=True)
    (world / "h3" / ".deploytui" / "lock" / "info").write_text(holder.to_json())
    result = deploy(config, project)
    assert result.outcome == "locked"
    assert "h3: locked by bob@desk since" in result.error and "(deploying feature)" in result.error
    for host in ("h1", "h2"):
        assert not (world / host / ".deploytui" / "lock").exists()  # ours released
        assert releases(world, host) == []
    transport = LocalTransport("h3")
    assert read_lock(transport, layout).user == "bob@desk"
    broken = deploy(config, project, break_lock=True)
    assert broken.outcome == "success"
    assert any("bob@desk" in w for w in broken.warnings)
    assert read_lock(transport, layout) is None


def test_an_existing_release_id_is_refused_not_overwritten(world):
    config, project = make(world)
    assert deploy(config, project, release_id=RID1).outcome == "success"
    marker = world / "h2" / "releases" / RID1 / "KEEP"
    marker.write_text("x")
    result = deploy(config, project, release_id=RID1)
    assert result.outcome == "failed"
    assert "already exists" in result.error
    assert marker.exists() and current(world, "h2") == RID1


def test_a_missing_shared_file_fails_naming_host_and_path_but_dirs_are_created(world):
    config, project = make(world, shared=("media", ".env"))
    for host in ("h1", "h3"):
        (world / host / "shared").mkdir(parents=True)
        (world / host / "shared" / ".env").write_text("A=1\n")
    result = deploy(config, project)
    assert result.outcome == "failed"
    assert result.error.startswith("h2: link shared: missing shared file")
    assert str(world / "h2" / "shared" / ".env") in result.error
    assert (world / "h1" / "shared" / "media").is_dir()
    assert all(current(world, h) is None for h in ("h1", "h2", "h3"))


def test_injection_in_a_ref_or_a_shared_path_never_runs(world, tmp_path):
    evil = tmp_path / "pwned"
    config, project = make(world)
    result = deploy(config, project, ref=f"main; touch {evil}")
    assert result.outcome == "failed" and "not found" in result.error
    sneaky = Project(**{**project.__dict__, "shared": (f"x$(touch {evil})",),
                        "branch": f"main`touch {evil}`"})
    assert deploy(config, sneaky).outcome == "failed"
    assert deploy(config, sneaky, ref="main").outcome == "success"
    assert (world / "h1" / "shared" / f"x$(touch {evil})").is_dir()
    assert not evil.exists()


def test_artifact_builds_once_locally_and_unpacks_the_same_tree_everywhere(world):
    config, project = make(world, strategy="artifact")
    recorder = Recorder()
    result = deploy(config, project, sink=recorder)
    assert result.outcome == "success", result.error
    builds = [e for e in recorder.lines() if e.line == "Build complete"]
    assert [e.host for e in builds] == ["local"]
    for host in ("h1", "h2", "h3"):
        rel = world / host / "releases" / result.release_id
        assert (rel / "REVISION").read_text().strip() == result.sha
        assert (rel / "app.py").exists() and not (rel / ".deploytui-artifact.tar.gz").exists()


def test_an_artifact_without_a_build_is_the_commits_tree_as_git_archive_packs_it(world):
    config, project = make(world, strategy="artifact", build=())
    result = deploy(config, project)
    assert result.outcome == "success", result.error
    for host in ("h1", "h2", "h3"):
        rel = world / host / "releases" / result.release_id
        assert (rel / "REVISION").read_text().strip() == result.sha
        assert (rel / "app.py").read_text() == (world / "repo" / "app.py").read_text()
        assert not (rel / ".deploytui-artifact.tar.gz").exists()


def test_pull_moves_the_working_copy_to_the_exact_sha_and_logs_it(world):
    config, project = make(world, strategy="pull")
    first = deploy(config, project, ref="HEAD~1", release_id=RID1)
    assert first.outcome == "success", first.error
    second = deploy(config, project, release_id=RID2)
    assert second.outcome == "success", second.error
    for host in ("h1", "h2", "h3"):
        import subprocess
        head = subprocess.run(["git", "-C", str(world / host), "rev-parse", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        assert head == second.sha
        log = (world / host / "revisions.log").read_text().splitlines()
        assert [ln.split()[3].rstrip(")") for ln in log] == [first.sha, second.sha]


def test_the_dry_run_plan_shows_release_sha_roles_once_host_and_commands(world):
    roles = {"web": Role("web", once=("python migrate.py",), restart=("sh restart.sh",))}
    config, project = make(world, roles=roles)
    request = DeployRequest(project, project.environments["prod"], release_id=RID1)
    plan = build_plan(config, request)
    assert plan.release_id == RID1 and len(plan.sha) == 40
    assert plan.hosts_by_role == {"web": ["h1", "h2", "h3"]}
    assert plan.once_host == {"web": "h1"}
    text = "\n".join(plan.lines())
    assert "python migrate.py" in "\n".join(plan.commands["h1"])
    assert "python migrate.py" not in "\n".join(plan.commands["h2"])
    assert RID1 in text and plan.sha in text
    assert not (world / "h1").exists()  # nothing touched


def test_a_local_step_that_leaves_a_process_on_its_output_ends_and_names_it():
    """As over SSH (test_runner_shell.py): the step is not waited for past its end, and
    the process still holding its output is named, by pid, when the step passed."""
    transport = LocalTransport("h1")
    transport.connect()
    try:  # a step waited for past its end would time out (30 s) and fail the test
        left = transport.run("sleep 306 & echo $!", capture=True, timeout=30)
        redirected = transport.run("sleep 307 >/dev/null 2>&1 & echo $!", capture=True,
                                   timeout=30)
        failed = transport.run("sleep 308 & exit 3", capture=True, timeout=30)
    finally:
        transport.run("pkill -f 'sleep 30[678]' || true")
        transport.close()
    assert left.ok and left.stderr.startswith(
        "deploytui: left running in the background, writing to this step's output:"
        f" {left.stdout} (sleep).")
    assert redirected.ok and redirected.stderr == ""
    assert failed.exit_code == 3 and failed.stderr == ""
