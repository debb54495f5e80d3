"""Commands through a connection's runner shell: one round trip each.

The runner (runner.py says what runs on the host) is one long-lived channel per SSH
connection; each command is one framed request on it, so a command costs one round trip,
not a channel open, an exec and a new shell. This module owns that channel's life on
our side: starting it without waiting for the exec's reply, one command at a time,
telling a runner that ended (killed, or a host without bash) from a lost link, and
falling back for good to a channel per command (ssh.py) where the runner cannot work.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import NoReturn, Protocol

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

from deploytui.engine.hosts.channel_reader import ChannelWakeup, CommandReader
from deploytui.engine.hosts.output import splitters
from deploytui.engine.hosts.runner import Frame, new_token, no_bash_reason, request, runner_command
from deploytui.engine.hosts.transport import (
    CommandResult,
    ConnectionLost,
    LinesCallback,
    TransportError,
)


class RunnerUnusable(Exception):
    """The runner ended before it began the command: nothing of it ran, and this host
    runs commands one channel each from now on."""


class Link(Protocol):
    """What the runner needs of its SSH connection (ssh.py's SSHTransport)."""

    name: str

    def open_session(self) -> paramiko.Channel: ...

    def request_agent(self, chan: paramiko.Channel) -> None: ...

    def lost(self) -> ConnectionLost | None: ...

    def dying(self) -> bool: ...


class RunnerSession:
    """The runner of one connection; `run()` returns None when it is busy or unusable,
    and the caller runs the command on a channel of its own."""

    def __init__(self, link: Link, reader: CommandReader) -> None:
        self._link = link
        self._reader = reader
        self._chan: paramiko.Channel | None = None
        self._wake: ChannelWakeup | None = None
        self._busy = threading.Lock()
        self._works = True  # until a runner ends before running its command

    def reset(self) -> None:
        """A new connection: its runner is yet to start, and may work again."""
        self._chan, self._wake = None, None
        self._works = True

    def start(self) -> None:
        """Start the shell now (at connect: it starts while the host waits for its turn
        to lock); the first command starts it if this failed."""
        with contextlib.suppress(Exception):
            self._chan = self._start()

    def forget(self) -> None:
        """The connection is closing: the runner goes with it (its shell reads EOF)."""
        self._chan = None

    def run(self, command: str, on_lines: LinesCallback | None, timeout: float | None,
            cancel: threading.Event | None, env: Mapping[str, str] | None, capture: bool
            ) -> CommandResult | None:
        if not self._works or not self._busy.acquire(blocking=False):
            return None
        try:
            return self._run(command, on_lines, timeout, cancel, env, capture)
        except RunnerUnusable:
            return None  # nothing of the command ran: a channel of its own runs it
        finally:
            self._busy.release()

    def _run(self, command: str, on_lines: LinesCallback | None, timeout: float | None,
             cancel: threading.Event | None, env: Mapping[str, str] | None, capture: bool
             ) -> CommandResult:
        started = time.monotonic()
        link = self._link
        chan = self._channel()
        wake = self._wake
        assert wake is not None
        out, err = splitters(on_lines, capture)
        token = new_token()
        out_cut, err_cut = Frame(token), Frame(token)
        try:
            try:
                chan.sendall(request(command, env, token))
            except OSError:
                if link.lost() is not None or not chan.closed or link.dying():
                    raise
                # the runner's shell ended before it read a byte (a login shell that
                # found no bash): a channel of its own runs the command and says why
                self._unusable()
            self._reader.pump(chan, wake, lambda data: out.feed(out_cut.feed(data)),
                              lambda data: err.feed(err_cut.feed(data)), err, started,
                              timeout, cancel, finished=lambda: out_cut.done and err_cut.done)
            if out_cut.done and err_cut.done:
                code = out_cut.end.exit_code() if out_cut.end else -1
            else:  # the runner itself ended: killed on the host, or the connection went
                self._drop()
                # the login shell's own words first: a host without bash also closes
                # the connection, and that must not read as a lost link
                missing = no_bash_reason(err_cut.begin.preamble)
                if missing is not None:
                    raise TransportError(link.name, missing)
                lost = link.lost()
                if lost is not None:
                    raise lost
                if err.pgid is None:  # it ended before the command began (its first word:
                    self._unusable()  # a shell without bash 4's `read -N`, ...); a channel
                    # of its own runs it, and would also find a lost link
                if link.dying():
                    raise ConnectionLost(link.name, "connection lost while the command ran")
                code = -1
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._drop()
            lost = link.lost()
            if lost is not None:
                raise lost from None
            # the runner's shell closed under the command as it began (a login shell that
            # found no bash closes its channel; on a busy host that can land while the
            # request is still being read): its own words, or a channel of its own
            missing = no_bash_reason(err_cut.begin.preamble)
            if missing is not None:
                raise TransportError(link.name, missing) from None
            if err.pgid is None and not link.dying():
                self._unusable()
            raise ConnectionLost(link.name, f"connection lost: {exc}") from None
        except BaseException:
            self._drop()  # stopped mid-command: its markers would confuse the next
            raise
        out.close()
        err.close()
        return CommandResult(code, out.text(), err.text(), time.monotonic() - started)

    def _unusable(self) -> NoReturn:
        self._drop()
        self._works = False
        raise RunnerUnusable

    def _channel(self) -> paramiko.Channel:
        chan = self._chan
        if chan is not None and not chan.closed and not chan.eof_received:
            return chan
        self._drop()
        self._chan = self._start()
        return self._chan

    def _start(self) -> paramiko.Channel:
        """A channel running the runner. Its exec request is sent without waiting for
        the reply, so the first command follows in the same round trip (sshd handles
        the exec before the data behind it); a refused exec closes the channel, which
        the command's run reports."""
        chan = self._link.open_session()
        self._wake = ChannelWakeup(chan)
        try:
            self._link.request_agent(chan)
            message = paramiko.Message()
            message.add_byte(cMSG_CHANNEL_REQUEST)
            message.add_int(chan.remote_chanid)
            message.add_string("exec")
            message.add_boolean(True)
            message.add_string(runner_command())
            # what exec_command does, less its _wait_for_event() (paramiko's own privates)
            chan._event_pending()  # type: ignore[attr-defined]
            chan.transport._send_user_message(message)  # type: ignore[union-attr]
        except Exception as exc:
            with contextlib.suppress(Exception):
                chan.close()
            raise ConnectionLost(self._link.name, f"could not start a shell: {exc}") from None
        return chan

    def _drop(self) -> None:
        chan, self._chan = self._chan, None
        if chan is not None:
            with contextlib.suppress(Exception):
                chan.close()

