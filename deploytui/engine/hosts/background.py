"""A command that runs on a host beside the operation's other commands, for as long as
its handle is open (the artifact relay's server): its stdin stays open, and its end is
the command's signal to exit, so closing the handle, the connection dropping or this
process dying all end it. Its stdout is read a line at a time."""

from __future__ import annotations

import contextlib
import threading
import time

import paramiko

from deploytui.engine.hosts.transport import Cancelled, ConnectionLost


class ChannelBackground:
    """One command on an SSH channel of its own (see SSHTransport.start)."""

    def __init__(self, host: str, chan: paramiko.Channel, dead: threading.Event) -> None:
        self.host = host
        self._chan = chan
        self._dead = dead
        self._out = b""
        self._err = b""
        self._closed = False

    def readline(self, timeout: float, cancel: threading.Event | None = None) -> str | None:
        """The next stdout line; None once the command ended (or `timeout` passed with no
        line: then the caller decides). Raises Cancelled / ConnectionLost."""
        deadline = time.monotonic() + timeout
        chan = self._chan
        while b"\n" not in self._out:
            if cancel is not None and cancel.is_set():
                self.close()
                raise Cancelled(self.host, "cancelled")
            if self._dead.is_set():
                raise ConnectionLost(self.host, "connection lost")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._drain_err()
            chan.settimeout(min(0.2, remaining))
            try:
                data = chan.recv(65536)
            except TimeoutError:
                continue
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise ConnectionLost(self.host, f"connection lost: {exc}") from None
            if not data:  # the command ended
                self._drain_err()
                return None
            self._out += data
        line, _, self._out = self._out.partition(b"\n")
        return line.decode("utf-8", "replace")

    def _drain_err(self) -> None:
        with contextlib.suppress(Exception):
            while self._chan.recv_stderr_ready():
                self._err = (self._err + self._chan.recv_stderr(65536))[-4096:]

    def error(self) -> str:
        """The last line the command wrote on stderr (why it could not start)."""
        self._drain_err()
        lines = [ln for ln in self._err.decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""

    def exit_code(self) -> int | None:
        return self._chan.recv_exit_status() if self._chan.exit_status_ready() else None

    def end(self) -> None:
        """Close its stdin: the command exits (it watches for exactly that)."""
        if not self._closed:
            with contextlib.suppress(Exception):
                self._chan.shutdown_write()

    def ended(self) -> bool:
        return self._closed or self._chan.exit_status_ready() or self._chan.closed

    def close(self) -> None:
        if self._closed:
            return
        self.end()
        self._closed = True
        with contextlib.suppress(Exception):
            self._chan.close()
