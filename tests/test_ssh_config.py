"""ssh_config read as OpenSSH reads it: every answer compared with `ssh -G` itself, on
configs written the way people write them (Include with globs and relative paths, Match,
negated patterns, several IdentityFile lines, tokens, `~`), and an alias defined in an
Included file deploys on the fleet."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from deploytui.cli import main
from deploytui.engine.hosts.ssh_config import SSHConfigError, SSHConfigResolver

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")

HOME = pwd.getpwuid(os.getuid()).pw_dir  # the account's home, as OpenSSH takes it
ME = pwd.getpwuid(os.getuid()).pw_name


def ssh_g(config: Path, alias: str, port: int | None = None, user: str | None = None
          ) -> dict[str, list[str]]:
    """OpenSSH's own answer, every value a list of its lines."""
    argv = ["ssh", "-G", "-F", str(config)]
    argv += ["-p", str(port)] if port else []
    argv += ["-l", user] if user else []
    out = subprocess.run([*argv, "--", alias], capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL).stdout
    values: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value)
    return values


def agrees_with_openssh(config: Path, alias: str, port: int | None = None,
                        user: str | None = None, **resolver_kw: object) -> dict:
    """Resolve with deploytui and assert every key it answers is what ssh -G says
    (before the connect-time expansions, which the tests check by value)."""
    ours = SSHConfigResolver(config, **resolver_kw).lookup(alias, port, user)  # type: ignore[arg-type]
    theirs = ssh_g(config, alias, port, user)
    for key in ("hostname", "port", "user"):
        assert ours[key] == theirs[key][0], key
    for key, value in ours.items():
        if key in ("identityfile", "certificatefile", "proxycommand", "controlpath"):
            continue
        want = theirs[key] if isinstance(value, list) else theirs[key][0]
        assert value == want, key
    return ours


@pytest.fixture
def ssh_dir() -> Iterator[Path]:
    """A directory of our own under the account's ~/.ssh (relative Includes start there),
    removed afterwards."""
    base = Path(HOME) / ".ssh"
    created = not base.exists()
    base.mkdir(mode=0o700, exist_ok=True)
    mine = base / f"deploytui-test-{secrets.token_hex(4)}"
    mine.mkdir()
    try:
        yield mine
    finally:
        shutil.rmtree(mine, ignore_errors=True)
        if created:
            shutil.rmtree(base, ignore_errors=True)


def test_an_alias_from_an_included_file_resolves_with_globs_and_a_relative_path(
        ssh_dir: Path, tmp_path: Path):
    (ssh_dir / "10-web.conf").write_text("Host web1\n  HostName 10.1.0.1\n  Port 2222\n")
    (ssh_dir / "20-db.conf").write_text("Host db1\n  HostName 10.2.0.1\n  User dba\n")
    (ssh_dir / "notes.txt").write_text("Host web1\n  HostName wrong.example\n")
    config = tmp_path / "config"
    config.write_text(f"Include {ssh_dir.name}/*.conf\nHost *\n  User deploy\n")
    web = agrees_with_openssh(config, "web1")
    assert (web["hostname"], web["port"], web["user"]) == ("10.1.0.1", "2222", "deploy")
    db = agrees_with_openssh(config, "db1")
    assert (db["hostname"], db["user"]) == ("10.2.0.1", "dba")
    # what deploytui said before: paramiko never reads the included file
    assert paramiko.SSHConfig.from_path(str(config)).lookup("web1")["hostname"] == "web1"


def test_match_host_originalhost_and_user_pick_their_blocks(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(
        "Host app\n  HostName app.internal.example\n"
        "Match originalhost app user ops\n  Port 2201\n"
        "Match host *.internal.example\n  ProxyJump bastion.example\n"
        "Match user ci\n  IdentityFile ~/.ssh/ci_key\n"
        "Match all\n  ConnectTimeout 9\n")
    ops = agrees_with_openssh(config, "app", user="ops")
    assert ops["port"] == "2201" and ops["proxyjump"] == "bastion.example"
    assert ops["connecttimeout"] == "9" and "identityfile" not in ops
    ci = agrees_with_openssh(config, "app", user="ci")
    assert ci["port"] == "22" and ci["identityfile"] == [f"{HOME}/.ssh/ci_key"]
    other = agrees_with_openssh(config, "other.example")
    assert "proxyjump" not in other


def test_negated_patterns_wildcards_and_the_first_value_winning(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(
        "Host web? !web9\n  User web\n  ForwardAgent yes\n"
        "Host web*\n  User fallback\n  IdentityFile ~/.ssh/a\n"
        "Host *\n  IdentityFile ~/.ssh/b\n  IdentityAgent ~/.ssh/agent.sock\n")
    web1 = agrees_with_openssh(config, "web1")
    assert web1["user"] == "web" and web1["forwardagent"] == "yes"
    assert web1["identityfile"] == [f"{HOME}/.ssh/a", f"{HOME}/.ssh/b"]
    assert web1["identityagent"] == f"{HOME}/.ssh/agent.sock"
    web9 = agrees_with_openssh(config, "web9")
    assert web9["user"] == "fallback" and "forwardagent" not in web9


def test_tokens_expand_with_the_port_and_user_deploytui_connects_with(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(
        "Host *.example\n  HostName %h.internal\n  Port 2200\n"
        "  IdentityFile %d/.ssh/%r@%h:%p\n  IdentityFile ~/keys/%n_%%\n"
        "  ProxyCommand ssh -W %h:%p -l %r bastion\n")
    ours = agrees_with_openssh(config, "a.example", port=2202, user="bob")
    assert ours["hostname"] == "a.example.internal" and ours["port"] == "2202"
    assert ours["identityfile"] == [f"{HOME}/.ssh/bob@a.example.internal:2202",
                                    f"{HOME}/keys/a.example_%"]
    # %p is the port we connect to (ssh -p), not the file's Port
    assert ours["proxycommand"] == "ssh -W a.example.internal:2202 -l bob bastion"
    no_port = agrees_with_openssh(config, "a.example")
    assert no_port["proxycommand"] == f"ssh -W a.example.internal:2200 -l {ME} bastion"


REAL_WORLD = """\
# a developer's ~/.ssh/config, shared between macOS and Linux
IgnoreUnknown UseKeychain
Host *
  UseKeychain yes
  AddKeysToAgent yes
  ServerAliveInterval 30
  ControlMaster auto
  ControlPath ~/.ssh/cm-%C
  ControlPersist 10m

Host github.com
  User git
  IdentityFile ~/.ssh/github_ed25519
  IdentitiesOnly yes

Host bastion bastion.prod.example
  HostName 203.0.113.10
  User ops
  IdentityFile ${HOME}/.ssh/ops

Host *.prod.example !bastion.prod.example
  ProxyJump bastion
  User deploy
  IdentityFile ~/.ssh/deploy_%r
  IdentityFile ~/.ssh/id_ed25519

Match exec "test -e /nonexistent-deploytui-marker"
  Port 9999
"""


def test_a_real_world_config_resolves_as_ssh_resolves_it(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(REAL_WORLD)
    web = agrees_with_openssh(config, "web1.prod.example", port=22)
    assert (web["user"], web["proxyjump"], web["port"]) == ("deploy", "bastion", "22")
    assert web["identityfile"] == [f"{HOME}/.ssh/deploy_deploy", f"{HOME}/.ssh/id_ed25519"]
    assert web["controlpath"] == ssh_g(config, "web1.prod.example", 22)["controlpath"][0]
    bastion = agrees_with_openssh(config, "bastion.prod.example")
    assert (bastion["hostname"], bastion["user"]) == ("203.0.113.10", "ops")
    assert bastion["identityfile"] == [f"{os.environ['HOME']}/.ssh/ops"]  # ${HOME}: the env's
    assert "proxyjump" not in bastion
    github = agrees_with_openssh(config, "github.com")
    assert (github["user"], github["identitiesonly"]) == ("git", "yes")


def test_the_connection_hash_token_is_the_one_ssh_computes(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text("Host w*\n  User deploy\n  IdentityFile ~/.ssh/k-%C\n"
                      "  ControlPath ~/.ssh/cm-%C\n")
    ours = agrees_with_openssh(config, "web1", port=2200)
    assert ours["identityfile"] == [ours["controlpath"].replace("/cm-", "/k-")]


def test_tilde_is_the_accounts_home_not_home_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    config = tmp_path / "config"
    config.write_text("Host h\n  IdentityFile ~/.ssh/id_h\n  CertificateFile ~/.ssh/id_h-cert\n")
    ours = agrees_with_openssh(config, "h")
    assert ours["identityfile"] == [f"{HOME}/.ssh/id_h"]
    assert ours["certificatefile"] == [f"{HOME}/.ssh/id_h-cert"]


def test_only_what_the_file_sets_is_answered_like_paramiko_does(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text("Host h\n  HostName 10.0.0.9\n")
    ours = agrees_with_openssh(config, "h")
    assert set(ours) == {"hostname", "port", "user"}  # no default IdentityFile, no "none"s


def test_every_host_is_resolved_once_per_operation(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text("Host *\n  User deploy\n")
    resolver = SSHConfigResolver(config)
    for _ in range(5):
        resolver.lookup("a")
        resolver.lookup("b", 2200)
    assert resolver.processes == 3  # a, b:2200, and OpenSSH's defaults once


def test_answers_are_remembered_until_a_file_the_config_reads_changes(tmp_path: Path):
    """The console reads its hosts every 30 s: an unchanged config costs no ssh -G."""
    included = tmp_path / "conf.d"
    included.mkdir()
    (included / "web.conf").write_text("Host web1\n  HostName 10.0.0.1\n")
    config = tmp_path / "config"
    config.write_text(f"Include {included}/*.conf\n")
    first = SSHConfigResolver(config)
    assert first.lookup("web1")["hostname"] == "10.0.0.1" and first.processes == 2
    again = SSHConfigResolver(config)
    assert again.lookup("web1")["hostname"] == "10.0.0.1" and again.processes == 0
    (included / "web.conf").write_text("Host web1\n  HostName 10.0.0.22\n")
    edited = SSHConfigResolver(config)
    assert edited.lookup("web1")["hostname"] == "10.0.0.22" and edited.processes == 2
    (included / "db.conf").write_text("Host db1\n  HostName 10.0.0.3\n")  # a new match
    added = SSHConfigResolver(config)
    assert added.lookup("web1")["hostname"] == "10.0.0.22" and added.processes == 2


def test_a_match_exec_config_is_asked_again_every_operation(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(f"Match exec \"test -e {tmp_path}/flag\"\n  Port 2222\n")
    assert SSHConfigResolver(config).lookup("h")["port"] == "22"
    (tmp_path / "flag").write_text("")
    later = SSHConfigResolver(config)
    assert later.lookup("h")["port"] == "2222" and later.processes == 2


ASK = """
import json, sys
from pathlib import Path
from deploytui.engine.hosts.ssh_config import SSHConfigResolver
resolver = SSHConfigResolver(Path(sys.argv[1]))
answers = [resolver.lookup("web1"), resolver.lookup("web2", 2200, "deploy")]
print(json.dumps([resolver.processes, answers]))
"""


def ask_in_a_new_process(config: Path, data: Path, **env: str) -> tuple[int, list[dict]]:
    """What a new deploytui process resolves for web1 and web2: (ssh -G runs, answers)."""
    out = subprocess.run([sys.executable, "-c", ASK, str(config)], capture_output=True,
                         text=True, check=True, timeout=30,
                         env={**os.environ, "DEPLOYTUI_DATA_DIR": str(data), **env}).stdout
    processes, answers = json.loads(out)
    return processes, answers


def test_a_new_process_asks_no_ssh_g_when_nothing_changed(tmp_path: Path):
    """Every CLI operation is a new process: with an unchanged config it reuses what
    an earlier one asked OpenSSH, and the answers are the very same."""
    config = tmp_path / "config"
    config.write_text("Host web*\n  User deploy\n  ProxyJump bastion\n"
                      "Host web1\n  HostName 10.0.0.1\n")
    data = tmp_path / "data"
    first = ask_in_a_new_process(config, data)
    again = ask_in_a_new_process(config, data)
    assert first[0] == 3  # web1, web2:2200, and OpenSSH's defaults
    assert again == (0, first[1])
    assert again[1][0]["hostname"] == "10.0.0.1" and again[1][0]["proxyjump"] == "bastion"


def test_a_new_process_asks_again_after_the_config_or_the_environment_changed(
        tmp_path: Path):
    included = tmp_path / "conf.d"
    included.mkdir()
    (included / "web.conf").write_text("Host web1\n  HostName 10.0.0.1\n")
    config = tmp_path / "config"
    config.write_text(f"Include {included}/*.conf\n")
    data = tmp_path / "data"
    ask_in_a_new_process(config, data)
    (included / "web.conf").write_text("Host web1\n  HostName 10.0.0.22\n")
    processes, answers = ask_in_a_new_process(config, data)
    assert processes == 3 and answers[0]["hostname"] == "10.0.0.22"
    (included / "web2.conf").write_text("Host web2\n  HostName 10.0.0.2\n")  # a new match
    processes, answers = ask_in_a_new_process(config, data)
    assert processes == 3 and answers[1]["hostname"] == "10.0.0.2"
    assert ask_in_a_new_process(config, data)[0] == 0
    # ssh_config may say ${VAR}: another environment is another answer
    assert ask_in_a_new_process(config, data, DEPLOYTUI_TEST_VAR="1")[0] == 3


def test_a_match_exec_config_is_never_written_down(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text(f"Match exec \"test -e {tmp_path}/flag\"\n  Port 2222\n")
    data = tmp_path / "data"
    assert ask_in_a_new_process(config, data)[0] == 3
    assert ask_in_a_new_process(config, data)[0] == 3
    assert not list(data.glob("ssh-config/*"))


def test_a_torn_store_line_or_no_data_directory_only_costs_the_ssh_g(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text("Host web1\n  HostName 10.0.0.1\n")
    data = tmp_path / "data"
    first = ask_in_a_new_process(config, data)
    [store] = data.glob("ssh-config/*.jsonl")
    store.write_text(store.read_text() + '{"key": ["web9", nul')  # a writer killed mid-line
    assert ask_in_a_new_process(config, data) == (0, first[1])
    store.write_text("not json at all\n")
    assert ask_in_a_new_process(config, data) == first
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert ask_in_a_new_process(config, not_a_dir) == first


def test_an_empty_or_missing_file_costs_no_process(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.write_text("# nothing yet\n\n")
    for path in (empty, tmp_path / "missing", None):
        resolver = SSHConfigResolver(path)
        assert resolver.lookup("web1", 2200, "deploy") == {
            "hostname": "web1", "port": "2200", "user": "deploy"}
        assert resolver.processes == 0


def test_a_bad_line_is_openssh_s_own_error_naming_file_and_line(tmp_path: Path):
    config = tmp_path / "config"
    config.write_text("Host h\n  Bogus yes\n")
    with pytest.raises(SSHConfigError) as caught:
        SSHConfigResolver(config).lookup("h")
    assert caught.value.message == f"ssh_config: {config}: line 2: Bad configuration option: bogus"


def test_without_an_ssh_client_paramiko_reads_includes_and_the_accounts_home(
        ssh_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    (ssh_dir / "web.conf").write_text("Host web1\n  HostName 10.1.0.1\n  Port 2222\n"
                                      "  IdentityFile ~/.ssh/web\n")
    config = tmp_path / "config"
    config.write_text(f"Include {ssh_dir}/*.conf\nHost web*\n"  # (a relative one
                      "  ProxyCommand ssh -W %h:%p bastion\n")  # would follow $HOME)
    ours = agrees_with_openssh(config, "web1", port=2300, ssh=None)
    assert ours["identityfile"] == [f"{HOME}/.ssh/web"]
    assert ours["proxycommand"] == "ssh -W 10.1.0.1:2300 bastion"


def test_an_alias_from_an_included_file_deploys_on_the_fleet(hosts, tmp_path: Path):
    """The issue's case: the alias lived in an Included file and was 'name or service not
    known'. Relative Include, `~` in IdentityFile, Match user: all as OpenSSH reads them."""
    target = hosts.hosts[1]
    included = tmp_path / "conf.d"
    included.mkdir()
    (included / "fleet.conf").write_text(
        f"Host web-from-include\n  HostName {target.address}\n  Port {target.port}\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Include {included}/*.conf\n"
                      f"Match user {hosts.user}\n  IdentityFile {hosts.client_key}\n")
    data = hosts.config(1)
    data["ssh"]["config"] = str(config)
    data["ssh"].pop("identity_file")
    data["projects"]["app"]["environments"]["prod"]["hosts"] = {
        "web": {"address": "web-from-include", "user": hosts.user, "roles": ["web"]}}
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    assert main(["--config", str(path), "deploy", "app", "prod", "--yes"]) == 0
    assert target.path("/srv/app/current").is_symlink()


def test_ipv6_and_aliases_without_a_port_are_addresses(tmp_path: Path):
    from deploytui.config import load_config_text

    text = ("projects:\n  app:\n    repo: /srv/repo.git\n    deploy_to: /srv/app\n"
            "    environments:\n      prod:\n        hosts:\n"
            "          a: {address: \"::1\"}\n          b: {address: \"2001:db8::5\"}\n"
            "          c: {address: web-alias}\n")
    hosts = load_config_text(text, "c.yml").projects["app"].environments["prod"].hosts
    assert [h.address for h in hosts] == ["::1", "2001:db8::5", "web-alias"]


def test_a_forwardagent_naming_a_socket_still_builds_the_connection(tmp_path: Path):
    """OpenSSH's `ForwardAgent /path/to/agent.sock`: forwarding on (Fabric knows only
    yes/no); the lookup keeps the path for whoever forwards the agent."""
    from deploytui.config.model import SSHSettings
    from deploytui.engine.hosts.context import SSHContext

    config = tmp_path / "config"
    config.write_text("Host h\n  HostName 10.0.0.9\n  ForwardAgent ~/agent.sock\n"
                      "  IdentityAgent ~/other.sock\n")
    context = SSHContext(SSHSettings(config=config))
    conn = context.connection("h", port=2200)
    assert (conn.host, conn.port) == ("10.0.0.9", 2200)
    assert conn.forward_agent is False  # deploytui forwards on its own channels, not Fabric
    forwarder = context.forwarder(conn)
    assert forwarder is not None and forwarder.path.endswith("/agent.sock")
    assert conn.ssh_config["forwardagent"] in ("~/agent.sock", f"{HOME}/agent.sock")
    assert conn.ssh_config["identityagent"] == f"{HOME}/other.sock"


def test_check_connect_names_a_bad_ssh_config_line_once_per_host(hosts, tmp_path: Path,
                                                                  capsys):
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  Frobnicate yes\n")
    data = hosts.config(2)
    data["ssh"]["config"] = str(config)
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    assert main(["--config", str(path), "check", "app", "prod", "--connect"]) == 1
    out = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("app prod/")]
    assert [ln.split(None, 2)[2] for ln in out] == [
        f"ssh_config: {config}: line 2: Bad configuration option: frobnicate"] * 2


def test_a_proxyjump_written_user_at_host_port_reaches_the_hosts_behind_it(hosts,
                                                                           tmp_path: Path):
    """A hop given as `user@address:port` (no alias) is resolved as `ssh -l -p` would."""
    from deploytui.config import load_config
    from deploytui.engine.hosts.pool import HostPool, transport_factory

    bastion, targets = hosts.hosts[0], hosts.hosts[1:3]
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {' '.join(h.address for h in targets)}\n"
                      f"  ProxyJump {hosts.user}@{bastion.address}:{bastion.port}\n")
    data = hosts.config(targets)
    data["ssh"]["config"] = str(config)
    loaded = load_config(hosts.write_config(tmp_path / "deploytui.yml", data))
    env = loaded.projects["app"].environments["prod"]
    with HostPool(env.hosts, transport_factory(loaded)) as pool:
        assert pool.connect() == {}
        names = pool.map(lambda _h, t: t.run("hostname", capture=True).stdout.strip())
    assert {o.value for o in names.values()} == {h.name for h in targets}
    assert bastion.connections() == 1
