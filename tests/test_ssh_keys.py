"""The operator's keys as they really are: encrypted, in every format ssh-keygen writes.

Keys are made by the real ssh-keygen, authorized on a fleet host, and used with the
passphrase from a secret (`DEPLOYTUI_SECRET_<NAME>`, no keyring), as in CI.
`ssh.key: {secret: NAME}` carries the key's text itself and is never written to disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from agent_fleet import keygen, public_line
from fleet import Fleet, FleetHost
from keyring_session import reselect_backend

from deploytui.config import ConfigError, load_config_text
from deploytui.engine.hosts.pool import transport_factory
from deploytui.engine.hosts.transport import AuthFailed

PASSPHRASE = "correct horse battery"


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No keyring: secrets come from DEPLOYTUI_SECRET_* only (as in CI)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SSH_AUTH_SOCK", "")  # no agent: only the key under test logs in
    monkeypatch.setenv("HOME", str(tmp_path))  # and no ~/.ssh/id_* of the machine's
    reselect_backend()
    yield
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    reselect_backend()


def authorize(host: FleetHost, key: Path) -> None:
    with host.path("/home/deployer/.ssh/authorized_keys").open("a") as out:
        out.write(public_line(key) + "\n")


def config_with(fleet: Fleet, ssh: dict, hosts: int = 1):
    data = fleet.config(hosts)
    data["ssh"].update(ssh)
    return load_config_text(json.dumps(data), "test.yml"), data


def connect_and_run(config) -> str:
    transport = transport_factory(config)(config.projects["app"].environments["prod"].hosts[0])
    try:
        transport.connect()
        return transport.run("echo logged-in", capture=True, timeout=10).stdout
    finally:
        transport.close()


@pytest.mark.parametrize(("kind", "pem"), [("ed25519", False), ("rsa", False),
                                           ("ecdsa", False), ("ecdsa", True), ("rsa", True)],
                         ids=["ed25519", "rsa", "ecdsa", "ecdsa-pem", "rsa-pem"])
def test_an_encrypted_key_logs_in_with_the_passphrase_from_a_secret(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, pem: bool):
    key = keygen(tmp_path / f"id_{kind}", kind, PASSPHRASE, pem=pem)
    if pem:
        assert key.read_text().startswith(f"-----BEGIN {'EC' if kind == 'ecdsa' else 'RSA'}"
                                          " PRIVATE KEY-----")
    authorize(hosts.hosts[0], key)
    monkeypatch.setenv("DEPLOYTUI_SECRET_KEY_PASS", PASSPHRASE)
    config, _ = config_with(hosts, {"identity_file": str(key),
                                    "passphrase": {"secret": "key-pass"}})
    assert connect_and_run(config) == "logged-in"


def test_an_encrypted_key_without_a_passphrase_says_to_set_it(hosts: Fleet, tmp_path: Path):
    key = keygen(tmp_path / "id_ecdsa", "ecdsa", PASSPHRASE, pem=True)
    authorize(hosts.hosts[0], key)
    config, _ = config_with(hosts, {"identity_file": str(key)})
    with pytest.raises(AuthFailed) as caught:
        connect_and_run(config)
    assert str(caught.value) == (f"host1: identity file {key} is encrypted; set"
                                 " ssh.passphrase (e.g. passphrase: {secret: NAME})")


def test_a_wrong_passphrase_is_named_as_such(hosts: Fleet, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    key = keygen(tmp_path / "id_ed25519", "ed25519", PASSPHRASE)
    monkeypatch.setenv("DEPLOYTUI_SECRET_KEY_PASS", "not it")
    config, _ = config_with(hosts, {"identity_file": str(key),
                                    "passphrase": {"secret": "key-pass"}})
    with pytest.raises(AuthFailed) as caught:
        connect_and_run(config)
    assert str(caught.value) == f"host1: identity file {key}: wrong passphrase (ssh.passphrase)"


def test_a_passphrase_secret_found_nowhere_is_named_and_exits_2_before_any_host(
        hosts: Fleet, tmp_path: Path):
    key = keygen(tmp_path / "id_ed25519", "ed25519", PASSPHRASE)
    _, data = config_with(hosts, {"identity_file": str(key),
                                  "passphrase": {"secret": "key-pass"}}, hosts=2)
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    for command in (["deploy", "app", "prod", "--yes"], ["lock", "app", "prod"]):
        done = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path),
                               *command], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines()[-1] == (
            "deploytui: secret 'key-pass' not found (keyring, DEPLOYTUI_SECRET_KEY_PASS);"
            " set it with `deploytui secret set key-pass` or the environment variable"
            " DEPLOYTUI_SECRET_KEY_PASS")
    assert hosts.hosts[0].connections() == 0


@pytest.mark.parametrize("encrypted", [False, True])
def test_ssh_key_from_a_secret_logs_in_without_a_key_file(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypted: bool):
    key = keygen(tmp_path / "ci_key", "ecdsa", PASSPHRASE if encrypted else "", pem=True)
    authorize(hosts.hosts[0], key)
    monkeypatch.setenv("DEPLOYTUI_SECRET_CI_KEY", key.read_text())
    key.unlink()  # only the secret holds it now
    ssh: dict = {"identity_file": None, "key": {"secret": "ci-key"}}
    if encrypted:
        monkeypatch.setenv("DEPLOYTUI_SECRET_KEY_PASS", PASSPHRASE)
        ssh["passphrase"] = {"secret": "key-pass"}
    config, _ = config_with(hosts, ssh)
    assert connect_and_run(config) == "logged-in"


def test_a_private_key_written_in_the_config_is_refused():
    text = ("ssh:\n  key: \"-----BEGIN OPENSSH PRIVATE KEY-----\"\nprojects:\n  app:\n"
            "    repo: /srv/repo.git\n    deploy_to: /srv/app\n    environments:\n"
            "      prod: {hosts: {a: {address: 10.0.0.1}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "deploytui.yml")
    assert str(caught.value) == ("deploytui.yml:2: ssh.key: the private key's text must come"
                                 " from a secret: {secret: NAME}")


@pytest.mark.parametrize(("address", "host", "port"), [("[::1]:22522", "::1", "22522"),
                                                       ("10.0.0.1:22", "10.0.0.1", "22"),
                                                       ("web1.example.com:2222",
                                                        "web1.example.com", "2222")])
def test_an_address_with_a_port_inside_is_a_config_error_naming_port(address: str, host: str,
                                                                     port: str):
    text = ("projects:\n  app:\n    repo: /srv/repo.git\n    deploy_to: /srv/app\n"
            "    environments:\n      prod:\n        hosts:\n"
            f"          web1: {{address: \"{address}\"}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "deploytui.yml")
    assert str(caught.value) == (
        f"deploytui.yml:8: projects.app.environments.prod.hosts.web1.address: '{address}'"
        f" has a port in it; write address: {host} and port: {port}")


def test_an_ipv6_address_without_a_port_is_an_address():
    text = ("projects:\n  app:\n    repo: /srv/repo.git\n    deploy_to: /srv/app\n"
            "    environments:\n      prod:\n        hosts:\n"
            "          web1: {address: \"::1\", port: 22522}\n")
    host = load_config_text(text, "d.yml").projects["app"].environments["prod"].hosts[0]
    assert (host.address, host.port) == ("::1", 22522)
