"""known_hosts: strict checking, and accepting a new key safely.

Fabric accepts any host key by default (its auto-add policy; known_hosts never read). Ours
never does: an unknown key raises HostKeyUnknown with its SHA256 fingerprint, a changed
key is refused by paramiko (BadHostKeyException) and never accepted from here.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from pathlib import Path

import paramiko

_write_lock = threading.Lock()  # threads of this process; fcntl covers other processes


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:...` exactly as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def load_known_hosts(path: Path) -> paramiko.HostKeys:
    """Parse known_hosts, skipping `@revoked`/`@cert-authority` lines paramiko chokes on.

    Revoked keys are simply never trusted (they are not loaded), which is the safe reading.
    """
    keys = paramiko.HostKeys()
    if not path.exists():
        return keys
    with tempfile.NamedTemporaryFile("w", delete=False) as filtered:
        for line in path.read_text(errors="replace").splitlines():
            if not line.lstrip().startswith("@"):
                filtered.write(line + "\n")
    try:
        keys.load(filtered.name)
    finally:
        os.unlink(filtered.name)
    return keys


def add_host_key(path: Path, name: str, key_type: str, key_base64: str) -> None:
    """Append one key atomically, under a lock: parallel accepts never tear the file."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = path.with_name(path.name + ".lock")
    with _write_lock, open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = path.read_text() if path.exists() else ""
        entry = f"{name} {key_type} {key_base64}"
        if entry in existing.splitlines():
            return
        if existing and not existing.endswith("\n"):
            existing += "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".known_hosts.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(existing + entry + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


class UnknownKeySeen(paramiko.SSHException):
    """Raised inside paramiko's handshake; the SSH transport turns it into HostKeyUnknown."""

    def __init__(self, name: str, key: paramiko.PKey) -> None:
        super().__init__(f"unknown host key for {name}")
        self.name = name
        self.key = key


class RaiseOnUnknown(paramiko.MissingHostKeyPolicy):
    """Strict: refuse an unknown key, carrying what the user needs to decide."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise UnknownKeySeen(hostname, key)


class AcceptNew(paramiko.MissingHostKeyPolicy):
    """`host_keys: accept-new`: remember an unknown key (never a changed one)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        add_host_key(self._path, hostname, key.get_name(), key.get_base64())
        client.get_host_keys().add(hostname, key.get_name(), key)
