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

from deploytui.engine.hosts.known_hosts import KnownHosts

_write_lock = threading.Lock()  # threads of this process; fcntl covers other processes


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:...` exactly as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


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


class RevokedKeySeen(paramiko.SSHException):
    """The host presented a key marked @revoked in known_hosts: refused, always."""

    def __init__(self, name: str, key: paramiko.PKey) -> None:
        super().__init__(f"revoked host key for {name}")
        self.name = name
        self.key = key


class StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Called only for a host with no trusted key: refuse (strict) or remember (accept-new).

    A revoked key is refused either way; a changed key never reaches here (paramiko
    raises BadHostKeyException for it).
    """

    def __init__(self, known: KnownHosts, *, accept_new: bool) -> None:
        self._known = known
        self._accept_new = accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if self._known.is_revoked(key):
            raise RevokedKeySeen(hostname, key)
        if not self._accept_new or self._known.path is None:
            raise UnknownKeySeen(hostname, key)
        add_host_key(self._known.path, hostname, key.get_name(), key.get_base64())
        self._known.remember(hostname, key)
        client.get_host_keys().add(hostname, key.get_name(), key)
