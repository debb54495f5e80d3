"""The deploy lock: `mkdir <deploy_to>/.deploytui/lock` on every host, atomically.

mkdir(2) either creates the directory or fails because it exists, so two deploys can
never both hold a host. The holder is written to `lock/info` as JSON; a random token
in it lets a deploy remove only its own lock (a lock broken and re-taken by someone
else is never released by the first holder's `finally`).
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field

from deploytui.engine.clock import utc_iso
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.remote.layout import Layout
from deploytui.engine.shell import ensure_dir, q

LOCK_TIMEOUT = 30.0
LOCK_POLL = 1.0  # seconds between two tries while waiting for a lock (--wait-lock)
# how long the winner of the first host waits for a contender to release the other hosts
# it took in the same instant (take_locks); a lock still there after it is not a contender's
CONTENDER_GRACE = 3.0
_HELD = "DEPLOYTUI-LOCK-HELD"
_TAKEN = "DEPLOYTUI-LOCK-TAKEN"
_PROBE = "DEPLOYTUI-PROBE"
Probe = Callable[[str], str]  # host name -> shell text run once its lock is taken


def local_user() -> str:
    """`user@machine` of whoever runs this process."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class LockInfo:
    """Who holds the lock, since when, and what for."""

    user: str = field(default_factory=local_user)  # user@machine
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=utc_iso)  # ISO 8601 UTC
    project: str = ""
    environment: str = ""
    ref: str = ""
    operation: str = "deploy"  # deploy | rollback | prune | lock (manual)
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockInfo:
        """Tolerant: a lock whose info is missing or garbled still reads as held."""
        try:
            data = json.loads(text)
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            return cls(**known)
        except (ValueError, TypeError):
            return cls(user="unknown", pid=0, started="unknown time", token="")

    def describe(self) -> str:
        """`USER@MACHINE since TIME (deploying REF)`: the one-line holder description."""
        doing = {"deploy": "deploying", "rollback": "rolling back", "prune": "pruning",
                 "lock": "locked by hand"}.get(self.operation, self.operation)
        what = f"{doing} {self.ref}".strip() if self.operation != "lock" else doing
        return f"{self.user} since {self.started} ({what})"

    def stale(self) -> bool:
        """Held by a process of THIS machine that is gone (killed, crashed): nobody will
        ever release it. A lock taken by hand (`deploytui lock`) is never stale."""
        if self.operation == "lock" or self.pid <= 0:
            return False
        if self.user.rpartition("@")[2] != socket.gethostname():
            return False  # another machine's process: we cannot know
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # exists, owned by someone else
            return False
        return False


def unlock_remedy(project: str, environment: str) -> str:
    """The exact command that clears a lock nobody will release."""
    return (f"clear it with 'deploytui unlock {project} {environment}' (or retry with"
            " --break-lock)")


def lock_problem(exc: Locked, project: str, environment: str, *, waited: float = 0) -> str:
    """The one line for a lock held by someone else, always naming the remedy."""
    holder = exc.holder
    if holder.stale():
        return (f"locked by {holder.describe()}: STALE, process {holder.pid} on this machine"
                f" is gone; {unlock_remedy(project, environment)}")
    if waited > 0:
        return (f"locked by {holder.describe()}: still held after waiting {waited:.0f}s;"
                " wait longer with --wait-lock SECONDS, or if it is abandoned"
                f" {unlock_remedy(project, environment)}")
    return (f"locked by {holder.describe()}: wait for it with --wait-lock SECONDS, or if it"
            f" is abandoned {unlock_remedy(project, environment)}")


class Locked(Exception):
    """Another operation holds the lock on `host`."""

    def __init__(self, host: str, holder: LockInfo) -> None:
        super().__init__(f"{host}: locked by {holder.describe()}")
        self.host = host
        self.holder = holder


def _take_command(layout: Layout, info: LockInfo, break_lock: bool, probe: str = "") -> str:
    """Take the lock; with `probe`, also run it (only once the lock is ours) and print
    its output after a marker line, so a deploy's preflight costs no extra command."""
    lock = q(layout.lock)
    probing = f" && {_probing(probe)}" if probe else ""
    breaking = ""
    if break_lock:  # print the old holder, then remove only the lock directory
        breaking = (f"if [ -d {lock} ]; then echo BROKEN; cat {lock}/info 2>/dev/null; echo;"
                    f" rm -f {lock}/info; rmdir {lock} || exit 1; fi; ")
    return (f"{ensure_dir(layout.state_dir)} || exit 1; {breaking}"
            f"if mkdir {lock} 2>/dev/null; then"
            f" printf '%s\\n' {q(info.to_json())} > {lock}/info && echo {_TAKEN}{probing};"
            # the winner writes info just after its mkdir: an empty file is read again
            f" else echo {_HELD}; for __dt_i in 1 2 3 4 5 6; do [ -s {lock}/info ] && break;"
            f" sleep 0.05; done; cat {lock}/info 2>/dev/null; echo; fi")


def _probing(probe: str) -> str:
    """`probe` run after a marker line, its output (both streams) after it, its exit
    status ignored: how a lock command carries a probe (taken or read alike). It runs in
    the command's own shell (no subshell's fork on every host), so a probe never
    `exit`s; it is the command's last word, so the probe may `cd`."""
    return f"{{ echo {_PROBE}; {{ eval {q(probe)}; }} 2>&1; true; }}"


def _split_probe(stdout: str) -> tuple[str, str]:
    """(the lock part, the probe's output); the transport strips the last newline, so
    an empty probe leaves the marker at the very end."""
    out, marker, probed = stdout.partition(f"\n{_PROBE}")
    if marker and probed and not probed.startswith("\n"):  # the marker was only a prefix
        return stdout, ""
    return out, probed[1:]


def release_command(layout: Layout, info: LockInfo) -> str:
    """Remove the lock only if it is still ours (its info holds our token)."""
    lock = q(layout.lock)
    # the info is one line (JSON): read by the shell, not grep (one process less)
    return (f"if [ -d {lock} ] && {{ IFS= read -r __dt_l || [ -n \"$__dt_l\" ]; }}"
            f" 2>/dev/null < {lock}/info"
            f" && [[ $__dt_l == *{q(info.token)}* ]]; then rm -f {lock}/info && rmdir {lock}; fi")


@dataclass
class Taken:
    """What taking the locks found: whose locks were broken, and each probe's output."""

    broken: dict[str, LockInfo] = field(default_factory=dict)
    probed: dict[str, str] = field(default_factory=dict)  # host -> probe stdout


def acquire_locks(pool: HostPool, layouts: dict[str, Layout], info: LockInfo, *,
                  break_lock: bool = False) -> dict[str, LockInfo]:
    """Take the lock on every host of `layouts`, or on none of them.

    Raises Locked (naming the first holder found) or the first TransportError; in both
    cases the locks already taken are released before raising. Returns the holders
    whose locks were broken (break_lock), so the caller can say whose they were.
    """
    return take_locks(pool, layouts, info, break_lock=break_lock).broken


class NotConnected(Exception):
    """Hosts that could not be connected while the locks were taken (connect=True); the
    locks taken meanwhile were released."""

    def __init__(self, failed: dict[str, TransportError]) -> None:
        super().__init__("; ".join(str(e) for e in failed.values()))
        self.failed = failed


def take_locks(pool: HostPool, layouts: dict[str, Layout], info: LockInfo, *,
               break_lock: bool = False, probe: Probe | None = None,
               connect: bool = False) -> Taken:
    """acquire_locks, plus `probe(host)` run in the same command once the lock is taken.

    The probe's exit status never matters (the lock is ours either way); its output is
    returned per host for the caller to parse. With `connect`, each host is connected
    here and locked as soon as it is: the lock round overlaps the slower handshakes
    instead of waiting for the last one. A host that cannot be connected raises
    NotConnected, once every lock taken is released.

    One round when nobody else holds a lock: every host is locked at once. Only when
    another operation holds some host and we took others (two operations started
    together, each winning some hosts) are ours released and the hosts taken again in
    order, the first host alone before the others: of two operations started together,
    the one that gets the first host gets them all, and the other is told whose lock it
    met (taking all at once again, both could give up for good).
    """
    if not break_lock and len(layouts) > 1:
        taken = _take_locks(pool, layouts, info, break_lock, probe, connect, ordered=False)
        if taken is not None:
            return taken
    taken = _take_locks(pool, layouts, info, break_lock, probe, connect, ordered=True)
    assert taken is not None  # ordered: a host held by another is raised as Locked
    return taken


def _take_locks(pool: HostPool, layouts: dict[str, Layout], info: LockInfo,
                break_lock: bool, probe: Probe | None, connect: bool, *,
                ordered: bool) -> Taken | None:
    """One try at every host's lock (see take_locks); None: not ordered, another
    operation held some host while we took others, and ours are released again."""
    hosts = [pool.host(name) for name in layouts]
    connect_failed: dict[str, TransportError] = {}

    def take(host, transport: Transport) -> tuple[bool, LockInfo | None, LockInfo | None, str]:
        command = _take_command(layouts[host.name], info, break_lock,
                                probe(host.name) if probe else "")
        result = transport.run(command, capture=True, timeout=LOCK_TIMEOUT)
        if not result.ok:
            raise TransportError(host.name, f"lock: {result.last_line()}")
        out, probed = _split_probe(result.stdout)
        broken = None
        if "BROKEN" in out.splitlines()[:1]:
            after = out.split("BROKEN", 1)[1].split(_TAKEN)[0].split(_HELD)[0]
            broken = LockInfo.from_json(after.strip())
        if _TAKEN in out.splitlines():
            return True, None, broken, probed
        return False, LockInfo.from_json(out.split(_HELD, 1)[1].strip()), broken, ""

    # Ordered, the first host is taken alone, before the others, which wait for it and
    # then go as soon as they can; not ordered, every host goes as soon as it can.
    first = hosts[0].name if hosts and ordered else ""
    first_done, first_taken = threading.Event(), threading.Event()

    def gated(host, _transport) -> tuple[bool, LockInfo | None, LockInfo | None, str] | None:
        try:
            transport = pool.transports.get(host.name)
            if transport is None and connect:
                try:
                    transport = pool.open(host)
                except TransportError as exc:
                    connect_failed[host.name] = exc
                    return None  # never tried: nothing to report but the connect
            if transport is None:
                raise TransportError(host.name, "not connected")
            if first and host.name != first:
                first_done.wait()
                if not first_taken.is_set():
                    return None
            value = take(host, transport)
            if host.name == first and value[0]:
                first_taken.set()
            # Ordered and holding the first host: a contender that took this one at once
            # (and lost others) is releasing it now; a lock still there after the grace
            # is another operation's.
            grace = time.monotonic() + CONTENDER_GRACE
            while (first and host.name != first and not value[0] and value[1] is not None
                   and not value[1].stale() and time.monotonic() < grace):
                time.sleep(LOCK_POLL / 10)
                value = take(host, transport)
            return value
        finally:
            if host.name == first:
                first_done.set()

    try:
        outcomes = pool.map(gated, hosts, need_transport=False, step="lock")
    except BaseException:  # Ctrl-C: the lock commands in flight have ended (the pool
        # waits for them); they may hold locks not recorded anywhere yet. Our token
        # keeps anyone else's lock safe.
        release_locks(pool, {n: layouts[n] for n in layouts if n in pool.transports}, info)
        raise
    if connect_failed:
        release_locks(pool, {n: layouts[n] for n in outcomes
                             if n in pool.transports and n not in connect_failed}, info)
        raise NotConnected({n: connect_failed[n] for n in layouts if n in connect_failed})
    taken = Taken(broken={n: o.value[2] for n, o in outcomes.items()
                          if o.ok and o.value and o.value[2]},
                  probed={n: o.value[3] for n, o in outcomes.items()
                          if o.ok and o.value and o.value[0]})
    problem: BaseException | None = None
    for name in layouts:  # configured order: the report names the first host
        outcome = outcomes.get(name)
        if outcome is None:
            continue
        if outcome.error is not None:
            err = outcome.error
            problem = err if isinstance(err, TransportError) else TransportError(
                name, f"lock: {type(err).__name__}: {err}")
            break
        if outcome.value is not None and not outcome.value[0]:
            problem = Locked(name, outcome.value[1] or LockInfo.from_json(""))
            break
    if problem is not None:
        # Every host tried, not only those known taken: a command that failed or timed
        # out may still have taken its lock. Our token keeps others' locks safe.
        release_locks(pool, {n: layouts[n] for n in outcomes if n in pool.transports}, info)
        if (not ordered and isinstance(problem, Locked) and taken.probed
                and not problem.holder.stale()):
            return None  # we won some hosts, another operation others: try in order
        raise problem
    return taken


_BEFORE_FAILED = "DEPLOYTUI-BEFORE-FAILED"


def release_locks(pool: HostPool, layouts: dict[str, Layout], info: LockInfo, *,
                  before: Callable[[str], str] | None = None,
                  before_failed: set[str] | None = None) -> dict[str, str]:
    """Remove our own lock from every host (best effort); returns host -> error.

    A command that ran but exited non-zero is an error too: the lock is still there.
    `before(host)`: shell text run first in the same command (the fleet record); its
    failure never keeps the lock, and adds the host to `before_failed`.
    """
    hosts = [pool.host(name) for name in layouts if name in pool.transports]

    def release(host, transport: Transport) -> None:
        command = release_command(layouts[host.name], info)
        if before is not None:
            command = (f"{{ {before(host.name)}; }} 2>/dev/null || echo {_BEFORE_FAILED};"
                       f" {command}")
        result = transport.run(command, capture=before is not None, timeout=LOCK_TIMEOUT)
        if before_failed is not None and _BEFORE_FAILED in result.stdout:
            before_failed.add(host.name)
        if not result.ok:
            raise TransportError(host.name, f"unlock: {result.last_line()}")

    outcomes = pool.map(release, hosts, step="unlock")
    errors = {n: str(f) for n, f in outcomes.failed.items()}
    for name in layouts:
        if name not in pool.transports:
            errors[name] = f"{name}: not connected; its lock could not be released"
    return errors


def read_lock(transport: Transport, layout: Layout) -> LockInfo | None:
    """The holder of the lock on this host, or None when it is free."""
    return read_lock_and_probe(transport, layout)[0]


def read_lock_and_probe(transport: Transport, layout: Layout, probe: str = "", *,
                        env: Mapping[str, str] | None = None,
                        timeout: float = LOCK_TIMEOUT) -> tuple[LockInfo | None, str]:
    """read_lock, plus `probe` run in the same command (as take_locks runs its probe):
    (the lock's holder or None, the probe's output). A status read costs one command."""
    lock = q(layout.lock)
    probing = f" {_probing(probe)}" if probe else " true"
    result = transport.run(f"if [ -d {lock} ]; then echo {_HELD}; cat {lock}/info 2>/dev/null;"
                           f" echo; fi;{probing}", capture=True, timeout=timeout, env=env)
    if not result.ok:
        raise TransportError(transport.name, f"reading the lock: {result.last_line()}")
    out, probed = _split_probe("\n" + result.stdout)
    if _HELD not in out:
        return None, probed
    return LockInfo.from_json(out.split(_HELD, 1)[1].strip()), probed


def break_locks(pool: HostPool, layouts: dict[str, Layout], hosts: Iterable[str] | None = None,
                *, after: Callable[[str, LockInfo | None], str] | None = None
                ) -> dict[str, LockInfo | None]:
    """Remove whatever lock is on each host (unlock); returns host -> whose it was.
    `after(host, holder)`: shell text run in the removing command (the fleet record);
    its failure is ignored."""
    names = list(hosts if hosts is not None else layouts)

    def remove(host, transport: Transport) -> LockInfo | None:
        holder = read_lock(transport, layouts[host.name])
        lock = q(layouts[host.name].lock)
        then = f"; {{ {after(host.name, holder)}; }} 2>/dev/null; true" if after else ""
        result = transport.run(f"if [ -d {lock} ]; then {{ rm -f {lock}/info && rmdir {lock};"
                               f" }} || exit 1; fi{then}", timeout=LOCK_TIMEOUT)
        if not result.ok:
            raise TransportError(host.name, result.last_line())
        return holder

    outcomes = pool.map(remove, [pool.host(n) for n in names], step="unlock")
    for failure in outcomes.failed.values():
        raise TransportError(failure.host, f"unlock: {failure.reason}")
    return outcomes.succeeded
