"""A release's env comes back with it: each deploy records its `env:` on the hosts (plain
values verbatim, secrets only as reference + keyed hash), a rollback restarts the target
with the target's env (secrets resolved now, by name), and the confirmation lists what
changes in the env — never a secret's value."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost
from release_fleet import make_release, set_current
from test_tui_support import IDS, host_dir, open_browser, wait_until

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.config.secrets import SecretResolver
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.release_env import key_id
from deploytui.engine.operations.rollback import run_rollback
from deploytui.engine.remote.layout import ReleaseMeta
from deploytui.tui.app import DeployConsole
from deploytui.tui.screens.modals import ConfirmModal

ROOT = Path(__file__).resolve().parents[1]
RESTART = ["env | grep -E '^(MODE|DB_PASSWORD|API_TOKEN|FLAG|REMOVED_LATER)=' | sort"
           " > $HOME/env-at-restart"]
TEAM_KEY = "team-env-hash-key-0123456789abcdef"
VALUES = {"DEPLOYTUI_SECRET_DB_OLD": "old-db-pass-41", "DEPLOYTUI_SECRET_DB_NEW": "new-db-pass-42",
          "DEPLOYTUI_SECRET_API": "api-token-one", "DEPLOYTUI_SECRET_DEPLOYTUI_ENV_KEY": TEAM_KEY}
ENV_A = {"MODE": "blue", "DB_PASSWORD": {"secret": "db-old"}, "API_TOKEN": {"secret": "api"},
         "REMOVED_LATER": "x"}
ENV_B = {"MODE": "green", "DB_PASSWORD": {"secret": "db-new"}, "API_TOKEN": {"secret": "api"},
         "FLAG": "1"}


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DEPLOYTUI_SECRETS_COMMAND", raising=False)
    for name, value in VALUES.items():
        monkeypatch.setenv(name, value)


def config(hosts: Fleet, env: dict, **extra) -> Config:
    data = hosts.config(2, roles={"web": {"restart": RESTART, "health": {
        "command": "printenv MODE > $HOME/mode-at-health", "timeout": 10}}}, **extra)
    data["projects"]["app"]["env"] = env
    return load_config_text(json.dumps(data), "team.yml")


def deploy(cfg: Config) -> str:
    project = cfg.projects["app"]
    result = run_deploy(cfg, DeployRequest(project, project.environments["prod"],
                                           user="ann@laptop"), resolver=SecretResolver())
    assert result.outcome == "success", result.error
    return result.release_id


def meta(host: FleetHost, rid: str) -> dict:
    return json.loads(host.path(f"/srv/app/.deploytui/releases/{rid}.json").read_text())


def restart_env(host: FleetHost) -> str:
    return host.path("/home/deployer/env-at-restart").read_text()


def two_deploys(hosts: Fleet, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    first = deploy(config(hosts, ENV_A))
    time.sleep(1.05)  # release ids are per second
    monkeypatch.setenv("DEPLOYTUI_SECRET_API", "api-token-two")  # rotated between deploys
    second = deploy(config(hosts, ENV_B))
    return first, second


def no_secret_value_under(path: Path) -> None:
    text = "".join(p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())
    for value in (*VALUES.values(), "api-token-two"):
        assert value not in text


def test_a_release_records_plain_values_and_secrets_only_as_reference_and_keyed_hash(
        hosts: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = two_deploys(hosts, monkeypatch)
    recorded = meta(hosts.hosts[0], first)["env"]
    key = TEAM_KEY.encode()
    assert recorded == {
        "MODE": "blue", "REMOVED_LATER": "x",
        "DB_PASSWORD": {"secret": "db-old", "key": key_id(key), "hmac": hmac.new(
            key, b"DB_PASSWORD\0old-db-pass-41", hashlib.sha256).hexdigest()},
        "API_TOKEN": {"secret": "api", "key": key_id(key), "hmac": hmac.new(
            key, b"API_TOKEN\0api-token-one", hashlib.sha256).hexdigest()}}
    assert meta(hosts.hosts[1], second)["env"]["FLAG"] == "1"
    for host in hosts.hosts[:2]:
        no_secret_value_under(host.path("/srv/app"))


def test_a_rollback_restarts_the_target_with_its_own_env_and_lists_what_changes(
        hosts: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _second = two_deploys(hosts, monkeypatch)
    assert restart_env(hosts.hosts[0]).splitlines() == [
        "API_TOKEN=api-token-two", "DB_PASSWORD=new-db-pass-42", "FLAG=1", "MODE=green"]
    recorder = Recorder()
    result = run_rollback(config(hosts, ENV_B), "app", "prod", sink=recorder,
                          user="bob@laptop", resolver=SecretResolver())
    assert result.ok and result.target == first, result.error
    for host in hosts.hosts[:2]:  # B's config is today's, but A's env comes back
        assert restart_env(host).splitlines() == [
            "API_TOKEN=api-token-two",  # secrets are resolved now, by the recorded name
            "DB_PASSWORD=old-db-pass-41", "MODE=blue", "REMOVED_LATER=x"]
        assert host.path("/home/deployer/mode-at-health").read_text() == "blue\n"
        assert meta(host, first)["env"]["MODE"] == "blue"  # the rollback kept the record
    said = [e.line for e in recorder.lines() if e.host == "local" and e.line.startswith("env:")]
    assert said == ["env: ~ API_TOKEN: secret changed",
                    "env: ~ DB_PASSWORD: secret reference changed (db-new → db-old)",
                    "env: - FLAG",
                    "env: ~ MODE: green → blue",
                    "env: + REMOVED_LATER=x"]
    assert not any(v in repr(recorder.events) for v in VALUES.values())


def test_the_cli_confirmation_lists_the_env_differences_without_values(
        hosts: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    two_deploys(hosts, monkeypatch)
    data = hosts.config(2, roles={"web": {"restart": RESTART}})
    data["projects"]["app"]["env"] = ENV_B
    data["projects"]["app"]["environments"]["prod"]["confirm"] = True
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path),
                           "rollback", "app", "prod"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2  # no terminal, no --yes: nothing done
    lines = proc.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("env ("))
    assert lines[start + 1:start + 6] == [
        "  ~ API_TOKEN: secret changed",
        "  ~ DB_PASSWORD: secret reference changed (db-new → db-old)",
        "  - FLAG", "  ~ MODE: green → blue", "  + REMOVED_LATER=x"]
    assert "pass --yes" in lines[-1]
    assert not any(v in proc.stdout + proc.stderr for v in VALUES.values())


def test_a_release_from_before_env_was_recorded_says_so_and_uses_todays_env(
        hosts: Fleet) -> None:
    for host in hosts.hosts[:2]:
        make_release(host, "20240101120000")  # metadata without env
        make_release(host, "20240102120000")
        set_current(host, "20240102120000")
    recorder = Recorder()
    result = run_rollback(config(hosts, ENV_B), "app", "prod", sink=recorder,
                          resolver=SecretResolver())
    assert result.ok, result.error
    assert [e.line for e in recorder.lines() if e.line.startswith("env:")] == [
        "env: the target release was deployed before deploytui recorded env: its restart "
        "and health checks use today's env"]
    assert "MODE=green" in restart_env(hosts.hosts[0]).splitlines()


def test_a_secret_hashed_with_another_key_is_not_comparable_rather_than_changed(
        hosts: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    first = deploy(config(hosts, ENV_B))
    time.sleep(1.05)
    monkeypatch.delenv("DEPLOYTUI_SECRET_DEPLOYTUI_ENV_KEY")  # this machine's own key now
    deploy(config(hosts, ENV_B))
    recorder = Recorder()
    assert run_rollback(config(hosts, ENV_B), "app", "prod", to=first, sink=recorder,
                        resolver=SecretResolver()).ok
    said = [e.line for e in recorder.lines() if e.line.startswith("env:")]
    assert said == [
        "env: ~ API_TOKEN: secret not comparable (hashed with another key; see "
        "docs/secrets.md)",
        "env: ~ DB_PASSWORD: secret not comparable (hashed with another key; see "
        "docs/secrets.md)"]


# -- the console ------------------------------------------------------------------------

@pytest.fixture
def console_config(tmp_path, monkeypatch):
    from test_tui_support import local_config, seed_releases

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))
    cfg = local_config(tmp_path, hosts=2)
    for host in cfg.projects["demo"].environments["staging"].hosts:
        seed_releases(host.deploy_to, IDS, IDS[-1])
    return cfg


async def test_the_console_rollback_confirmation_lists_the_env_differences(console_config):
    secret = {"secret": "db", "hmac": "aa" * 32, "key": "0badf00d"}
    envs = {IDS[-1]: {"MODE": "green", "DB_PASSWORD": secret},
            IDS[-2]: {"MODE": "blue", "DB_PASSWORD": {**secret, "hmac": "bb" * 32}}}
    for i in range(2):
        meta_dir = host_dir(console_config, i) / ".deploytui" / "releases"
        meta_dir.mkdir(parents=True, exist_ok=True)
        for rid, env in envs.items():
            (meta_dir / f"{rid}.json").write_text(ReleaseMeta(rid, "ok", env=env).to_json())
    app = DeployConsole(console_config, load_status=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_browser(app, pilot)
        await pilot.press("j", "b")  # the previous release
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.query_one("#body").render())
        assert "env:\n  ~ DB_PASSWORD: secret changed\n  ~ MODE: green → blue" in body
        await pilot.press("escape")
