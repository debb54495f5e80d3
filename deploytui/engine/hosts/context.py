"""What one operation's SSH connections share: files read once, hops, handshake caps.

An operation (deploy, rollback, a listing, a status refresh) builds one SSHContext
through its transport factory. known_hosts and ~/.ssh/config are read the first time a
host needs them and never again in that operation (a key deploytui accepts is added to
the file and to the in-memory index). Every jump host is opened once and shared (see
jumps.py). Handshakes to any one server - a host, a jump host, or a ProxyCommand -
are capped process-wide below OpenSSH's default MaxStartups (10), however many hosts
run in parallel, and a connection the server dropped mid-handshake is retried.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

import fabric
import paramiko

from deploytui.config.model import SSHSettings
from deploytui.engine.hosts.hostkeys import StrictPolicy, known_hosts_name
from deploytui.engine.hosts.jumps import JumpHosts
from deploytui.engine.hosts.known_hosts import KnownHosts
from deploytui.engine.hosts.ssh_config import SSHConfigResolver, parse_destination
from deploytui.engine.hosts.ssh_errors import HandshakeDropped, HopError, is_retriable

if TYPE_CHECKING:
    from deploytui.engine.hosts.jumps import JumpHost

HANDSHAKES_PER_SERVER = 4  # sshd (default MaxStartups 10:30:100) counts a login until
# its listener hears the child authenticated, a little after we do: keep a margin
ATTEMPTS = 3
_slots: dict[Hashable, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def handshake_slot(server: Hashable) -> threading.BoundedSemaphore:
    """The process-wide cap on simultaneous handshakes with one server."""
    with _slots_lock:
        return _slots.setdefault(server, threading.BoundedSemaphore(HANDSHAKES_PER_SERVER))


class SSHContext:
    def __init__(self, settings: SSHSettings, *, passphrase: str | None = None) -> None:
        self.settings = settings
        self.passphrase = passphrase
        self.jumps = JumpHosts(self)
        self._known: KnownHosts | None = None
        self._ssh_config: SSHConfigResolver | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ read once
    def known_hosts(self) -> KnownHosts:
        with self._lock:
            if self._known is None:
                self._known = KnownHosts.load(self.settings.known_hosts)
            return self._known

    def ssh_config(self) -> SSHConfigResolver:
        """ssh_config as OpenSSH reads it (ssh_config.py), each host resolved once per
        operation: `.lookup(alias, port=None, user=None)` answers a paramiko-style dict."""
        with self._lock:
            if self._ssh_config is None:
                self._ssh_config = SSHConfigResolver(self.settings.config)
            return self._ssh_config

    def fabric_config(self, resolved: dict | None = None) -> fabric.Config:
        """A Fabric config of its own for each Connection (~0.5 ms): a Connection writes
        into its config (inline_ssh_env), and invoke rebuilds the whole config on every
        write, so a shared one reads as empty to other threads meanwhile. Its ssh_config
        answers Fabric's lookup with the host's already resolved values."""
        cfg = fabric.Config(ssh_config=_Resolved(resolved or {}))
        cfg.run.in_stream = False  # never forward our stdin (the console's keys)
        return cfg

    # ------------------------------------------------------------ connections
    def connection(self, address: str, *, user: str | None = None,
                   port: int | None = None) -> fabric.Connection:
        """An unopened Connection to `address` (an ssh_config alias or a host, or a
        ProxyJump hop's `user@host:port`) whose ProxyJump is left to us (`jumps`); a
        ProxyCommand stays Fabric's. Resolved as `ssh -p PORT -l USER` would resolve it,
        so ProxyCommand's %p is deploytui's `port:` (a Port line cannot override -p)."""
        s = self.settings
        given_user, host, given_port = parse_destination(address)
        user, port = user or given_user, port or given_port
        resolved = self.ssh_config().lookup(host, port=port, user=user)
        connect_kwargs: dict[str, object] = {  # a fresh dict: Fabric mutates it
            "banner_timeout": s.connect_timeout,
            "auth_timeout": s.connect_timeout,
            "channel_timeout": s.connect_timeout,
        }
        if s.identity_file is not None:
            connect_kwargs["key_filename"] = [str(s.identity_file)]
        if self.passphrase:
            connect_kwargs["passphrase"] = self.passphrase
        # ForwardAgent may name an agent's socket (OpenSSH): forwarding is on, and
        # Fabric, which knows only yes/no, must not read it
        forward = None if resolved.get("forwardagent", "no") in ("yes", "no") else True
        conn = fabric.Connection(host, user=user, port=port,
                                 config=self.fabric_config(resolved),
                                 connect_timeout=s.connect_timeout, forward_agent=forward,
                                 connect_kwargs=connect_kwargs, gateway=False)
        command = conn.ssh_config.get("proxycommand", "none")
        if "proxyjump" not in conn.ssh_config and command.lower() != "none":
            conn.gateway = command  # Fabric starts one ProxyCommand process per host
        return conn

    def _trust(self, conn: fabric.Connection) -> None:
        """Strict host keys: only this server's entries of known_hosts, our policy."""
        known = self.known_hosts()
        name = known_hosts_name(conn.host, int(conn.port))
        host_keys = conn.client.get_host_keys()
        for key_type, key in known.lookup(name).items():
            host_keys.add(name, key_type, key)
        conn.client.set_missing_host_key_policy(
            StrictPolicy(known, accept_new=self.settings.host_keys == "accept-new"))

    def open(self, conn: fabric.Connection, via: JumpHost | None = None) -> None:
        """Open `conn` directly, through the jump host `via`, or by its ProxyCommand.

        Raises paramiko/socket exceptions about `conn` itself, or a HopError when a
        jump host in front of it failed.
        """
        self._trust(conn)
        if via is not None:
            server: Hashable = (via.key, conn.host, int(conn.port))
        elif conn.gateway:
            server = ("proxycommand", conn.gateway)
        else:
            server = (conn.host, int(conn.port))
        for attempt in range(ATTEMPTS):
            try:
                with handshake_slot(server):
                    self._open_once(conn, via)
                break
            except HopError:
                raise
            except Exception as exc:
                if not is_retriable(exc) or attempt == ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * 2 ** attempt + random.uniform(0, 0.2))
        sock = getattr(conn.transport, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _open_once(self, conn: fabric.Connection, via: JumpHost | None) -> None:
        timeout = self.settings.connect_timeout
        conn.connect_kwargs.pop("sock", None)
        if via is not None:
            conn.connect_kwargs["sock"] = via.channel(conn.host, int(conn.port))
        elif not conn.gateway:
            sock = socket.create_connection((conn.host, int(conn.port)), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.connect_kwargs["sock"] = sock
        started = time.monotonic()
        try:
            conn.open()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                conn.close()
            with contextlib.suppress(Exception):
                conn.connect_kwargs["sock"].close()
            quick = time.monotonic() - started < timeout * 0.8
            text = str(exc).lower()
            if isinstance(exc, paramiko.SSHException) and quick and (
                    "banner" in text or "eof" in text or "reset" in text):
                raise HandshakeDropped(str(exc)) from None
            raise

    def close(self) -> None:
        self.jumps.close()


class _Resolved(paramiko.SSHConfig):
    """What Fabric's Connection looks its host up in: the one answer already resolved."""

    def __init__(self, values: dict) -> None:
        super().__init__()
        self._values = values

    def lookup(self, hostname: str) -> paramiko.SSHConfigDict:
        return paramiko.SSHConfigDict(self._values)
