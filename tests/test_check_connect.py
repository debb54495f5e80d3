"""`deploytui check --connect`: one line per host, telling apart every way a host can fail."""

from __future__ import annotations

import subprocess

from deploytui.cli import main


def _fingerprint(fleet_host) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(fleet_host.root / "ssh_host_ed25519_key")],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def _lines(capsys) -> dict[str, str]:
    out = capsys.readouterr().out
    return {line.split()[1]: line for line in out.splitlines() if line.startswith("app ")}


def test_every_reachable_host_with_a_known_key_is_ok(hosts, tmp_path, capsys):
    config = hosts.write_config(tmp_path / "c.yml", hosts.config(3))
    assert main(["--config", str(config), "check", "app", "prod", "--connect"]) == 0
    lines = _lines(capsys)
    assert sorted(lines) == ["prod/host1", "prod/host2", "prod/host3"]
    assert all(line.rstrip().endswith(" ok") for line in lines.values())


def test_unreachable_unknown_key_and_changed_key_are_each_told_apart(hosts, tmp_path, capsys):
    known = hosts.known_hosts.read_text().splitlines()
    host2_entry, host3_key = known[1].split(), known[3].split()  # host3 gets host4's key
    edited = [known[0], f"{known[2].split()[0]} {host3_key[1]} {host3_key[2]}"]
    del host2_entry  # host2 is missing: unknown
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(edited) + "\n")
    data = hosts.config(4)
    data["ssh"]["known_hosts"] = str(known_hosts)
    hosts.hosts[3].kill()
    config = hosts.write_config(tmp_path / "c.yml", data)
    assert main(["--config", str(config), "check", "app", "prod", "--connect"]) == 1
    lines = _lines(capsys)
    assert lines["prod/host1"].rstrip().endswith(" ok")
    assert f"unknown host key ssh-ed25519 {_fingerprint(hosts.hosts[1])}" in lines["prod/host2"]
    assert "CHANGED host key, refused" in lines["prod/host3"]
    assert f"known {_fingerprint(hosts.hosts[3])}" in lines["prod/host3"]
    assert f"presented {_fingerprint(hosts.hosts[2])}" in lines["prod/host3"]
    assert "unreachable:" in lines["prod/host4"] and "connection refused" in lines["prod/host4"]
    assert known_hosts.read_text() == "\n".join(edited) + "\n", "check must not trust keys"


def test_the_deploy_lock_holder_is_shown_next_to_the_host(hosts, tmp_path, capsys):
    config = hosts.write_config(tmp_path / "c.yml", hosts.config(2))
    assert main(["--config", str(config), "lock", "app", "prod"]) == 0
    capsys.readouterr()
    try:
        assert main(["--config", str(config), "check", "app", "prod", "--connect"]) == 0
        lines = _lines(capsys)
        assert all("ok  locked by " in line and "(locked by hand)" in line
                   for line in lines.values())
    finally:
        main(["--config", str(config), "unlock", "app", "prod"])
