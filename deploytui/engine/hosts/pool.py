"""One open transport per host for the length of an operation, and bounded fan-out.

Every phase of a deploy, rollback or listing goes through one HostPool, which is why
each host sees exactly one SSH connection per operation (measured in benchmarks/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from deploytui.config.model import Config, Host
from deploytui.engine.hosts.context import SSHContext
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.hosts.transport import Transport, TransportError

T = TypeVar("T")
TransportFactory = Callable[[Host], Transport]


def transport_factory(config: Config, *, passphrase: str | None = None) -> TransportFactory:
    """How this config reaches a host: local hosts run here, the rest over SSH.

    One factory serves one operation: its SSH hosts share one SSHContext (known_hosts
    and ssh_config read once, one connection per jump host).
    """
    context = SSHContext(config.ssh, passphrase=passphrase)

    def make(host: Host) -> Transport:
        if host.transport == "local":
            return LocalTransport(host.name)
        return SSHTransport(host, config.ssh, passphrase=passphrase, context=context)

    return make


@dataclass
class HostOutcome(Generic[T]):
    host: str
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class HostPool:
    def __init__(self, hosts: Iterable[Host], factory: TransportFactory, *,
                 max_parallel: int = 20) -> None:
        self.hosts: list[Host] = list(hosts)
        self._factory = factory
        self.max_parallel = max(1, max_parallel)
        self.transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def connect(self, hosts: Iterable[Host] | None = None) -> dict[str, TransportError]:
        """Open every host's connection in parallel; returns the hosts that failed."""

        def open_one(host: Host) -> None:
            transport = self._factory(host)
            transport.connect()
            with self._lock:
                self.transports[host.name] = transport

        outcomes = self.map(lambda h, _t: open_one(h), hosts, need_transport=False)
        failed: dict[str, TransportError] = {}
        for name, outcome in outcomes.items():
            if outcome.error is not None:
                err = outcome.error
                failed[name] = err if isinstance(err, TransportError) else TransportError(
                    name, f"{type(err).__name__}: {err}")
        return failed

    def map(self, fn: Callable[[Host, Transport], T], hosts: Iterable[Host] | None = None,
            *, limit: int | None = None, need_transport: bool = True
            ) -> dict[str, HostOutcome[T]]:
        """Run fn on every host in parallel (at most `limit` at once); never raises."""
        targets = list(self.hosts if hosts is None else hosts)
        results: dict[str, HostOutcome[T]] = {h.name: HostOutcome(h.name) for h in targets}
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

        workers = min(len(targets), limit or self.max_parallel, self.max_parallel)
        if workers == 1:
            for host in targets:
                one(host)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="host") as pool:
                list(pool.map(one, targets))
        return results

    def close(self) -> None:
        for transport in list(self.transports.values()):
            transport.close()
        self.transports.clear()

    def __enter__(self) -> HostPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
