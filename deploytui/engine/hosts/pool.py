"""One open transport per host for the length of an operation, and bounded fan-out.

Every phase of a deploy, rollback or listing goes through one HostPool, which is why
each host sees exactly one SSH connection per operation (measured in benchmarks/).
`map` answers with a PoolResult (as Fabric's GroupResult): `.succeeded` and `.failed`,
where a raised error AND a command that exited non-zero are failures, each a
failure.Failure naming host, step, reason and kind, so no caller re-checks exit codes.
`connect_ahead` starts the connections before they are needed, so an operation's local
work (fetching the repository to resolve the commit) overlaps the SSH handshakes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from deploytui.config.model import Config, Host
from deploytui.config.secrets import SecretResolver, resolver_for
from deploytui.engine.errors import one_line
from deploytui.engine.failure import Failure, Kind
from deploytui.engine.hosts.context import SSHContext
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.hosts.transport import (
    AuthFailed,
    Cancelled,
    CommandResult,
    ConnectionLost,
    HostKeyChanged,
    HostKeyRevoked,
    HostKeyUnknown,
    Transport,
    TransportError,
    Unreachable,
)

T = TypeVar("T")
TransportFactory = Callable[[Host], Transport]


def transport_factory(config: Config, *, passphrase: str | None = None,
                      resolver: SecretResolver | None = None) -> TransportFactory:
    """How this config reaches a host: local hosts run here, the rest over SSH.

    One factory serves one operation: its SSH hosts share one SSHContext (known_hosts
    and ssh_config read once, one connection per jump host). ssh.passphrase and ssh.key
    are looked up here, before any host is tried: a secret that is nowhere raises
    SecretUnavailable (the CLI's exit 2), not one failure per host.
    """
    ssh = config.ssh
    key_text = None
    if ssh.passphrase is not None or ssh.key is not None:
        resolver = resolver or resolver_for(config)
        if passphrase is None:
            passphrase = resolver.resolve(ssh.passphrase)
        key_text = resolver.resolve(ssh.key)
    context = SSHContext(ssh, passphrase=passphrase, key_text=key_text)

    def make(host: Host) -> Transport:
        if host.transport == "local":
            return LocalTransport(host.name)
        return SSHTransport(host, config.ssh, passphrase=passphrase, context=context)

    return make


_KINDS: list[tuple[type[TransportError], Kind]] = [
    (Cancelled, "cancelled"), (ConnectionLost, "lost"), (Unreachable, "unreachable"),
    (AuthFailed, "denied"), (HostKeyUnknown, "denied"),
    (HostKeyChanged, "denied"), (HostKeyRevoked, "denied")]


def failure_of(host: str, error: BaseException, step: str = "") -> Failure:
    """The Failure an exception stands for on `host` (its own `.failure` when it has one)."""
    known = getattr(error, "failure", None)
    if isinstance(known, Failure):
        return known
    if isinstance(error, TransportError):
        kind: Kind = next((k for cls, k in _KINDS if isinstance(error, cls)), "failed")
        return Failure(host, step, " ".join(error.message.split()) or type(error).__name__,
                       kind)
    text = one_line(error).removeprefix(f"{host}: ")
    return Failure(host, step, text)


@dataclass
class HostOutcome(Generic[T]):
    host: str
    value: T | None = None  # kept even when it failed: a command's output may still tell
    error: BaseException | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class PoolResult(dict[str, HostOutcome[T]]):
    """host -> HostOutcome, in the order asked, with the split every caller wants."""

    @property
    def succeeded(self) -> dict[str, T]:
        return {n: o.value for n, o in self.items() if o.ok}  # type: ignore[misc]

    @property
    def failed(self) -> dict[str, Failure]:
        return {n: o.failure for n, o in self.items() if o.failure is not None}

    @property
    def ok(self) -> bool:
        return not self.failed


class _Ahead:
    """One connection started before it was asked for (HostPool.connect_ahead)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.transport: Transport | None = None
        self.error: TransportError | None = None
        self.abandoned = False  # the pool closed first: whoever finishes closes it


class HostPool:
    def __init__(self, hosts: Iterable[Host], factory: TransportFactory, *,
                 max_parallel: int = 20) -> None:
        self.hosts: list[Host] = list(hosts)
        self._factory = factory
        self.max_parallel = max(1, max_parallel)
        self.transports: dict[str, Transport] = {}
        self._ahead: dict[str, _Ahead] = {}
        self._lock = threading.Lock()

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def open(self, host: Host) -> Transport:
        """Connect one host (or take its connection made ahead) and keep its transport;
        raises TransportError."""
        with self._lock:
            ahead = self._ahead.pop(host.name, None)
        if ahead is None:
            transport = self._connected(host)
        else:
            ahead.done.wait()
            if ahead.error is not None:
                raise ahead.error
            assert ahead.transport is not None
            transport = ahead.transport
        with self._lock:
            self.transports[host.name] = transport
        return transport

    def _connected(self, host: Host) -> Transport:
        transport = self._factory(host)
        try:
            transport.connect()
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(host.name, f"{type(exc).__name__}: {exc}") from None
        return transport

    def connect_ahead(self, hosts: Iterable[Host] | None = None) -> None:
        """Start connecting these hosts (all by default) in the background, and return
        at once: nothing is run on them, so the operation's local work before its first
        command overlaps the handshakes instead of preceding them. `open()` takes the
        connection (or its error); one never taken is closed by `close()`. Daemon
        threads: a run that stops early never waits for a handshake to end."""
        with self._lock:
            pending = [(h, _Ahead()) for h in (self.hosts if hosts is None else hosts)
                       if h.name not in self.transports and h.name not in self._ahead]
            self._ahead.update((h.name, ahead) for h, ahead in pending)
        queue = deque(pending)

        def work() -> None:
            while True:
                try:
                    host, ahead = queue.popleft()
                except IndexError:
                    return
                try:
                    transport = self._connected(host)
                except TransportError as exc:
                    ahead.error = exc
                except Exception as exc:  # the factory itself: still the host's error
                    ahead.error = TransportError(host.name, f"{type(exc).__name__}: {exc}")
                else:
                    with self._lock:
                        ahead.transport, orphaned = transport, ahead.abandoned
                    if orphaned:
                        transport.close()
                ahead.done.set()

        for _ in range(min(len(pending), self.max_parallel)):
            threading.Thread(target=work, name="host-ahead", daemon=True).start()

    def connect(self, hosts: Iterable[Host] | None = None) -> dict[str, TransportError]:
        """Open every host's connection in parallel; returns the hosts that failed."""
        outcomes = self.map(lambda h, _t: self.open(h), hosts, need_transport=False,
                            step="connect")
        failed: dict[str, TransportError] = {}
        for name, outcome in outcomes.items():
            if outcome.error is not None:
                err = outcome.error
                failed[name] = err if isinstance(err, TransportError) else TransportError(
                    name, f"{type(err).__name__}: {err}")
        return failed

    def map(self, fn: Callable[[Host, Transport], T], hosts: Iterable[Host] | None = None,
            *, limit: int | None = None, need_transport: bool = True, step: str = ""
            ) -> PoolResult[T]:
        """Run fn on every host in parallel (at most `limit` at once); never raises.

        A host fails when fn raises or returns a CommandResult that exited non-zero;
        `step` names what was done, for the Failure.
        """
        targets = list(self.hosts if hosts is None else hosts)
        results: PoolResult[T] = PoolResult((h.name, HostOutcome(h.name)) for h in targets)
        if not targets:
            return results

        def one(host: Host) -> None:
            outcome = results[host.name]
            try:
                transport = self.transports.get(host.name)
                if need_transport and transport is None:
                    raise TransportError(host.name, "not connected")
                outcome.value = fn(host, transport)  # type: ignore[arg-type]
            except BaseException as exc:
                outcome.error = exc
                outcome.failure = failure_of(host.name, exc, step)
                return
            value = outcome.value
            if isinstance(value, CommandResult) and not value.ok:
                outcome.failure = Failure(host.name, step, value.last_line())

        workers = min(len(targets), limit or self.max_parallel, self.max_parallel)
        if workers == 1:
            for host in targets:
                one(host)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="host") as pool:
                list(pool.map(one, targets))
        return results

    def close(self) -> None:
        with self._lock:
            ahead, self._ahead = list(self._ahead.values()), {}
            for one in ahead:
                one.abandoned = True
            made = [one.transport for one in ahead if one.transport is not None]
        for transport in [*self.transports.values(), *made]:
            transport.close()
        self.transports.clear()

    def __enter__(self) -> HostPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
