"""`deploytui run`: one command on hosts of an environment, against the real sshd fleet.

In `current`, with the project's env (secrets redacted), on every host, one host, a role
or the once-host; exit 0 only when every host exited 0, the others listed at the end;
no lock taken; refused while nothing is deployed; named commands from `commands:`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fleet import Fleet

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.engine.operations.deploy import DeployRequest, run_deploy

ROOT = Path(__file__).resolve().parents[1]
RID = "20261201000001"
ROLES = {"worker": {"restart": ["sh restart.sh"]},
         "web": {"once": ["echo migrated"], "restart": ["sh restart.sh"]}}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_SECRET_API_TOKEN", "tok-s3cr3t-value")


def fleet_config(fleet: Fleet, n: int = 3, **overrides: Any) -> dict:
    """host1 is a worker, the others web hosts: the once-host is host2."""
    data = fleet.config(n, roles=ROLES, **overrides)
    data["projects"]["app"]["env"] = {"APP_MODE": "calm", "API_TOKEN": {"secret": "api-token"}}
    for name, host in data["projects"]["app"]["environments"]["prod"]["hosts"].items():
        host["roles"] = ["worker"] if name == "host1" else ["web"]
    return data


def deployed(fleet: Fleet, tmp_path: Path, n: int = 3, config: dict | None = None,
             **overrides: Any) -> Path:
    data = config or fleet_config(fleet, n, **overrides)
    config = load_config_text(json.dumps(data), "t.yml")
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              release_id=RID))
    assert result.outcome == "success", result.error
    return fleet.write_config(tmp_path / "deploytui.yml", data)


def run(path: Path, *argv: str) -> int:
    return main(["--config", str(path), "run", "app", "prod", *argv])


def test_the_command_runs_in_current_on_every_host_prefixed_and_exits_0(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path)
    assert run(path, "--", "echo", "in", "$PWD", "on", "$(hostname)", "mode=$APP_MODE") == 0
    out = capsys.readouterr().out.splitlines()
    for name in ("host1", "host2", "host3"):
        assert f"[{name}] in /srv/app/current on {name} mode=calm" in out
    assert out[-1].startswith("exit 0 on 3 host(s)")


def test_a_host_that_exits_non_zero_fails_the_run_and_is_listed_with_its_exit_code(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path)
    assert run(path, "--", "echo out; [ $(hostname) != host2 ] || exit 3") == 1
    out = capsys.readouterr().out.splitlines()
    assert "[host1] out" in out and "[host3] out" in out
    assert out[-2:] == ["not 0 on 1 of 3 host(s):", "  host2  exit 3"]


def test_secrets_reach_the_command_but_every_output_shows_them_redacted(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path, 2)
    assert run(path, "--", "echo token=$API_TOKEN; echo err=$API_TOKEN >&2; "
                     "test $API_TOKEN = tok-s3cr3t-value") == 0
    captured = capsys.readouterr()
    assert "[host1] token=****" in captured.out and "[host2] err=****" in captured.out
    assert "tok-s3cr3t-value" not in captured.out + captured.err
    assert run(path, "--json", "--", "echo token=$API_TOKEN; exit 4") == 1
    captured = capsys.readouterr()
    assert "tok-s3cr3t-value" not in captured.out + captured.err
    report = json.loads(captured.out)
    assert report["hosts"]["host1"] == {"exit_code": 4, "error": None,
                                        "duration": report["hosts"]["host1"]["duration"],
                                        "stdout": ["token=****"], "stderr": []}
    assert report["ok"] is False and report["outcome"] == "failed"


def test_one_host_a_role_or_the_once_host_is_all_that_runs(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path)

    def ran(*argv: str) -> list[str]:
        assert run(path, *argv, "--", "hostname") == 0
        return [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]

    assert ran("--host", "host3") == ["[host3] host3"]
    assert sorted(ran("--host", "host1,host3")) == ["[host1] host1", "[host3] host3"]
    assert ran("--role", "worker") == ["[host1] host1"]
    assert ran("--once") == ["[host2] host2"]  # web's first host runs its `once` steps
    assert ran("--once", "--role", "worker") == ["[host1] host1"]
    assert run(path, "--host", "host9", "--", "true") == 2
    assert "no host 'host9' in app/prod (hosts: host1, host2, host3)" in capsys.readouterr().err


def test_named_commands_run_where_they_say_and_confirm_first_when_asked(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path, commands={
        "where": {"run": "echo $(hostname) in $PWD", "on": "once"},
        "touch-worker": {"run": "touch $HOME/touched", "on": "worker", "confirm": True}})
    assert run(path, "where") == 0
    out = capsys.readouterr().out
    assert "[host2] host2 in /srv/app/current" in out and "[host1]" not in out
    assert out.splitlines()[0].startswith("run app/prod: where: echo $(hostname) in $PWD")
    assert run(path, "touch-worker") == 2  # no terminal: --yes is the confirmation
    assert "pass --yes" in capsys.readouterr().err
    assert not hosts.host("host1").path("/home/deployer/touched").exists()
    assert run(path, "touch-worker", "--yes") == 0
    assert hosts.host("host1").path("/home/deployer/touched").exists()
    assert not hosts.host("host2").path("/home/deployer/touched").exists()
    assert run(path, "nosuch") == 2
    err = capsys.readouterr().err
    assert "no command named 'nosuch'" in err and "touch-worker" in err
    assert run(path, "--", "where") == 1  # after --, a word is a program, not a NAME


def test_nothing_deployed_yet_refuses_and_runs_nothing(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = hosts.write_config(tmp_path / "deploytui.yml", fleet_config(hosts, 2))
    assert run(path, "--", "touch $HOME/ran") == 1
    err = capsys.readouterr().err
    assert "app/prod: nothing deployed yet (deploy first: deploytui deploy app prod)" in err
    assert not any(h.path("/home/deployer/ran").exists() for h in hosts.hosts[:2])


def test_an_unreachable_host_fails_alone_and_the_others_still_run(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path)
    hosts.host("host3").kill()
    assert run(path, "--", "hostname") == 1
    out = capsys.readouterr().out.splitlines()
    assert "[host1] host1" in out and "[host2] host2" in out
    assert out[-2] == "not 0 on 1 of 3 host(s):"
    assert out[-1].startswith("  host3  connect: ")


def test_run_takes_no_lock_and_runs_while_the_environment_is_locked(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path, 2)
    assert main(["--config", str(path), "lock", "app", "prod"]) == 0
    assert run(path, "--", "ls -d $DEPLOYTUI_DEPLOY_TO/.deploytui/lock") == 0
    assert "[host1] /srv/app/.deploytui/lock" in capsys.readouterr().out
    assert hosts.host("host1").path("/srv/app/.deploytui/lock").exists()


def test_hosts_behind_a_jump_host_are_reached_through_it_with_one_login(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bastion, behind = hosts.host("host1"), [hosts.host("host2"), hosts.host("host3")]
    data = fleet_config(hosts)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host jump\n  HostName {bastion.address}\n  Port {bastion.port}\n"
                          f"  User {hosts.user}\n  IdentityFile {hosts.client_key}\n"
                          f"Host {' '.join(h.address for h in behind)}\n  ProxyJump jump\n")
    data["ssh"]["config"] = str(ssh_config)
    path = deployed(hosts, tmp_path, config=data)
    before = bastion.connections()
    assert run(path, "--role", "web", "--", "hostname") == 0
    assert sorted(ln for ln in capsys.readouterr().out.splitlines()
                  if ln.startswith("[")) == ["[host2] host2", "[host3] host3"]
    assert bastion.connections() == before + 1  # one bastion login for both hosts


def test_ctrl_c_stops_the_command_on_every_host_and_exits_130(
        hosts: Fleet, tmp_path: Path) -> None:
    path = deployed(hosts, tmp_path, 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deploytui", "--config", str(path), "run",
                             "app", "prod", "--", "echo started; sleep 77"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        seen += line.endswith("] started\n")
        if seen == 2:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "unlock" not in out  # a run holds no lock to leave behind
    assert "Traceback" not in err
    for host in hosts.hosts[:2]:
        assert not any("sleep 77" in p for p in host.processes())


def test_help_describes_run_ssh_init_and_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "ssh", "init", "demo"):
        assert f"    {command} " in out
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--role", "--once", "--json", "--yes", "NAME | -- CMD..."):
        assert option in out


def test_when_no_host_answers_each_is_listed_and_the_run_says_why(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployed(hosts, tmp_path, 2)
    for host in hosts.hosts[:2]:
        host.kill()
    assert run(path, "--", "hostname") == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[-3] == "not 0 on 2 of 2 host(s):"
    assert out[-2].startswith("  host1  connect: ") and out[-1].startswith("  host2  connect: ")
    assert captured.err.splitlines()[-1].startswith("deploytui: run failed: host1: connect: ")
