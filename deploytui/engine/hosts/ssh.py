"""The SSH Transport: Fabric resolves and opens the connection; we own the channels.

Fabric gives us ~/.ssh/config (aliases, User, Port, IdentityFile, ProxyJump) and the
connection; commands then run on raw paramiko channels of that one connection, which
avoids invoke's per-command threads and its quadratic output handling, lets us stream
lines, terminate the remote process group, and notice a frozen host.
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import fabric
import paramiko

from deploytui.config.model import Host, SSHSettings
from deploytui.engine.hosts.hostkeys import (
    AcceptNew,
    RaiseOnUnknown,
    UnknownKeySeen,
    fingerprint,
    load_known_hosts,
)
from deploytui.engine.hosts.output import LineSplitter, env_block, wrapper_command
from deploytui.engine.hosts.transport import (
    AuthFailed,
    Cancelled,
    CommandResult,
    CommandTimedOut,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    LinesCallback,
    TcpRefused,
    TransportError,
    Unreachable,
)
from deploytui.engine.shell import q

logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

KILL_GRACE = 2.0
HANDSHAKES_PER_SERVER = 8  # sshd's MaxStartups drops bursts beyond ~10
_handshake_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _handshake_slot(host: str, port: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _handshake_slots.setdefault(
            (host, port), threading.BoundedSemaphore(HANDSHAKES_PER_SERVER))


class SSHTransport:
    """One host, one SSH connection, reused for every command of an operation."""

    def __init__(self, host: Host, settings: SSHSettings, *, passphrase: str | None = None,
                 probe_interval: float | None = None) -> None:
        self.name = host.name
        self._host = host
        self._settings = settings
        self._passphrase = passphrase
        self._conn: fabric.Connection | None = None
        self._dead = threading.Event()
        self._closed = threading.Event()
        self._probe_interval = probe_interval or min(5.0, settings.connect_timeout / 2)
        self.address = host.address
        self.port = host.port or 22

    # ---------------------------------------------------------------- connect
    def _connection(self) -> fabric.Connection:
        s = self._settings
        if s.config is not None and s.config.exists():
            cfg = fabric.Config(runtime_ssh_path=str(s.config))
        else:
            cfg = fabric.Config(overrides={"load_ssh_configs": False})
        cfg.run.in_stream = False  # never forward our stdin (keystrokes of the console)
        connect_kwargs: dict[str, object] = {
            "banner_timeout": s.connect_timeout,
            "auth_timeout": s.connect_timeout,
            "channel_timeout": s.connect_timeout,
        }
        if s.identity_file is not None:
            connect_kwargs["key_filename"] = [str(s.identity_file)]
        if self._passphrase:
            connect_kwargs["passphrase"] = self._passphrase
        conn = fabric.Connection(
            self._host.address, user=self._host.user, port=self._host.port, config=cfg,
            connect_timeout=s.connect_timeout, connect_kwargs=connect_kwargs,
        )
        self._trust(conn)
        return conn

    def _trust(self, conn: fabric.Connection) -> None:
        """Strict host keys on the target and on every gateway hop."""
        known = self._settings.known_hosts
        policy: paramiko.MissingHostKeyPolicy = (
            AcceptNew(known) if self._settings.host_keys == "accept-new" else RaiseOnUnknown())
        keys = load_known_hosts(known)
        host_keys = conn.client.get_host_keys()
        for name in keys:
            for key_type, key in keys[name].items():
                host_keys.add(name, key_type, key)
        conn.client.set_missing_host_key_policy(policy)
        if isinstance(conn.gateway, fabric.Connection):
            self._trust(conn.gateway)

    def connect(self) -> None:
        conn = self._connection()
        self.address, self.port = conn.host, int(conn.port)
        for attempt in range(3):
            try:
                self._open(conn)
                break
            except (ConnectionResetError, paramiko.SSHException) as exc:
                retriable = isinstance(exc, ConnectionResetError) or "reset" in str(exc)
                if not retriable or attempt == 2:
                    raise self._translate(exc) from None
                time.sleep(0.2 * 2 ** attempt + random.uniform(0, 0.2))
            except Exception as exc:
                raise self._translate(exc) from None
        self._conn = conn
        self._dead.clear()
        self._closed.clear()
        threading.Thread(target=self._watchdog, name=f"liveness-{self.name}",
                         daemon=True).start()

    def _open(self, conn: fabric.Connection) -> None:
        with _handshake_slot(conn.host, int(conn.port)):
            if conn.gateway is None:
                sock = socket.create_connection((conn.host, int(conn.port)),
                                                timeout=self._settings.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.connect_kwargs["sock"] = sock
            conn.open()
        transport_sock = getattr(conn.transport, "sock", None)
        if isinstance(transport_sock, socket.socket):
            with contextlib.suppress(OSError):
                transport_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _translate(self, exc: BaseException) -> TransportError:
        where = f"{self.address}:{self.port}"
        if isinstance(exc, UnknownKeySeen):
            return HostKeyUnknown(self.name, exc.name, exc.key.get_name(),
                                  fingerprint(exc.key), exc.key.get_base64())
        if isinstance(exc, paramiko.BadHostKeyException):
            return HostKeyChanged(self.name, fingerprint(exc.expected_key),
                                  fingerprint(exc.key))
        if isinstance(exc, paramiko.PasswordRequiredException):
            return AuthFailed(self.name, "the identity file is encrypted; set ssh.passphrase")
        if isinstance(exc, paramiko.AuthenticationException):
            user = self._conn_user()
            return AuthFailed(self.name, f"authentication failed for {user}@{where}")
        if isinstance(exc, TimeoutError | socket.timeout):
            return Unreachable(self.name, f"{where}: connection timed out")
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
                reason = "connection refused"
            return Unreachable(self.name, f"{where}: {reason.lower()}")
        text = str(exc) or type(exc).__name__
        if "banner" in text.lower():
            return Unreachable(self.name, f"{where}: no SSH banner (host not answering)")
        return Unreachable(self.name, f"{where}: {text}")

    def _conn_user(self) -> str:
        return self._host.user or (self._conn.user if self._conn else "?")

    # ---------------------------------------------------------------- liveness
    def _watchdog(self) -> None:
        """Expect a reply to a keepalive: paramiko's own keepalives never wait for one."""
        while not self._closed.wait(self._probe_interval):
            transport = self._conn.transport if self._conn else None
            if transport is None or not transport.is_active():
                self._dead.set()
                return
            done = threading.Event()

            def probe(t: paramiko.Transport = transport, done: threading.Event = done) -> None:
                with contextlib.suppress(Exception):
                    t.global_request("keepalive@openssh.com", wait=True)
                done.set()

            threading.Thread(target=probe, daemon=True).start()
            if not done.wait(self._settings.connect_timeout) and not self._closed.is_set():
                self._dead.set()
                with contextlib.suppress(Exception):
                    transport.close()
                return

    # ---------------------------------------------------------------- commands
    def _session(self) -> paramiko.Channel:
        if self._conn is None:
            raise TransportError(self.name, "not connected")
        if self._dead.is_set():
            raise ConnectionLost(self.name, "host stopped answering")
        transport = self._conn.transport
        if transport is None or not transport.is_active():
            raise ConnectionLost(self.name, "connection lost")
        try:
            return transport.open_session(timeout=self._settings.connect_timeout)
        except Exception as exc:
            raise ConnectionLost(self.name, f"could not open a channel: {exc}") from None

    def run(
        self,
        command: str,
        *,
        on_lines: LinesCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        started = time.monotonic()
        chan = self._session()
        out = LineSplitter((lambda lines: on_lines(lines, "out")) if on_lines else None,
                           capture=capture)
        err = LineSplitter((lambda lines: on_lines(lines, "err")) if on_lines else None)
        try:
            chan.exec_command(wrapper_command(command, bool(env)))
            payload = env_block(env) + (stdin or b"")
            if payload:
                chan.sendall(payload)
            chan.shutdown_write()
            self._pump(chan, out, err, started, timeout, cancel)
            code = chan.recv_exit_status()
            if self._dead.is_set() or (code == -1 and not self._transport_active()):
                raise ConnectionLost(self.name, "connection lost while the command ran")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self._dead.is_set():
                raise ConnectionLost(self.name, "host stopped answering") from None
            raise ConnectionLost(self.name, f"connection lost: {exc}") from None
        finally:
            chan.close()
        out.close()
        err.close()
        # sshd sends exit-signal (not a status) for a killed command: paramiko says -1
        return CommandResult(code, out.text(), err.text(), time.monotonic() - started)

    def _pump(self, chan: paramiko.Channel, out: LineSplitter, err: LineSplitter,
              started: float, timeout: float | None, cancel: threading.Event | None) -> None:
        while True:
            if self._dead.is_set():
                raise ConnectionLost(self.name, "host stopped answering (no reply to"
                                     f" keepalive within {self._settings.connect_timeout:g}s)")
            while chan.recv_ready():
                out.feed(chan.recv(65536))
            while chan.recv_stderr_ready():
                err.feed(chan.recv_stderr(65536))
            drained = not chan.recv_ready() and not chan.recv_stderr_ready()
            if drained and (chan.closed or (chan.exit_status_ready() and chan.eof_received)):
                return
            if cancel is not None and cancel.is_set():
                self._terminate(err.pgid)
                raise Cancelled(self.name, "cancelled; the command was terminated")
            if timeout is not None and time.monotonic() - started > timeout:
                self._terminate(err.pgid)
                raise CommandTimedOut(self.name, f"timed out after {timeout:g}s;"
                                                 " the command was terminated")
            if chan.eof_received:  # the pipe stays readable after EOF: wait on the status
                chan.status_event.wait(0.1)
            else:
                select.select([chan], [], [], 0.1)

    def _transport_active(self) -> bool:
        transport = self._conn.transport if self._conn else None
        return bool(transport is not None and transport.is_active())

    def _terminate(self, pgid: int | None) -> None:
        """Kill the command's process group on the host, TERM then KILL, on a new channel."""
        if pgid is None or self._dead.is_set():
            return
        script = (f"kill -TERM -- -{pgid} 2>/dev/null || exit 0; "
                  f"for i in $(seq 20); do kill -0 -- -{pgid} 2>/dev/null || exit 0;"
                  f" sleep 0.1; done; kill -KILL -- -{pgid} 2>/dev/null; exit 0")
        with contextlib.suppress(Exception):
            chan = self._session()
            chan.exec_command(script)
            chan.settimeout(KILL_GRACE + 3)
            chan.recv_exit_status()
            chan.close()

    def upload(self, local: Path, remote: str, *, cancel: threading.Event | None = None
               ) -> None:
        """Stream through `cat` on one channel: faster than SFTP (notes §6)."""
        chan = self._session()
        try:
            chan.exec_command(f"cat > {q(remote)}")
            with open(local, "rb") as src:
                while chunk := src.read(256 * 1024):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(self.name, "upload cancelled")
                    if self._dead.is_set():
                        raise ConnectionLost(self.name, "host stopped answering")
                    chan.sendall(chunk)
            chan.shutdown_write()
            while not chan.exit_status_ready():
                if self._dead.is_set():
                    raise ConnectionLost(self.name, "host stopped answering")
                select.select([chan], [], [], 0.2)
                while chan.recv_stderr_ready():
                    chan.recv_stderr(65536)
            if chan.recv_exit_status() != 0:
                raise TransportError(self.name, f"upload to {remote} failed")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionLost(self.name, f"upload interrupted: {exc}") from None
        finally:
            chan.close()

    # ---------------------------------------------------------------- tcp from the host
    def open_tcp(self, address: str, port: int, timeout: float) -> paramiko.Channel:
        """A direct-tcpip channel: sshd on the host connects to address:port for us."""
        if self._conn is None:
            raise TransportError(self.name, "not connected")
        if self._dead.is_set():
            raise ConnectionLost(self.name, "host stopped answering")
        transport = self._conn.transport
        if transport is None or not transport.is_active():
            raise ConnectionLost(self.name, "connection lost")
        try:
            return transport.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                          timeout=timeout)
        except paramiko.ChannelException as exc:
            reason = (exc.text or "connect failed").lower()
            if exc.code == 2:  # sshd's connect(2) failed: nothing listens there
                reason = "connection refused"
            elif exc.code == 1:  # administratively prohibited: AllowTcpForwarding no
                reason = f"{reason} (sshd's AllowTcpForwarding forbids it)"
            raise TcpRefused(self.name, f"{address}:{port}: {reason}") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if not self._transport_active() or self._dead.is_set():
                raise ConnectionLost(self.name, f"connection lost: {exc}") from None
            raise TcpRefused(self.name, f"{address}:{port}: {exc or 'timed out'}") from None

    def close(self) -> None:
        self._closed.set()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
