"""Jump hosts (ProxyJump): one authenticated connection per hop per operation, shared.

Fabric builds a new gateway Connection for every host, so 40 hosts behind a bastion
meant 40 bastion logins - and 40 simultaneous handshakes, past a stock sshd's
MaxStartups. Here each hop of `ProxyJump a,b` is opened once (by the first host that
needs it; the others wait for it) and every host behind it is a `direct-tcpip`
channel over that one connection. A hop that failed to open is not retried by each
host behind it: they all get its error, naming the hop. A hop is watched for liveness
like any host; when it stops answering, every host behind it fails at once.

Hops are counted: the last host to let go of a hop closes it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import fabric
import paramiko

from deploytui.engine.hosts.liveness import Watch, watchdog
from deploytui.engine.hosts.ssh_errors import HopError

if TYPE_CHECKING:
    from deploytui.engine.hosts.context import SSHContext

MAX_HOPS = 8  # a ProxyJump chain longer than this is a loop in ssh_config
LostCallback = Callable[[str], None]


class JumpHost:
    """One hop: its connection, who depends on it, and how it failed if it did."""

    def __init__(self, context: SSHContext, label: str, conn: fabric.Connection,
                 parent: JumpHost | None, key: Hashable) -> None:
        self.context = context
        self.label = label  # as written in ProxyJump (an alias, or user@host:port)
        self.conn = conn
        self.parent = parent
        self.key = key
        self.users = 0
        self._opened = False
        self._failure: BaseException | None = None
        self._lost: str | None = None
        self._dependents: set[LostCallback] = set()
        self._watch: Watch | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.conn.host}:{self.conn.port}"

    def _hop_error(self, cause: BaseException) -> HopError:
        return HopError(self.label, self.where, str(self.conn.user), cause)

    def ensure_open(self) -> None:
        """Open the hop once (its own parent first); raise HopError if it cannot be."""
        with self._lock:
            if self._failure is not None:
                raise self._hop_error(self._failure)
            if self._lost is not None:
                raise self._hop_error(ConnectionError(self._lost))
            if self._opened:
                return
            try:
                if self.parent is not None:
                    self.parent.ensure_open()
                self.context.open(self.conn, self.parent)
            except HopError as exc:  # a hop further out failed: that one is named
                self._failure = exc.cause
                raise
            except Exception as exc:
                self._failure = exc
                raise self._hop_error(exc) from None
            self._opened = True
            settings = self.context.settings
            self._watch = watchdog().watch(
                self.conn.transport, interval=min(5.0, settings.connect_timeout / 2),
                timeout=settings.connect_timeout, on_dead=self._on_dead,
                undecided_upstream=self.parent.undecided if self.parent else None)
            if self.parent is not None:
                self.parent.depend(self._on_dead)

    def channel(self, host: str, port: int) -> paramiko.Channel:
        """A direct-tcpip channel to host:port through this hop (opening it if needed)."""
        self.ensure_open()
        transport = self.conn.transport
        if transport is None or not transport.is_active():
            raise self._hop_error(ConnectionError("connection lost"))
        try:
            return transport.open_channel("direct-tcpip", (host, port), ("", 0),
                                          timeout=self.context.settings.connect_timeout)
        except paramiko.ChannelException:
            raise  # about the host behind: the hop refused or could not reach it
        except Exception as exc:
            raise self._hop_error(exc) from None

    def blame(self, after: float) -> JumpHost | None:
        """The outermost hop of this chain that is dead or has not been heard from (no
        answered probe sent after `after`): the one to blame when a host behind it
        stops answering."""
        outer = self.parent.blame(after) if self.parent is not None else None
        if outer is not None:
            return outer
        return self if self._lost is not None or self._unheard_after(after) else None

    def undecided(self, after: float) -> bool:
        """Whether some hop of this chain is alive but not heard from since `after`:
        its own verdict (answer or death) is still to come."""
        if self.parent is not None and self.parent.undecided(after):
            return True
        return self._lost is None and self._unheard_after(after)

    def _unheard_after(self, after: float) -> bool:
        """No probe of this hop sent after `after` has been answered (yet)."""
        return self._watch is not None and self._watch.alive_after < after

    def depend(self, on_lost: LostCallback) -> None:
        """Call on_lost(reason) when this hop dies (at once if it already has)."""
        with self._lock:
            lost = self._lost
            if lost is None:
                self._dependents.add(on_lost)
        if lost is not None:
            on_lost(f"jump host {self.label}: {lost}")

    def undepend(self, on_lost: LostCallback) -> None:
        with self._lock:
            self._dependents.discard(on_lost)

    def _on_dead(self, reason: str) -> None:
        with self._lock:
            if self._lost is not None:
                return
            self._lost = reason
            dependents = list(self._dependents)
        for on_lost in dependents:  # first: whoever sees the close then knows why
            with contextlib.suppress(Exception):
                on_lost(f"jump host {self.label}: {reason}")
        with contextlib.suppress(Exception):
            self.conn.close()

    def close(self) -> None:
        if self._watch is not None:
            watchdog().unwatch(self._watch)
        if self.parent is not None:
            self.parent.undepend(self._on_dead)
        with contextlib.suppress(Exception):
            self.conn.close()


class JumpHosts:
    """The hops of one operation, keyed by their place in a chain."""

    def __init__(self, context: SSHContext) -> None:
        self._context = context
        self._hops: dict[Hashable, JumpHost] = {}
        self._lock = threading.Lock()

    def acquire(self, conn: fabric.Connection) -> JumpHost | None:
        """The last hop in front of `conn` (None when reached directly), counted as used
        by it along the whole chain; pair with release()."""
        chain = _hop_specs(conn)
        if not chain:
            return None
        with self._lock:
            hop = None
            for spec in chain:
                hop = self._get(spec, hop, depth=0)
            assert hop is not None
            walk: JumpHost | None = hop
            while walk is not None:
                walk.users += 1
                walk = walk.parent
            return hop

    def _get(self, spec: str, parent: JumpHost | None, depth: int) -> JumpHost:
        key = (parent.key if parent else None, spec)
        hop = self._hops.get(key)
        if hop is None:
            if depth > MAX_HOPS:
                raise ValueError(f"ProxyJump chain through {spec} loops")
            conn = self._context.connection(spec)
            if parent is None:  # the first hop may be behind jump hosts of its own
                for own in _hop_specs(conn):
                    if own != spec:  # `Host *` with a ProxyJump also matches the hop
                        parent = self._get(own, parent, depth + 1)
            hop = JumpHost(self._context, spec, conn, parent, key)
            self._hops[key] = hop
        return hop

    def release(self, hop: JumpHost | None) -> None:
        with self._lock:
            walk = hop
            while walk is not None:
                walk.users -= 1
                if walk.users <= 0:
                    self._hops.pop(walk.key, None)
                    walk.close()
                walk = walk.parent

    def close(self) -> None:
        with self._lock:
            hops, self._hops = list(self._hops.values()), {}
        for hop in hops:
            hop.close()


def _hop_specs(conn: fabric.Connection) -> list[str]:
    value = conn.ssh_config.get("proxyjump", "none")
    if value.lower() == "none":
        return []
    return [spec.strip() for spec in value.split(",") if spec.strip()]
