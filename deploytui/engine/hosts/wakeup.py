"""Waiting for a channel's output without losing a wake-up.

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

import threading

import paramiko


class ChannelWakeup:
    """What a channel's two buffers signal; one per channel, for its whole life."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self._event = threading.Event()
        chan.in_buffer.set_event(self)
        chan.in_stderr_buffer.set_event(self)

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
