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
from deploytui.engine.hosts.agent import AgentForwarder, SocketAgent, agent_socket
from deploytui.engine.hosts.hostkeys import StrictPolicy, known_hosts_name
from deploytui.engine.hosts.jumps import JumpHosts
from deploytui.engine.hosts.keys import KeyUnusable, key_from_file, key_from_text
from deploytui.engine.hosts.known_hosts import KnownHosts
from deploytui.engine.hosts.ssh_config import SSHConfigResolver, parse_destination
from deploytui.engine.hosts.ssh_errors import (
    HandshakeDropped,
    HopError,
    KexTimedOut,
    NoKeyOffered,
    TooManyKeys,
    is_retriable,
)

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
    def __init__(self, settings: SSHSettings, *, passphrase: str | None = None,
                 key_text: str | None = None) -> None:
        self.settings = settings
        self.passphrase = passphrase
        self._key_text = key_text  # ssh.key's value: the private key's text (CI)
        self._pkey: paramiko.PKey | KeyUnusable | None = None
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

    def identity(self) -> paramiko.PKey | None:
        """ssh.identity_file's (or ssh.key's) key, read once; KeyUnusable if it cannot
        be (every host then says why, in the same words)."""
        s = self.settings
        if s.identity_file is None and self._key_text is None:
            return None
        with self._lock:
            if self._pkey is None:
                try:
                    if self._key_text is not None:
                        name = s.key.name if s.key is not None else "?"
                        self._pkey = key_from_text(self._key_text, self.passphrase,
                                                   f"ssh.key (secret {name!r})")
                    else:
                        assert s.identity_file is not None
                        self._pkey = key_from_file(s.identity_file, self.passphrase)
                except KeyUnusable as exc:
                    self._pkey = exc
            if isinstance(self._pkey, KeyUnusable):
                raise KeyUnusable(str(self._pkey))
            return self._pkey

    def forwarder(self, conn: fabric.Connection) -> AgentForwarder | None:
        """Who forwards the agent for `conn`'s commands: ssh.forward_agent, else the
        host's ForwardAgent in ssh_config (yes, or an agent socket); None: no forwarding
        (or no agent to forward)."""
        wanted = self.settings.forward_agent
        value = str(conn.ssh_config.get("forwardagent", "no")).strip()
        if wanted is None:
            wanted = value.lower() != "no"
        if not wanted:
            return None
        if value.lower() in ("yes", "no") or self.settings.forward_agent is not None:
            path = agent_socket(conn.ssh_config.get("identityagent"))
        else:  # ForwardAgent names the socket itself (a path or $VAR), as OpenSSH allows
            path = agent_socket(value)
        return AgentForwarder(path) if path else None

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
        pkey = self.identity()
        if pkey is not None:
            connect_kwargs["pkey"] = pkey  # read by keys.py: any format, in memory
        if self.passphrase:  # for ssh_config's IdentityFile keys, which paramiko reads
            connect_kwargs["passphrase"] = self.passphrase
        conn = fabric.Connection(host, user=user, port=port,
                                 config=self.fabric_config(resolved),
                                 connect_timeout=s.connect_timeout,
                                 connect_kwargs=connect_kwargs, gateway=False,
                                 # ours (forwarder); Fabric's own reads only yes/no and
                                 # raises KeyError on OpenSSH's `ForwardAgent /a/socket`
                                 forward_agent=False)
        if str(conn.ssh_config.get("identitiesonly", "no")).lower() == "yes":
            conn.connect_kwargs["allow_agent"] = False  # only the configured identities
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
        if conn.connect_kwargs.get("allow_agent", True):
            # paramiko's own Agent reads only $SSH_AUTH_SOCK: IdentityAgent's socket here
            path = agent_socket(conn.ssh_config.get("identityagent"))
            if path is None:
                conn.connect_kwargs["allow_agent"] = False
            else:
                conn.client._agent = SocketAgent(path)  # what SSHClient._auth then asks
        started = time.monotonic()
        try:
            conn.open()
        except BaseException as exc:
            auth = _auth_failure(conn, exc, timeout)
            with contextlib.suppress(Exception):
                conn.close()
            with contextlib.suppress(Exception):
                conn.connect_kwargs["sock"].close()
            if auth is not None:
                raise auth from None
            quick = time.monotonic() - started < timeout * 0.8
            text = str(exc).lower()
            if isinstance(exc, paramiko.SSHException) and quick and (
                    "banner" in text or "eof" in text or "reset" in text):
                raise HandshakeDropped(str(exc)) from None
            raise

    def close(self) -> None:
        self.jumps.close()


def _auth_failure(conn: fabric.Connection, exc: BaseException,
                  timeout: float) -> Exception | None:
    """paramiko's vaguer words for two authentication failures, made specific: no key
    at all to offer, and a server that hung up after too many keys (read before the
    connection is closed: it still knows what was offered); and the same words for a
    key exchange that never ended, which is no authentication failure at all."""
    if not isinstance(exc, paramiko.SSHException) or isinstance(
            exc, paramiko.AuthenticationException):
        return None
    text = str(exc)
    if text == "No authentication methods available":
        agent = conn.client._agent
        if isinstance(agent, SocketAgent):
            return NoKeyOffered(agent.path, agent.reachable)
        return NoKeyOffered()
    transport = conn.client.get_transport()
    if text == "No existing session" and transport is not None and transport.remote_version:
        if transport.session_id is None:  # keys are offered only after the exchange
            return KexTimedOut(timeout)
        agent = conn.client._agent
        offered = len(agent.get_keys()) if agent is not None else 0
        offered += 1 if conn.connect_kwargs.get("pkey") is not None else 0
        return TooManyKeys(offered)
    return None


class _Resolved(paramiko.SSHConfig):
    """What Fabric's Connection looks its host up in: the one answer already resolved."""

    def __init__(self, values: dict) -> None:
        super().__init__()
        self._values = values

    def lookup(self, hostname: str) -> paramiko.SSHConfigDict:
        return paramiko.SSHConfigDict(self._values)
