"""The deploy lock over real SSH, and the CLI's lock, unlock and deploy exit codes."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import (
    Locked,
    LockInfo,
    acquire_locks,
    read_lock,
    release_locks,
    take_locks,
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def write(fleet: Fleet, tmp_path: Path, **overrides) -> Path:
    return fleet.write_config(tmp_path / "deploytui.yml", fleet.config(3, **overrides))


def pool_of(fleet: Fleet):
    config = load_config_text(json.dumps(fleet.config(3)), "t.yml")
    env = config.projects["app"].environments["prod"]
    pool = HostPool(env.hosts, transport_factory(config))
    assert pool.connect() == {}
    return pool, {h.name: Layout("/srv/app") for h in env.hosts}


def test_a_lock_is_all_or_nothing_and_names_its_holder(hosts: Fleet):
    pool, layouts = pool_of(hosts)
    with pool:
        mine = LockInfo(user="ann@laptop", project="app", environment="prod", ref="main")
        acquire_locks(pool, {"host2": layouts["host2"]}, mine)
        theirs = LockInfo(user="bob@desk", ref="v2")
        with pytest.raises(Locked) as err:
            acquire_locks(pool, layouts, theirs)
        assert err.value.host == "host2"
        assert str(err.value).startswith("host2: locked by ann@laptop since ")
        assert str(err.value).endswith("(deploying main)")
        assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()  # bob let go
        holder = read_lock(pool.transports["host2"], layouts["host2"])
        assert holder is not None and holder.user == "ann@laptop"
        release_locks(pool, layouts, theirs)  # not bob's: stays
        assert read_lock(pool.transports["host2"], layouts["host2"]) is not None
        release_locks(pool, layouts, mine)
        assert read_lock(pool.transports["host2"], layouts["host2"]) is None


def test_with_nobody_else_holding_it_every_host_is_locked_in_the_same_round(hosts: Fleet):
    """No host waits for another's lock command: the first host's is still running (its
    probe sleeps) when the others' have taken theirs."""
    pool, layouts = pool_of(hosts)
    mine = LockInfo(user="ann@laptop", project="app", environment="prod", ref="main")

    def probe(host: str) -> str:
        stamp = "date +%s%N > /tmp/locked-at"
        return f"sleep 1.5; {stamp}" if host == "host1" else stamp

    with pool:
        take_locks(pool, layouts, mine, probe=probe)
        release_locks(pool, layouts, mine)
    at = {h.name: int(h.path("/tmp/locked-at").read_text()) for h in hosts.hosts[:3]}
    assert at["host2"] < at["host1"] and at["host3"] < at["host1"], at


def race(pools: list[HostPool], layouts: dict[str, Layout], infos: list[LockInfo]
         ) -> dict[str, str]:
    """Two take_locks started together: user -> "won" or "locked at HOST"."""
    import threading

    start = threading.Barrier(len(pools))
    outcome: dict[str, str] = {}

    def lock(i: int) -> None:
        start.wait()
        try:
            take_locks(pools[i], layouts, infos[i])
            outcome[infos[i].user] = "won"
        except Locked as exc:
            outcome[infos[i].user] = f"locked at {exc.host}"

    threads = [threading.Thread(target=lock, args=(i,)) for i in range(len(pools))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcome


def test_of_two_operations_locking_at_once_one_gets_every_host_the_other_none(hosts: Fleet):
    """Taking every host at once, each could win some; then both let go and take them
    again in order, and the one that gets the first host gets them all."""
    config = load_config_text(json.dumps(hosts.config(5)), "t.yml")
    env = config.projects["app"].environments["prod"]
    layouts = {h.name: Layout("/srv/app") for h in env.hosts}
    for _ in range(4):
        pools = [HostPool(env.hosts, transport_factory(config)) for _ in range(2)]
        for pool in pools:
            assert pool.connect() == {}
        infos = [LockInfo(user=f"{who}@desk", project="app", environment="prod")
                 for who in ("ann", "bob")]
        outcome = race(pools, layouts, infos)
        assert sorted(outcome.values())[-1] == "won" and sorted(outcome.values())[0] != "won", \
            outcome
        winner = next(i for i, info in enumerate(infos) if outcome[info.user] == "won")
        holders = {name: read_lock(pools[0].transports[name], layout)
                   for name, layout in layouts.items()}
        assert {h.user for h in holders.values() if h} == {infos[winner].user}
        assert all(holders.values()), holders
        release_locks(pools[winner], layouts, infos[winner])
        for pool in pools:
            pool.close()
    assert not any(h.path("/srv/app/.deploytui/lock").exists() for h in hosts.hosts[:5])


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handler, even in a suite started with SIGINT ignored (as a
    shell starts a background job): interrupt_main() does nothing then."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_while_the_locks_are_being_taken_leaves_no_lock_behind(hosts: Fleet):
    """Ctrl-C (SIGINT in the main thread) landing while the lock commands run: the ones in
    flight finish, and every lock they took is released before the interrupt goes on."""
    import _thread

    pool, layouts = pool_of(hosts)
    mine = LockInfo(user="ann@laptop", project="app", environment="prod", ref="main")

    def probe(host: str) -> str:
        if host == "host3":  # the last host: hosts 1 and 2 are locked by now
            _thread.interrupt_main()
        return "true"

    with pool:
        with pytest.raises(KeyboardInterrupt):
            take_locks(pool, layouts, mine, probe=probe)
            time.sleep(5)  # (without the fix the interrupt may only land here)
        for host in hosts.hosts[:3]:
            assert not host.path("/srv/app/.deploytui/lock").exists(), host.name


def test_cli_lock_blocks_a_deploy_with_exit_3_until_unlock_says_whose_it_was(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = str(write(hosts, tmp_path))
    assert main(["--config", path, "lock", "app", "prod"]) == 0
    capsys.readouterr()
    assert main(["--config", path, "deploy", "app", "prod"]) == 3
    err = capsys.readouterr().err
    assert "locked by " in err and "(locked by hand)" in err
    assert not hosts.hosts[0].path("/srv/app/releases").exists()
    assert main(["--config", path, "unlock", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert "[host1] removed the lock of " in out
    assert main(["--config", path, "deploy", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert "== prepare ==" in out and "[host2] Build complete" in out
    table = out[out.index("HOST"):].splitlines()
    assert table[0].split() == ["HOST", "OUTCOME", "DURATION", "RELEASE"]
    assert [row.split()[:2] for row in table[1:4]] == [
        ["host1", "deployed"], ["host2", "deployed"], ["host3", "deployed"]]


def test_cli_break_lock_deploys_over_a_stale_lock_and_says_whose_it_was(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = str(write(hosts, tmp_path))
    assert main(["--config", path, "lock", "app", "prod"]) == 0
    assert main(["--config", path, "deploy", "app", "prod", "--break-lock"]) == 0
    out = capsys.readouterr().out
    assert "broke the lock held by" in out
    assert not hosts.hosts[0].path("/srv/app/.deploytui/lock").exists()


def test_cli_deploy_exit_codes_for_failure_confirmation_and_dry_run(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = str(write(hosts, tmp_path))
    hosts.hosts[2].set_marker("fail-build")
    assert main(["--config", path, "deploy", "app", "prod"]) == 1
    captured = capsys.readouterr()
    assert "deploy failed: host3: build: sh build.sh: build failed: marker present" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert main(["--config", path, "deploy", "app", "prod", "--ref", "nope"]) == 1
    assert "ref 'nope' not found" in capsys.readouterr().err
    assert main(["--config", path, "deploy", "app", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "plan: deploy app/prod (release)" in out and "dry run: nothing was changed" in out
    data = hosts.config(3)
    data["projects"]["app"]["environments"]["prod"]["confirm"] = True
    confirm = str(hosts.write_config(tmp_path / "confirm.yml", data))
    assert main(["--config", confirm, "deploy", "app", "prod"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert all(not h.path("/srv/app/current").exists() for h in hosts.hosts[:3])
    hosts.hosts[2].clear_markers()
    assert main(["--config", confirm, "deploy", "app", "prod", "--yes"]) == 0
