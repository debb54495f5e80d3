"""`secrets: {command: ...}`: a team vault's CLI (here a real script standing in for
`op read`) gives `{secret: NAME}` values before the keyring and the environment, once
per operation, and a failing vault is one line naming the secret and what the vault said."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config_text
from deploytui.config.errors import ConfigError
from deploytui.config.model import SecretRef
from deploytui.config.secrets import VaultCommandFailed, resolver_for
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy

ROOT = Path(__file__).resolve().parents[1]
VAULT = """#!/bin/sh
# a vault CLI like `op read`: prints the item, or a one-line error and exit 1
dir=$(dirname "$0")
printf '%s\\n' "$2" >> "$dir/calls"
if [ -f "$dir/items/$2" ]; then cat "$dir/items/$2"; echo; exit 0; fi
echo "[ERROR] 2026/12/05 09:00:00 \\"$2\\" isn't an item in vault \\"deploy\\"" >&2
exit 1
"""


class Vault:
    """A directory of items and the script that reads them (counting its calls)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "items").mkdir(parents=True)
        self.script = root / "vault"
        self.script.write_text(VAULT)
        self.script.chmod(0o755)
        self.command = f"{shlex.quote(str(self.script))} read {{name}}"

    def put(self, name: str, value: str) -> None:
        (self.root / "items" / name).write_text(value)

    def calls(self) -> list[str]:
        path = self.root / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "vault")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DEPLOYTUI_SECRETS_COMMAND", raising=False)


def config_with(vault: Vault, **extra) -> object:
    data = {"secrets": {"command": vault.command}, "projects": {"app": {
        "repo": "/srv/repo.git", "deploy_to": "/srv/app",
        "environments": {"prod": {"hosts": {"web1": {}}}}}}, **extra}
    return load_config_text(json.dumps(data), "team.yml")


def test_the_vault_command_answers_before_the_keyring_and_the_environment(
        vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.put("db-password", "from-the-vault-9f2")
    monkeypatch.setenv("DEPLOYTUI_SECRET_DB_PASSWORD", "from-the-environment")
    resolver = resolver_for(config_with(vault))
    assert resolver.resolve(SecretRef("db-password")) == "from-the-vault-9f2"
    assert resolver.known_values() == ["from-the-vault-9f2"]  # redacted like any secret


def test_the_environment_can_switch_the_vault_off_for_ci(
        vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_SECRETS_COMMAND", "")
    monkeypatch.setenv("DEPLOYTUI_SECRET_CI_ONLY_TOKEN", "from-the-environment")
    resolver = resolver_for(config_with(vault))
    assert resolver.resolve(SecretRef("ci-only-token")) == "from-the-environment"
    assert vault.calls() == []


def test_a_name_reaches_the_command_shell_quoted_and_is_never_run(
        vault: Vault, tmp_path: Path) -> None:
    evil = f"x; touch {tmp_path}/pwned"
    vault.put("x", "never-this")
    with pytest.raises(VaultCommandFailed):
        resolver_for(config_with(vault)).resolve(SecretRef(evil))
    assert vault.calls() == [evil]
    assert not (tmp_path / "pwned").exists()


def test_a_failing_vault_is_one_line_naming_the_secret_and_its_own_stderr_line(
        vault: Vault) -> None:
    with pytest.raises(VaultCommandFailed) as failed:
        resolver_for(config_with(vault)).resolve(SecretRef("api-token"))
    assert str(failed.value) == (
        f"secret 'api-token': vault command `{vault.command}` failed (exit 1): "
        "[ERROR] 2026/12/05 09:00:00 \"api-token\" isn't an item in vault \"deploy\"")


def test_a_missing_vault_cli_says_so_in_one_line(tmp_path: Path) -> None:
    data = {"secrets": {"command": f"{tmp_path}/no-such-cli read {{name}}"}, "projects": {
        "app": {"repo": "/srv/r.git", "deploy_to": "/srv/app",
                "environments": {"prod": {"hosts": {"web1": {}}}}}}}
    with pytest.raises(VaultCommandFailed) as failed:
        resolver_for(load_config_text(json.dumps(data))).resolve(SecretRef("api-token"))
    assert "exit 127" in str(failed.value) and "not found" in str(failed.value)
    assert "\n" not in str(failed.value)


def test_values_are_asked_once_per_operation_and_again_for_the_next(vault: Vault) -> None:
    vault.put("api-token", "tok-1")
    resolver = resolver_for(config_with(vault))
    for _ in range(3):
        assert resolver.resolve(SecretRef("api-token")) == "tok-1"
    assert vault.calls() == ["api-token"]
    vault.put("api-token", "tok-2-rotated")
    resolver.forget_vault_values()  # what the console does before each operation
    assert resolver.resolve(SecretRef("api-token")) == "tok-2-rotated"
    assert set(resolver.known_values()) == {"tok-1", "tok-2-rotated"}  # both still redacted


def test_a_vault_command_without_the_name_placeholder_is_a_config_error(vault: Vault) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config_text(json.dumps({"secrets": {"command": "op read op://deploy/x"},
                                     "projects": {"app": {
                                         "repo": "/srv/r.git", "deploy_to": "/srv/app",
                                         "environments": {"prod": {"hosts": {"w": {}}}}}}}),
                         "team.yml")
    assert str(bad.value).splitlines() == [
        "team.yml:1: secrets.command: must contain {name} (replaced by the secret's name, "
        "quoted)"]


# -- on the fleet ---------------------------------------------------------------------------

def fleet_config(hosts: Fleet, vault: Vault) -> dict:
    data = hosts.config(2, roles={"web": {"restart": [
        "printenv DB_PASSWORD > $HOME/db-password", "echo connecting with $DB_PASSWORD"]}})
    data["projects"]["app"]["env"] = {"DB_PASSWORD": {"secret": "db-password"}}
    data["secrets"] = {"command": vault.command}
    return data


def test_a_deploy_takes_env_secrets_from_the_vault_and_never_shows_them(
        hosts: Fleet, vault: Vault) -> None:
    vault.put("db-password", "vault-pw-7c1e")
    config = load_config_text(json.dumps(fleet_config(hosts, vault)), "team.yml")
    project = config.projects["app"]
    recorder = Recorder()
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              user="ann@laptop"), sink=recorder)
    assert result.outcome == "success", result.error
    for host in hosts.hosts[:2]:
        assert host.path("/home/deployer/db-password").read_text() == "vault-pw-7c1e\n"
    lines = [e.line for e in recorder.lines()]
    assert "connecting with ****" in lines
    assert "vault-pw-7c1e" not in repr(recorder.events)
    # once each for the whole operation: the value, and the team's env-hash key
    # (optional: this vault does not hold it, docs/secrets.md)
    assert vault.calls() == ["db-password", "deploytui-env-key"]


def test_the_cli_stops_before_any_host_with_the_vaults_own_error_line(
        hosts: Fleet, vault: Vault, tmp_path: Path) -> None:
    path = hosts.write_config(tmp_path / "deploytui.yml", fleet_config(hosts, vault))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(tmp_path / "d")}
    env.pop("DEPLOYTUI_SECRETS_COMMAND", None)
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert (f"secret 'db-password': vault command `{vault.command}` failed (exit 1): "
            "[ERROR] 2026/12/05 09:00:00 \"db-password\" isn't an item in vault \"deploy\""
            ) in proc.stderr
    for host in hosts.hosts[:2]:
        assert not host.path("/srv/app/releases").exists()
        assert not host.path("/srv/app/.deploytui/lock").exists()
