"""One watchdog for every SSH connection of the process: does the peer still answer?

paramiko's own keepalives expect no reply, so a frozen host (or a frozen bastion in
front of it) would stall a command forever. Every watched connection gets a
`keepalive@openssh.com` request that wants a reply every `interval` seconds; no reply
within `timeout` declares it dead: its transport is closed and `on_dead` called (which
fails whatever runs over it, and everything behind it when it is a jump host).

A host behind a jump host can miss its probe because the hop froze, and the hop's own
verdict may be a tick behind. So before a host behind a hop is declared dead, the
watchdog waits (boundedly) until the hop has either died or answered a probe sent well
after the host's: the failure is then told about the server that actually froze.

Two threads serve all connections, however many: the watchdog, which only reads clocks
and never blocks, and a prober that sends the requests (a send can block on a frozen
peer's full TCP window; the watchdog then sees that probe overdue and closes the
transport, which unblocks the send). The threads exit when nothing is watched.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

TICK = 0.2  # how often deadlines are checked; far below any sensible connect_timeout


@dataclass(eq=False)
class Watch:
    transport: paramiko.Transport
    interval: float
    timeout: float
    on_dead: Callable[[str], None]
    # For a connection behind jump hosts: given a time, True while some hop in front has
    # neither died nor answered a probe sent after it (its verdict is still to come).
    undecided_upstream: Callable[[float], bool] | None = None
    next_probe: float = 0.0
    queued_at: float | None = None  # a probe is due (waiting for the prober)
    sent_at: float | None = None  # ... and the prober began sending it
    reply: threading.Event = field(default_factory=threading.Event)
    dead: bool = False
    replies: int = 0  # answered probes, for the curious (tests)
    last_reply: float = field(default_factory=time.monotonic)  # or when watching began
    # when the newest answered probe was sent: the peer was alive after this moment
    alive_after: float = field(default_factory=time.monotonic)


class Watchdog:
    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._probes: queue.SimpleQueue[Watch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def watch(self, transport: paramiko.Transport, *, interval: float, timeout: float,
              on_dead: Callable[[str], None],
              undecided_upstream: Callable[[float], bool] | None = None) -> Watch:
        entry = Watch(transport, interval, timeout, on_dead, undecided_upstream,
                      next_probe=time.monotonic() + interval)
        with self._lock:
            self._watches.add(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ssh-liveness",
                                                daemon=True)
                threading.Thread(target=self._send_probes, name="ssh-liveness-probe",
                                 daemon=True).start()
                self._thread.start()
        return entry

    def unwatch(self, entry: Watch) -> None:
        with self._lock:
            self._watches.discard(entry)

    def threads(self) -> int:
        return 0 if self._thread is None else 2

    # ------------------------------------------------------------------ threads
    def _loop(self) -> None:
        while True:
            with self._lock:
                watches = list(self._watches)
                if not watches:
                    self._thread = None
                    self._probes.put(None)  # the prober exits too
                    return
            now = time.monotonic()
            for entry in watches:
                self._check(entry, now)
            time.sleep(TICK)

    def _check(self, entry: Watch, now: float) -> None:
        if not entry.transport.is_active():
            self._declare_dead(entry, "connection lost")
        elif entry.queued_at is not None:
            sent_at = entry.sent_at
            if entry.reply.is_set():
                entry.replies += 1
                entry.last_reply = now
                if sent_at is not None:  # always, for a reply follows its probe's send
                    entry.alive_after = sent_at
                entry.queued_at = entry.sent_at = None
                entry.next_probe = now + entry.interval
            elif sent_at is not None and now - sent_at > entry.timeout:
                # counted from the send, not the queue: a probe stuck behind another
                # connection's blocked send does not blame this one
                if self._upstream_undecided(entry, sent_at, now):
                    return
                self._declare_dead(entry, f"stopped answering (no reply to a keepalive"
                                          f" within {entry.timeout:g}s)")
        elif now >= entry.next_probe:
            entry.reply = threading.Event()
            entry.sent_at = None
            entry.queued_at = now
            self._probes.put(entry)

    @staticmethod
    def _upstream_undecided(entry: Watch, sent_at: float, now: float) -> bool:
        """Wait for the hops in front before blaming this peer for a missed probe.

        A hop counts as heard from only for a probe sent half a timeout after ours: a
        reply it sent just before freezing can still be read after our probe went out.
        Waiting is capped at one more timeout (plus a second), past any hop's verdict.
        """
        return (entry.undecided_upstream is not None
                and now - sent_at <= 2 * entry.timeout + 1
                and entry.undecided_upstream(sent_at + entry.timeout / 2))

    def _declare_dead(self, entry: Watch, reason: str) -> None:
        self.unwatch(entry)
        if entry.dead:
            return
        entry.dead = True
        with contextlib.suppress(Exception):
            entry.on_dead(reason)  # first: whoever sees the close then knows why
        with contextlib.suppress(Exception):
            entry.transport.close()

    def _send_probes(self) -> None:
        while (entry := self._probes.get()) is not None:
            transport = entry.transport
            entry.sent_at = time.monotonic()
            with contextlib.suppress(Exception):
                _send_keepalive(transport, entry.reply)


def _send_keepalive(transport: paramiko.Transport, reply: threading.Event) -> None:
    """A keepalive that wants a reply, without waiting for it here.

    `global_request(wait=False)` would also tell the server not to reply. The reply
    (success or failure, sshd answers "failure") sets the transport's completion_event;
    nothing else of ours issues global requests on these transports.
    """
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_GLOBAL_REQUEST)
    message.add_string("keepalive@openssh.com")
    message.add_boolean(True)  # want_reply
    transport.completion_event = reply
    # what global_request does, minus the wait
    transport._send_user_message(message)  # type: ignore[attr-defined]


_watchdog = Watchdog()


def watchdog() -> Watchdog:
    """The process's one watchdog."""
    return _watchdog
