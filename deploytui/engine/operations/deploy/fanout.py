"""`ship: relay`: the artifact leaves the deploying machine about once, whatever the
number of hosts; the hosts pass it on among themselves.

The first host to need it gets it uploaded from here (the seed). Every host serves what
it holds to up to SLOTS others at once through a one-shot server of its own
(remote/peer_copy.py), from the first byte on: a host fetching from a peer passes the
bytes on as they arrive, so the holders multiply every round and a round costs little
more than the time the first bytes take (a tree built as hosts become ready, not
planned ahead: a slow or failed host never holds up a branch). When a fetch fails (the
peer cannot be reached, sends nothing for `ssh.connect_timeout` seconds, or its bytes
do not hash to the sha256) the host says so in its log and tries another peer, then
gets today's direct upload: a relay problem never fails a deploy. A host is uploaded to
directly too when no source is left and none is on its way (the seed could not serve:
no python3, an address it cannot bind). Every server ends when the last host has its
copy, at the end of the prepare phase at the latest, when its SSH channel ends (cancel,
a lost connection, this process killed), or at its hard deadline (the step timeout).

Through a bastion only the seed's copy crosses it: peers talk to each other directly,
at their `relay_address` (default: the address deploytui reaches them at).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploytui.config.model import Host, Project
from deploytui.engine.events import HostLine, Sink
from deploytui.engine.hosts.transport import Cancelled, Transport, TransportError
from deploytui.engine.remote.peer_copy import fetch_command, serve_command

SLOTS = 2  # fetches one holder serves at once
ATTEMPTS = 2  # peers a host tries before it is uploaded to directly
CLOSE_WAIT = 3.0  # seconds the servers get to end after their stdin closed


@dataclass
class _Source:
    host: str
    address: str
    port: int
    server: object  # the ChannelBackground serving it
    active: int = 0
    retired: bool = False


@dataclass
class Shipped:
    """What the relay did, for the summary line and the benchmark."""

    uploads: list[str] = field(default_factory=list)  # hosts uploaded to from here
    fetched: dict[str, str] = field(default_factory=dict)  # host -> the peer it came from
    fell_back: dict[str, str] = field(default_factory=dict)  # host -> why it was uploaded


def relays(project: Project, hosts: list[Host]) -> bool:
    """Whether this deploy ships through the relay: artifact, ship: relay, two SSH hosts."""
    ssh = [h for h in hosts if h.transport == "ssh"]
    return project.strategy == "artifact" and project.ship == "relay" and len(ssh) > 1


class Fanout:
    """One deploy's artifact relay: who gets it from whom, and every server's end.

    `receive` takes the place of a host's direct upload (script.run_steps' uploader);
    `close` ends every server (call it when the prepare phase ends, in every case).
    """

    def __init__(self, project: Project, hosts: list[Host], *, size: int, sha256: str,
                 sink: Sink, stall: float) -> None:
        self.members = {h.name: h for h in hosts if h.transport == "ssh"}
        self.size, self.sha256, self.sink = size, sha256, sink
        self.port = project.relay_port
        self.deadline = max(60.0, project.timeout)
        self.stall = stall
        self.token = secrets.token_hex(24).encode()  # one per deploy, for this one file
        self.shipped = Shipped()
        self._cond = threading.Condition()
        self._queue: list[str] = []  # hosts waiting for a source, in arrival order
        self._sources: list[_Source] = []
        self._servers: list = []  # every server started, to end them all
        self._on_the_way = 0  # hosts fetching or uploading, that will serve after
        self._finished = 0
        self._closed = False
        self._no_relay: set[str] = set()  # hosts where the relay program cannot run

    # -- a host's turn -----------------------------------------------------------------
    def receive(self, transport: Transport, local: Path, remote: str,
                cancel: threading.Event | None = None) -> None:
        """Get the artifact to `remote` on this host, from a peer or from here."""
        name = transport.name
        host = self.members.get(name)
        if host is None:
            transport.upload(local, remote, cancel=cancel)
            return
        try:
            why: str | None = ""
            for attempt in range(ATTEMPTS):
                source = self._assign(name, cancel)
                try:
                    if source is None:  # nobody holds it, nobody is getting it: from here
                        self._upload(transport, host, local, remote, cancel)
                        return
                    why = self._fetch(transport, host, remote, source, cancel)
                    if why is None:
                        return
                finally:
                    self._arrived()
                last = attempt + 1 == ATTEMPTS or name in self._no_relay
                then = "uploading it directly" if last else "trying another host"
                self._say(name, f"artifact: could not get it from {source.host} ({why});"
                                f" {then}")
                if last:
                    break
            self.shipped.fell_back[name] = why or ""
            with self._cond:
                self._on_the_way += 1
            try:
                self._upload(transport, host, local, remote, cancel)
            finally:
                self._arrived()
        finally:
            with self._cond:
                self._finished += 1
                everyone = self._finished == len(self.members)
                self._cond.notify_all()
            if everyone:
                self.close()

    def _assign(self, name: str, cancel: threading.Event | None) -> _Source | None:
        """A source with a free slot, or None: this host is uploaded to from here."""
        with self._cond:
            self._queue.append(name)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(name, "cancelled")
                    if self._queue[0] == name:
                        live = [s for s in self._sources if not s.retired]
                        free = [s for s in live if s.active < SLOTS]
                        if free:
                            source = min(free, key=lambda s: s.active)
                            source.active += 1
                            self._on_the_way += 1
                            return source
                        if not live and not self._on_the_way:
                            self._on_the_way += 1
                            return None
                    self._cond.wait(0.2)
            finally:
                self._queue.remove(name)
                self._cond.notify_all()

    def _arrived(self) -> None:
        """A host's attempt ended (it holds the artifact, or it gave up on a source)."""
        with self._cond:
            self._on_the_way -= 1
            self._cond.notify_all()

    def _fetch(self, transport: Transport, host: Host, remote: str, source: _Source,
               cancel: threading.Event | None) -> str | None:
        """Fetch from `source`, serving on what arrives; None when done, else why not."""
        command = fetch_command(remote, self._bind(transport, host), self.port,
                                self.deadline, self.stall, self.size, peer=source.address,
                                peer_port=source.port, sha256=self.sha256)
        began = time.monotonic()
        mine: _Source | None = None
        try:
            server = self._start(transport, command)
            mine = self._serving(transport, host, server, cancel)
            line = server.readline(self.deadline + self.stall, cancel)
        except BaseException:
            self._release(source)
            self._retire(mine)
            raise
        if line is None or not line.startswith("fetched"):
            # the program said why (the peer's fault: it is no source any more), or it
            # never started here (no python3): the peer is fine
            why = (line.removeprefix("failed ").strip() if line
                   else server.error() or "the fetch ended without a word")
            self._release(source, failed=line is not None)
            self._retire(mine)
            server.close()
            return why
        self._release(source)
        self.shipped.fetched[host.name] = source.host
        self._say(host.name, f"artifact from {source.host} in"
                             f" {time.monotonic() - began:.1f}s (sha256 checked)")
        return None

    def _upload(self, transport: Transport, host: Host, local: Path, remote: str,
                cancel: threading.Event | None) -> None:
        """Today's direct upload; the host serves it on while it arrives."""
        with self._cond:
            self.shipped.uploads.append(host.name)
        mine: _Source | None = None
        server = None
        try:
            server = self._start(transport, serve_command(
                remote, self._bind(transport, host), self.port, self.deadline, self.stall,
                self.size))
            mine = self._serving(transport, host, server, cancel)
        except TransportError as exc:
            if server is not None:
                server.close()
            if isinstance(exc, Cancelled):
                raise
            self._say(host.name, f"artifact: not passed on from here ({exc.message})")
        try:
            transport.upload(local, remote, cancel=cancel)
        except BaseException:
            self._retire(mine)
            raise

    def _start(self, transport: Transport, command: str):
        server = transport.start(command, self.token + b"\n")  # type: ignore[attr-defined]
        with self._cond:
            self._servers.append(server)
            if self._closed:
                server.close()
        return server

    def _serving(self, transport: Transport, host: Host, server,
                 cancel: threading.Event | None) -> _Source | None:
        """Wait for the program's first line; `serving PORT` makes this host a source
        (others may fetch from it at once: it sends what it has as it arrives)."""
        try:
            line = server.readline(max(self.stall, 10.0), cancel)
        except BaseException:
            server.close()
            raise
        if line is None or not line.startswith("serving "):
            if line is None:
                self._no_relay.add(host.name)
            why = (line.removeprefix("noserve ").strip() if line
                   else server.error() or "the relay program did not start")
            self._say(host.name, f"artifact: not passed on from here ({why})")
            return None
        source = _Source(host.name, self._bind(transport, host), int(line.split()[1]),
                         server)
        with self._cond:
            if not self._closed:
                self._sources.append(source)
            self._cond.notify_all()
        return source

    def _release(self, source: _Source, *, failed: bool = False) -> None:
        """A fetch from `source` ended; one that failed retires it as a source."""
        with self._cond:
            source.active -= 1
            if failed:
                source.retired = True
            self._cond.notify_all()

    def _retire(self, source: _Source | None) -> None:
        """This host's own copy is no good (its fetch or upload failed): no source, and
        its server ends (the hosts fetching from it see their transfer cut short)."""
        if source is None:
            return
        with self._cond:
            source.retired = True
            self._cond.notify_all()
        source.server.close()  # type: ignore[attr-defined]

    def _bind(self, transport: Transport, host: Host) -> str:
        return host.relay_address or getattr(transport, "address", None) or host.address

    def _say(self, host: str, line: str) -> None:
        self.sink(HostLine(host=host, line=line, stream="info"))

    # -- the end -----------------------------------------------------------------------
    def close(self) -> None:
        """End every server: close its stdin (it exits on that), wait a moment for it to
        go, then close its channel. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            servers = list(self._servers)
            for source in self._sources:
                source.retired = True
            self._cond.notify_all()
        for server in servers:
            server.end()
        deadline = time.monotonic() + CLOSE_WAIT
        while time.monotonic() < deadline and not all(s.ended() for s in servers):
            time.sleep(0.02)
        for server in servers:
            server.close()

    def summary(self) -> str:
        mb = self.size / 1e6
        shipped = self.shipped
        text = (f"artifact {mb:.1f} MB: uploaded from here to {len(shipped.uploads)} host(s),"
                f" {len(shipped.fetched)} got it from a peer")
        if shipped.fell_back:
            text += f" ({len(shipped.fell_back)} fell back to a direct upload)"
        return text
