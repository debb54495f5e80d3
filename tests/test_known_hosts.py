"""known_hosts as real users have it: hashed names, `[host]:port`, patterns, `@revoked`,
`@cert-authority`, thousands of lines - read once per operation, checked strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet
from long_known_hosts import ed25519_public, hashed_name, lines

from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.hosts.known_hosts import KnownHosts
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.hosts.transport import (
    HostKeyChanged,
    HostKeyRevoked,
    HostKeyUnknown,
    TransportError,
)
from deploytui.engine.operations.deploy import DeployRequest, run_deploy


def _config(fleet: Fleet, known: Path, hosts: int = 3, **ssh: object) -> Config:
    data = fleet.config(hosts)
    data["ssh"].update(known_hosts=str(known), **ssh)
    return load_config_text(json.dumps(data), "test.yml")


def _connect(config: Config) -> dict[str, TransportError]:
    env = config.projects["app"].environments["prod"]
    with HostPool(env.hosts, transport_factory(config)) as pool:
        return pool.connect()


def _entries(fleet: Fleet) -> list[tuple[str, str]]:
    """(known_hosts name, "type base64") of each fleet host, in host order."""
    out = []
    for line in fleet.known_hosts.read_text().splitlines():
        name, key_type, key = line.split()[:3]
        out.append((name, f"{key_type} {key}"))
    return out


def test_hashed_entries_are_trusted_like_plain_ones(hosts: Fleet, tmp_path: Path):
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"{hashed_name(name)} {key}\n" for name, key in _entries(hosts)))
    assert _connect(_config(hosts, known, hosts=10)) == {}


def test_an_entry_for_the_address_without_the_port_does_not_vouch_for_a_port(
        hosts: Fleet, tmp_path: Path):
    name, key = _entries(hosts)[0]
    known = tmp_path / "known_hosts"
    known.write_text(f"{hosts.hosts[0].address} {key}\n")  # port 22's entry; the host is :2200
    failed = _connect(_config(hosts, known, hosts=1))
    assert isinstance(failed["host1"], HostKeyUnknown)
    assert failed["host1"].key_name == name == f"[{hosts.hosts[0].address}]:2200"


def test_patterns_and_negations_select_the_entries_that_apply(hosts: Fleet, tmp_path: Path):
    entries = _entries(hosts)
    h1 = hosts.hosts[0].address
    prefix = h1.rsplit(".", 1)[0]
    known = tmp_path / "known_hosts"
    known.write_text(
        f"[{h1}]:22?? {entries[0][1]}\n"                        # host1 by a wildcard
        f"[{prefix}.*]:2200,![{h1}]:2200 {entries[1][1]}\n"     # host2's key for all but host1
    )
    failed = _connect(_config(hosts, known, hosts=3))
    assert set(failed) == {"host3"}, "host1 and host2 are vouched for by the patterns"
    assert isinstance(failed["host3"], HostKeyChanged), "the pattern's key is not host3's"


def test_a_revoked_key_is_never_trusted_even_if_also_listed(hosts: Fleet, tmp_path: Path):
    entries = _entries(hosts)
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"{name} {key}\n" for name, key in entries[:2])
                     + f"@revoked * {entries[0][1]}\n")
    failed = _connect(_config(hosts, known, hosts=2))
    assert set(failed) == {"host1"}
    assert isinstance(failed["host1"], HostKeyRevoked)
    assert "REVOKED" in str(failed["host1"])


def test_accept_new_never_records_a_revoked_key(hosts: Fleet, tmp_path: Path):
    known = tmp_path / "known_hosts"
    text = f"@revoked * {_entries(hosts)[0][1]}\n"
    known.write_text(text)
    failed = _connect(_config(hosts, known, hosts=2, host_keys="accept-new"))
    assert set(failed) == {"host1"} and isinstance(failed["host1"], HostKeyRevoked)
    assert known.read_text().startswith(text) and len(known.read_text().splitlines()) == 2


def test_a_cert_authority_line_neither_breaks_loading_nor_vouches_for_a_host(
        hosts: Fleet, tmp_path: Path):
    entries = _entries(hosts)
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {entries[0][1]}\n{entries[1][0]} {entries[1][1]}\n")
    failed = _connect(_config(hosts, known, hosts=2))
    assert set(failed) == {"host1"} and isinstance(failed["host1"], HostKeyUnknown)


@pytest.mark.timeout(120)
def test_a_five_thousand_line_known_hosts_deploys_like_a_short_one(
        hosts: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    known = tmp_path / "known_hosts"
    ours = [f"{hashed_name(name)} {key}" for name, key in _entries(hosts)]
    known.write_text("\n".join(lines(2500) + ours + lines(2500, seed=8)) + "\n")
    loads: list[Path] = []
    real_load = KnownHosts.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[KnownHosts], path: Path) -> KnownHosts:
        loads.append(path)
        return real_load(cls, path)

    monkeypatch.setattr(KnownHosts, "load", classmethod(counting_load))
    config = _config(hosts, known, hosts=10)
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                              user="ann@laptop"))
    assert result.outcome == "success", result.error
    assert loads == [known], "known_hosts is read once per operation, not once per host"


def test_the_index_finds_a_name_among_thousands_without_trusting_a_lookalike():
    key = ed25519_public()
    text = "\n".join([*lines(3000), f"{hashed_name('[web1.example.com]:2222')} {key}"])
    index = KnownHosts.from_text(text)
    assert [k.get_base64() for k in index.lookup("[web1.example.com]:2222").values()] == [
        key.split()[1]]
    assert index.lookup("web1.example.com") == {}
    assert index.lookup("[web1.example.com]:2223") == {}


# -- which hashed lines name a host is remembered between operations (hashed_hints.py)

def _hmacs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every HMAC the index computes, by the name it hashed."""
    from deploytui.engine.hosts import known_hosts

    computed: list[bytes] = []
    real = known_hosts._HashedEntry.matches

    def counting(self: object, name: bytes) -> bool:
        computed.append(name)
        return real(self, name)  # type: ignore[arg-type]

    monkeypatch.setattr(known_hosts._HashedEntry, "matches", counting)
    return computed


def _keys(index: KnownHosts, name: str) -> list[str]:
    return sorted(k.get_base64() for k in index.lookup(name).values())


def test_an_unchanged_file_is_not_hashed_through_again_by_the_next_operation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    key = ed25519_public()
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([*lines(2000), f"{hashed_name('[web1]:22')} {key}",
                                *lines(1000, seed=9)]) + "\n")
    hmacs = _hmacs(monkeypatch)
    first = _keys(KnownHosts.load(known), "[web1]:22")
    scanned = len(hmacs)
    hmacs.clear()
    again = _keys(KnownHosts.load(known), "[web1]:22")
    assert first == again == [key.split()[1]]
    assert scanned > 1000, "the first operation hashes the name with every hashed line"
    assert len(hmacs) == 1, "the next one checks only the line it remembered"


def test_a_changed_file_is_scanned_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    old, new = ed25519_public(), ed25519_public()
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([*lines(500), f"{hashed_name('web1')} {old}"]) + "\n")
    assert _keys(KnownHosts.load(known), "web1") == [old.split()[1]]
    known.write_text("\n".join([f"{hashed_name('web1')} {new}", *lines(500)]) + "\n")
    assert _keys(KnownHosts.load(known), "web1") == [new.split()[1]]


def test_a_remembered_answer_that_does_not_hold_is_dropped_and_never_adds_a_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    key, stranger = ed25519_public(), ed25519_public()
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([f"{hashed_name('web1')} {key}",
                                f"{hashed_name('web2')} {stranger}", *lines(300)]) + "\n")
    KnownHosts.load(known).lookup("web1")
    store = tmp_path / "data" / "known_hosts-hints.json"
    data = json.loads(store.read_text())
    (entry,) = data["files"].values()
    entry["names"]["web1"] = [1]  # tampered: web2's line claimed for web1
    entry["names"]["web3"] = [0, 1]  # and two lines for a host the file does not name
    store.write_text(json.dumps(data))
    index = KnownHosts.load(known)
    assert _keys(index, "web1") == [key.split()[1]]
    assert _keys(index, "web3") == []


def _web1_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A known_hosts naming web1 on a hashed line among 300 others; its key."""
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    key = ed25519_public()
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([f"{hashed_name('web1')} {key}", *lines(300)]) + "\n")
    return known, key


def test_a_revoked_key_stays_refused_when_its_host_was_remembered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    known, key = _web1_hashed(tmp_path, monkeypatch)
    assert _keys(KnownHosts.load(known), "web1") == [key.split()[1]]
    known.write_text(known.read_text() + f"@revoked * {key}\n")
    assert _keys(KnownHosts.load(known), "web1") == []


def test_a_corrupt_store_of_remembered_answers_is_rewritten_not_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    known, key = _web1_hashed(tmp_path, monkeypatch)
    store = tmp_path / "data" / "known_hosts-hints.json"
    for corrupt in ("{not json", '{"files": {"/elsewhere": 3}}', '{"files": []}'):
        store.parent.mkdir(exist_ok=True)
        store.write_text(corrupt)
        assert _keys(KnownHosts.load(known), "web1") == [key.split()[1]]
        remembered = json.loads(store.read_text())["files"][str(known)]["names"]
        assert remembered == {"web1": [0]}
