"""Reading one command's output off its SSH channel until it ends.

The reader wakes for output without ever losing a wake-up (ChannelWakeup), stops when
the command is done, and on a cancel or a timeout terminates the command's process group
on the host (CommandReader): the SSH transport (ssh.py) keeps the connection, this
module what happens on a channel while a command runs.

paramiko's `Channel.fileno()` is an OS pipe that two flags, stdout's and stderr's, OR
together: each buffer sets its flag from paramiko's reader thread and clears it from ours
when it drains, with no lock across the two. A set that races a clear is lost, and the
data then sits in its buffer while `select()` waits out its whole timeout. On the fleet,
1 in 20 commands that write both streams waited the full poll interval that way, and one
such host holds back a whole round of an operation.

Here both buffers set one `threading.Event`, and only the reader clears it, always BEFORE
it looks at the buffers: data that arrives after the look wakes the wait at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import paramiko

from deploytui.engine.hosts.output import LineSplitter
from deploytui.engine.hosts.transport import Cancelled, CommandTimedOut, ConnectionLost

KILL_GRACE = 2.0
PGID_GRACE = 2.0  # seconds a cancelled command's process-group line may still take


class ChannelWakeup:
    """What a channel's two buffers signal; one per channel, for its whole life."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self._event = threading.Event()
        # it has the one method the buffers call on an Event: set()
        chan.in_buffer.set_event(self)  # type: ignore[arg-type]
        chan.in_stderr_buffer.set_event(self)  # type: ignore[arg-type]

    # -- what paramiko's buffers call (from its reader thread, or when they drain)
    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        """A buffer drained: nothing to do, the other one may hold data (see arm)."""

    # -- the reader
    def arm(self) -> None:
        """Call before looking at the buffers; a wait then wakes for anything after."""
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class CommandReader:
    """How one host's commands are read and, when they must be, terminated.

    `dead` is set (with `dead_reason()` saying why) when liveness gave the connection
    up; `open_session` opens a fresh channel on it, for the kill.
    """

    def __init__(self, name: str, dead: threading.Event, dead_reason: Callable[[], str],
                 open_session: Callable[[], paramiko.Channel]) -> None:
        self.name = name
        self._dead = dead
        self._dead_reason = dead_reason
        self._open_session = open_session

    def pump(self, chan: paramiko.Channel, wake: ChannelWakeup,
             feed_out: Callable[[bytes], None], feed_err: Callable[[bytes], None],
             err: LineSplitter, started: float, timeout: float | None,
             cancel: threading.Event | None, *, finished: Callable[[], bool]) -> None:
        """Read until `finished` (or the channel ends); terminate the command's process
        group (its pgid is err's first line) on cancel or timeout."""
        while True:
            if self._dead.is_set():
                raise ConnectionLost(self.name, self._dead_reason())
            wake.arm()
            while chan.recv_ready():
                feed_out(chan.recv(65536))
            while chan.recv_stderr_ready():
                feed_err(chan.recv_stderr(65536))
            drained = not chan.recv_ready() and not chan.recv_stderr_ready()
            if drained and (finished() or chan.closed
                            or (chan.eof_received and chan.exit_status_ready())):
                return
            if cancel is not None and cancel.is_set():
                self.terminate(self._await_pgid(chan, wake, feed_out, feed_err, err))
                raise Cancelled(self.name, "cancelled; the command was terminated")
            if timeout is not None and time.monotonic() - started > timeout:
                self.terminate(self._await_pgid(chan, wake, feed_out, feed_err, err))
                raise CommandTimedOut(self.name, f"timed out after {timeout:g}s;"
                                                 " the command was terminated")
            if chan.eof_received:  # the pipe stays readable after EOF: wait on the status
                chan.status_event.wait(0.1)
            else:
                wake.wait(0.1)

    def _await_pgid(self, chan: paramiko.Channel, wake: ChannelWakeup,
                    feed_out: Callable[[bytes], None], feed_err: Callable[[bytes], None],
                    err: LineSplitter, grace: float = PGID_GRACE) -> int | None:
        """The command's process group, read first thing on its stderr. A cancel can
        come from its stdout (a line someone waited for) before that line is read: the
        two streams are not ordered. Without it nothing would be terminated."""
        deadline = time.monotonic() + grace
        while err.pgid is None and time.monotonic() < deadline and not chan.closed \
                and not self._dead.is_set():
            wake.arm()
            while chan.recv_stderr_ready():
                feed_err(chan.recv_stderr(65536))
            while chan.recv_ready():
                feed_out(chan.recv(65536))
            if err.pgid is None:
                wake.wait(0.05)
        return err.pgid

    def terminate(self, pgid: int | None) -> None:
        """Kill the command's process group on the host, TERM then KILL, on a new channel."""
        if pgid is None or self._dead.is_set():
            return
        script = (f"kill -TERM -- -{pgid} 2>/dev/null || exit 0; "
                  f"for i in $(seq 20); do kill -0 -- -{pgid} 2>/dev/null || exit 0;"
                  f" sleep 0.1; done; kill -KILL -- -{pgid} 2>/dev/null; exit 0")
        with contextlib.suppress(Exception):
            chan = self._open_session()
            chan.exec_command(script)
            chan.settimeout(KILL_GRACE + 3)
            chan.recv_exit_status()
            chan.close()
