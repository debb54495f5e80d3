"""Is the app up: a role's `health` check on one host, retried until it passes or times out.

An HTTP check is a GET made from the host's side of the network, through the deploy's
own connection (a direct-tcpip channel for SSH, a plain socket for a local host), so it
needs no tool on the host and no port open towards the deploying machine; `https://`
runs TLS over the same stream (hosts/tls.py: the certificate is not verified). A command
check runs on the host, in the release it serves; exit 0 is healthy. What the LAST
attempt saw is kept, in one line, because that is what a user needs to act on.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from deploytui.config.model import Config, Environment, HealthCheck, Host, Project
from deploytui.engine.events import HealthChecked, Sink, discard
from deploytui.engine.failure import Failure
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.hosts.tls import TlsStream
from deploytui.engine.hosts.transport import TcpRefused, Transport, TransportError
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.steps import in_dir

MAX_RESPONSE = 64 * 1024  # a health answer is small; read no more than this of it
SAW_WIDTH = 160
ATTEMPT_MIN = 1.0  # seconds an attempt may always take, even past the timeout


@dataclass(frozen=True)
class HealthResult:
    host: str
    role: str
    healthy: bool
    check: str  # "GET http://10.0.0.1:8000/up" or "$ systemctl is-active shop"
    saw: str  # what the last attempt saw, one line: "HTTP 503: starting", "exit 3: inactive"
    attempts: int
    duration: float

    def describe(self) -> str:
        verdict = "healthy" if self.healthy else "UNHEALTHY"
        return f"{self.role}: {verdict}: {self.check} -> {self.saw}"


class _Attempt(Exception):
    """One attempt saw something unhealthy; its text is what it saw."""


def fill(template: str, host: Host) -> str:
    """The check with {address} and {name} of this host."""
    return template.replace("{address}", host.address).replace("{name}", host.name)


def check_host(transport: Transport, host: Host, role: str, check: HealthCheck, *,
               cwd: str | None = None, env: Mapping[str, str] | None = None,
               cancel: threading.Event | None = None, sink: Sink = discard) -> HealthResult:
    """Retry `check` every `interval` until it passes or `timeout` is spent; never raises
    for an unhealthy host (a lost connection is what the check saw, too)."""
    cancel = cancel or threading.Event()
    started = time.monotonic()
    deadline = started + check.timeout
    target = fill(check.url or check.command or "", host)
    label = f"GET {target}" if check.url else f"$ {target}"
    attempts, saw, healthy = 0, "not checked", False
    while True:
        attempts += 1
        attempt_started = time.monotonic()
        # the last attempt may run past the deadline by up to a second: an attempt cut
        # short after a few milliseconds would report a timeout that is only ours
        remaining = max(deadline - attempt_started, min(ATTEMPT_MIN, check.timeout))
        try:
            if check.url:
                saw = _http(transport, target, check, remaining)
            else:
                saw = _command(transport, target, cwd, env, remaining, cancel)
            healthy = True
            break
        except _Attempt as seen:
            saw = str(seen)
        except TransportError as exc:
            saw = exc.message
        wait = check.interval - (time.monotonic() - attempt_started)
        if cancel.is_set() or time.monotonic() + max(wait, 0) >= deadline:
            break
        if wait > 0 and cancel.wait(wait):
            break
    duration = time.monotonic() - started
    if not healthy:
        why = "cancelled" if cancel.is_set() else f"not healthy within {check.timeout:g}s"
        saw = f"{saw} ({why}, {attempts} attempt{'s' if attempts != 1 else ''})"
    result = HealthResult(host.name, role, healthy, label, _one_line(saw), attempts, duration)
    sink(HealthChecked(host=host.name, role=role, healthy=healthy, check=label,
                       saw=result.saw, duration=duration))
    return result


def has_checks(project: Project, hosts: list[Host]) -> bool:
    return any(role.health for host in hosts for role in project.roles_of(host))


def check_hosts(pool: HostPool, project: Project, hosts: list[Host], *,
                cwd_for: Callable[[Host], str | None] = lambda _h: None,
                env_for: Callable[[Host], Mapping[str, str] | None] = lambda _h: None,
                sink: Sink = discard, cancel: threading.Event | None = None
                ) -> dict[str, list[HealthResult]]:
    """Every health check of every host's roles (roles in configured order), hosts in
    parallel; host -> its results. A host without a connection is unhealthy."""

    def one(host: Host, transport: Transport) -> list[HealthResult]:
        return [check_host(transport, host, role.name, role.health, cwd=cwd_for(host),
                           env=env_for(host), cancel=cancel, sink=sink)
                for role in project.roles_of(host) if role.health]

    checked = [h for h in hosts if any(r.health for r in project.roles_of(h))]
    results: dict[str, list[HealthResult]] = {}
    for name, outcome in pool.map(one, checked).items():
        if outcome.error is None and outcome.value is not None:
            results[name] = outcome.value
            continue
        error = outcome.error
        saw = error.message if isinstance(error, TransportError) else str(error)
        host = pool.host(name)
        results[name] = []
        for role in project.roles_of(host):
            if role.health:
                result = HealthResult(name, role.name, False, role.health.describe(), saw, 0,
                                      0.0)
                sink(HealthChecked(host=name, role=role.name, healthy=False,
                                   check=result.check, saw=saw))
                results[name].append(result)
    return results


def unhealthy(results: dict[str, list[HealthResult]]) -> list[HealthResult]:
    return [r for host_results in results.values() for r in host_results if not r.healthy]


def serving_dir(project: Project, host: Host) -> str:
    """Where a command check runs: the release `current` points at (pull: the copy)."""
    layout = Layout(project.host_deploy_to(host))
    return layout.deploy_to if project.strategy == "pull" else layout.current


def check_now(config: Config, project: Project, environment: Environment, *,
              sink: Sink = discard, factory: TransportFactory | None = None
              ) -> dict[str, list[HealthResult]]:
    """`deploytui health`: connect to every host of the environment and check it now,
    without a lock (a check changes nothing)."""
    hosts = [h for h in environment.hosts if any(r.health for r in project.roles_of(h))]
    with HostPool(hosts, factory or transport_factory(config),
                  max_parallel=config.ssh.max_parallel) as pool:
        refused = pool.connect()
        results = check_hosts(pool, project, hosts, cwd_for=lambda h: serving_dir(project, h),
                              sink=sink)
    for name, error in refused.items():
        results[name] = [HealthResult(name, r.role, False, r.check, error.message, 0, 0.0)
                         for r in results.get(name, [])]
    return results


def _http(transport: Transport, url: str, check: HealthCheck, timeout: float) -> str:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = parts.hostname or ""
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    deadline = time.monotonic() + timeout
    stream = transport.open_tcp(address, port, timeout)
    try:
        stream.settimeout(timeout)
        if secure:
            stream = TlsStream(stream, address)
            try:
                stream.handshake()
            except ssl.SSLError as exc:  # e.g. plain HTTP on that port
                raise _Attempt(f"no TLS: {exc.reason or exc}") from None
        request = (f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
                   "User-Agent: deploytui-health\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        stream.sendall(request.encode("latin-1"))
        data = _read_response(stream, deadline)
    except TcpRefused:
        raise
    except (OSError, EOFError) as exc:
        raise _Attempt(f"no answer: {exc or type(exc).__name__}") from None
    finally:
        stream.close()
    return _judge(data, check)


def _read_response(stream, deadline: float) -> bytes:
    data = b""
    while len(data) < MAX_RESPONSE:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Attempt(_no_answer(data))
        stream.settimeout(left)
        try:
            chunk = stream.recv(65536)
        except TimeoutError:
            raise _Attempt(_no_answer(data)) from None
        if not chunk:
            break
        data += chunk
        _head, sep, body = data.partition(b"\r\n\r\n")
        if sep and body.strip(b"\r\n"):  # status and the body's first line: enough
            break
    if not data:
        raise _Attempt("connection closed without an answer")
    return data


def _no_answer(data: bytes) -> str:
    return ("no complete answer in time" if data
            else "connected, but no answer in time")


def _judge(data: bytes, check: HealthCheck) -> str:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    fields = status_line.split()
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise _Attempt(f"not an HTTP answer: {status_line[:60]!r}")
    code = int(fields[1])
    first = next((ln.strip() for ln in body.decode("utf-8", "replace").splitlines()
                  if ln.strip()), "")
    saw = f"HTTP {code}" + (f": {first}" if first else "")
    low, high = check.status
    if not low <= code <= high:
        expected = str(low) if low == high else f"{low}-{high}"
        raise _Attempt(f"{saw} (expected {expected})")
    return saw


def _command(transport: Transport, command: str, cwd: str | None,
             env: Mapping[str, str] | None, timeout: float,
             cancel: threading.Event) -> str:
    try:
        result = transport.run(in_dir(cwd, command) if cwd else command, timeout=timeout,
                               cancel=cancel, env=env, capture=True)
    except TransportError as exc:
        if "timed out" in exc.message:
            raise _Attempt(f"no exit within {timeout:.3g}s") from None
        raise
    output = next((ln.strip() for ln in reversed((result.stdout + "\n" + result.stderr)
                                                 .splitlines()) if ln.strip()), "")
    saw = f"exit {result.exit_code}" + (f": {output}" if output else "")
    if not result.ok:
        raise _Attempt(saw)
    return saw


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SAW_WIDTH else text[: SAW_WIDTH - 1] + "…"


def unhealthy_failures(bad: list[HealthResult]) -> tuple[list[Failure], str]:
    """Each unhealthy result as its host's failure (step `health ROLE`, reason: what the
    check saw), and the one line that names the first, for the operation's error."""
    failures = [Failure(r.host, f"health {r.role}", f"{r.check} -> {r.saw}") for r in bad]
    first = failures[0]
    return failures, f"{first.host}: {first.step}: {first.reason}"
