"""The SSH Transport: Fabric resolves and opens the connection; we own the channels.

Fabric gives us ~/.ssh/config (aliases, User, Port, IdentityFile, ProxyCommand) and the
connection; jump hosts, host keys and handshake caps are the operation's SSHContext's
(context.py, jumps.py), liveness is the process's one watchdog (liveness.py). Commands
then run on raw paramiko channels of that one connection, which avoids invoke's
per-command threads and its quadratic output handling, lets us stream lines, terminate
the remote process group, and notice a frozen host. One channel, the runner
(runner.py, runner_session.py), serves every command in turn: a command costs one round
trip, not a channel open, an exec and a new shell. Reading a command off its channel,
and killing it on the host, is channel_reader.py's. The facts behind each choice: Fabric accepts
any host key by default, invoke's output handling is quadratic, a frozen host hangs its
run() forever, and a stream through `cat` beats SFTP for uploads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import fabric
import paramiko

from deploytui.config.model import Host, SSHSettings
from deploytui.engine.hosts.agent import AgentForwarder
from deploytui.engine.hosts.background import ChannelBackground
from deploytui.engine.hosts.channel_reader import ChannelWakeup, CommandReader
from deploytui.engine.hosts.context import SSHContext
from deploytui.engine.hosts.jumps import JumpHost
from deploytui.engine.hosts.liveness import Watch, watchdog
from deploytui.engine.hosts.output import env_block, splitters, wrapper_command
from deploytui.engine.hosts.runner import Frame, new_token, no_bash_reason
from deploytui.engine.hosts.runner_session import RunnerSession
from deploytui.engine.hosts.ssh_errors import translate
from deploytui.engine.hosts.transport import (
    Cancelled,
    CommandResult,
    ConnectionLost,
    LinesCallback,
    TcpRefused,
    TransportError,
)
from deploytui.engine.shell import q

logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

CLOSE_GRACE = 2.0  # seconds a closed connection's reader thread gets to end (see close)

_uploaded = [0]  # bytes every upload of this process has sent (uploaded_bytes)
_uploaded_lock = threading.Lock()


def _count_upload(n: int) -> None:
    with _uploaded_lock:
        _uploaded[0] += n


def uploaded_bytes() -> int:
    """Bytes all uploads of this process have sent so far: what a deploy ships from the
    deploying machine (the artifact relay's measure, counted where the bytes leave)."""
    return _uploaded[0]


class SSHTransport:
    """One host, one SSH connection, reused for every command of an operation.

    `context` is what the operation's hosts share (known_hosts and ssh_config read
    once, jump host connections); a transport made without one gets its own.
    """

    def __init__(self, host: Host, settings: SSHSettings, *, passphrase: str | None = None,
                 probe_interval: float | None = None, context: SSHContext | None = None
                 ) -> None:
        self.name = host.name
        self._host = host
        self._settings = settings
        self._context = context or SSHContext(settings, passphrase=passphrase)
        self._conn: fabric.Connection | None = None
        self._via: JumpHost | None = None
        self._watch: Watch | None = None
        self._dead = threading.Event()
        self._dead_reason = "host stopped answering"
        self._forward: AgentForwarder | None = None
        self._probe_interval = probe_interval or min(5.0, settings.connect_timeout / 2)
        self._reader = CommandReader(self.name, self._dead, lambda: self._dead_reason,
                                     self.open_session)
        self._runner = RunnerSession(self, self._reader)  # the host's runner shell
        self.address = host.address
        self.port = host.port or 22

    # ---------------------------------------------------------------- connect
    def connect(self) -> None:
        context = self._context
        via: JumpHost | None = None
        conn: fabric.Connection | None = None
        try:
            conn = context.connection(self._host.address, user=self._host.user,
                                      port=self._host.port)
            self.address, self.port = conn.host, int(conn.port)
            via = context.jumps.acquire(conn)
            context.open(conn, via)
        except Exception as exc:
            context.jumps.release(via)
            user = self._host.user or (str(conn.user) if conn is not None else "?")
            raise translate(exc, self.name, f"{self.address}:{self.port}", user) from None
        self._conn, self._via = conn, via
        self._forward = context.forwarder(conn)  # the agent, on every command's channel
        self._runner.reset()
        self._dead.clear()
        if via is not None:
            via.depend(self._lost)
        self._watch = watchdog().watch(conn.transport, interval=self._probe_interval,
                                       timeout=self._settings.connect_timeout,
                                       on_dead=self._lost,
                                       undecided_upstream=via.undecided if via else None)
        self._runner.start()

    def _lost(self, reason: str) -> None:
        """Liveness said the connection (or a jump host in front of it) is gone."""
        if self._dead.is_set():
            return  # the first verdict says why; the close that follows it reports again
        watch, via = self._watch, self._via
        if via is not None and watch is not None and watch.sent_at is not None \
                and not reason.startswith("jump host"):
            # our own probe went unanswered (the watchdog waited for the hops' verdicts):
            # a hop not heard from since is what froze
            silent = via.blame(watch.sent_at + watch.timeout / 2)
            if silent is not None:
                reason = f"jump host {silent.label}: {reason}"
        self._dead_reason = (reason if reason.startswith(("jump host", "connection"))
                             else f"host {reason}")
        self._dead.set()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()

    # ---------------------------------------------------------------- commands
    def open_session(self) -> paramiko.Channel:
        if self._conn is None:
            raise TransportError(self.name, "not connected")
        if self._dead.is_set():
            raise ConnectionLost(self.name, self._dead_reason)
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
        """Through the host's runner shell (runner.py) when it is free; on a channel of its
        own when the command needs stdin or another command holds the runner."""
        if stdin is None:
            result = self._runner.run(command, on_lines, timeout, cancel, env, capture)
            if result is not None:
                return result
        return self._run_on_channel(command, on_lines, timeout, cancel, env, stdin, capture)

    def _run_on_channel(self, command: str, on_lines: LinesCallback | None,
                        timeout: float | None, cancel: threading.Event | None,
                        env: Mapping[str, str] | None, stdin: bytes | None, capture: bool
                        ) -> CommandResult:
        started = time.monotonic()
        chan = self.open_session()
        wake = ChannelWakeup(chan)
        out, err = splitters(on_lines, capture)
        token = new_token()
        out_cut, err_cut = Frame(token, end=False), Frame(token, end=False)
        try:
            self.request_agent(chan)
            chan.exec_command(wrapper_command(command, bool(env), token))
            self._send_input(chan, env_block(env) + (stdin or b""))
            self._reader.pump(chan, wake, lambda data: out.feed(out_cut.feed(data)),
                              lambda data: err.feed(err_cut.feed(data)), err, started,
                              timeout, cancel,
                              finished=lambda: chan.exit_status_ready() and bool(chan.eof_received))
            code = chan.recv_exit_status()
            if self._dead.is_set() or (code == -1 and self.dying()):
                raise ConnectionLost(self.name, "connection lost while the command ran")
            if not err_cut.begin.begun:  # the login shell failed before our wrapper ran
                missing = no_bash_reason(err_cut.begin.preamble)
                if missing is not None:
                    raise TransportError(self.name, missing)
                err.feed(err_cut.begin.preamble)  # its words are all there is to tell
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self._dead.is_set():
                raise ConnectionLost(self.name, self._dead_reason) from None
            raise ConnectionLost(self.name, f"connection lost: {exc}") from None
        finally:
            chan.close()
        out.close()
        err.close()
        # sshd sends exit-signal (not a status) for a killed command: paramiko says -1
        return CommandResult(code, out.text(), err.text(), time.monotonic() - started)

    def request_agent(self, chan: paramiko.Channel) -> None:
        """Ask for agent forwarding on this channel, when configured (no round trip)."""
        if self._forward is not None:
            self._forward.request(chan)

    def lost(self) -> ConnectionLost | None:
        """Liveness's verdict, once it found the connection gone."""
        return ConnectionLost(self.name, self._dead_reason) if self._dead.is_set() else None

    def _send_input(self, chan: paramiko.Channel, payload: bytes) -> None:
        """A command that ends before reading all its input (or a login shell that found
        no bash) closes the channel under the send: what it said and its exit status
        are still to read, so that is not a lost connection."""
        try:
            if payload:
                chan.sendall(payload)
            chan.shutdown_write()
        except OSError:
            if self._dead.is_set() or not chan.closed or self.dying():
                raise

    def _transport_active(self) -> bool:
        transport = self._conn.transport if self._conn else None
        return bool(transport is not None and transport.is_active())

    def dying(self, grace: float = 1.0) -> bool:
        """Whether a channel that closed with no exit status went down with its connection.

        paramiko closes every channel of a dropped connection BEFORE it marks the transport
        inactive, so right after such a close the transport may still look alive. A -1 is
        also what a command killed by a signal gets on a healthy connection; so wait (up to
        `grace`, only on this rare path) for the transport's thread to end before deciding.
        """
        transport = self._conn.transport if self._conn else None
        if transport is None or not transport.is_active():
            return True
        transport.join(grace)
        return not transport.is_active()

    def upload(self, local: Path, remote: str, *, cancel: threading.Event | None = None
               ) -> None:
        """Stream through `cat` on one channel: faster than paramiko's SFTP, which waits
        on small acknowledged writes."""
        chan = self.open_session()
        try:
            chan.exec_command(f"cat > {q(remote)}")
            with open(local, "rb") as src:
                while chunk := src.read(256 * 1024):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(self.name, "upload cancelled")
                    if self._dead.is_set():
                        raise ConnectionLost(self.name, self._dead_reason)
                    chan.sendall(chunk)
                    _count_upload(len(chunk))
            chan.shutdown_write()
            while not chan.exit_status_ready():
                if self._dead.is_set():
                    raise ConnectionLost(self.name, self._dead_reason)
                chan.status_event.wait(0.2)
                while chan.recv_stderr_ready():
                    chan.recv_stderr(65536)
            if chan.recv_exit_status() != 0:
                raise TransportError(self.name, f"upload to {remote} failed")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionLost(self.name, f"upload interrupted: {exc}") from None
        finally:
            chan.close()

    def start(self, command: str, stdin: bytes = b"") -> ChannelBackground:
        """`command` on a channel of its own, left running: `stdin` is written and the
        channel's input stays open until the handle is closed (background.py)."""
        chan = self.open_session()
        try:
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if chan.closed and not self._dead.is_set() and not self.dying():
                # it ended before it read its stdin (`python3: not found`): the handle
                # reports that end and its stderr, the connection is fine
                return ChannelBackground(self.name, chan, self._dead)
            with contextlib.suppress(Exception):
                chan.close()
            raise ConnectionLost(self.name, f"could not start a command: {exc}") from None
        return ChannelBackground(self.name, chan, self._dead)

    # ---------------------------------------------------------------- tcp from the host
    def open_tcp(self, address: str, port: int, timeout: float) -> paramiko.Channel:
        """A direct-tcpip channel: sshd on the host connects to address:port for us."""
        if self._conn is None:
            raise TransportError(self.name, "not connected")
        if self._dead.is_set():
            raise ConnectionLost(self.name, self._dead_reason)
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
        self._runner.forget()  # closed with the connection; its shell reads EOF and ends
        if self._watch is not None:
            watchdog().unwatch(self._watch)
            self._watch = None
        transport = self._conn.transport if self._conn is not None else None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        via, self._via = self._via, None
        if via is not None:
            # Behind a jump host our "socket" is a channel of the hop's connection, which
            # paramiko's reader thread closes on its way out; let it finish before the hop
            # may close, or that thread dies on EOFError and prints it to the terminal.
            if transport is not None and transport is not threading.current_thread():
                transport.join(CLOSE_GRACE)
            via.undepend(self._lost)
            self._context.jumps.release(via)
