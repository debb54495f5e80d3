"""A fleet of real OpenSSH hosts on loopback, so remote behaviour is tested over real SSH.

Each host is one `/usr/sbin/sshd -D` started as root in its own mount and UTS namespace:
`hostname` inside says which host it is, and `/srv`, `/tmp`, `/home/deployer` and
`/etc/hosts` are per-host directories bind-mounted over the machine's. N hosts deploying
to the same path never collide, and from outside a host's files are plain directories
(`FleetHost.path`), readable even while the host is frozen.

Addressing: host i (1-based) of a fleet in slot S listens on 127.88.S.i, port 2200 (not 22,
so a machine's own sshd on 0.0.0.0:22 never collides; known_hosts therefore uses the
`[addr]:2200` form). S is the pytest-xdist worker number (gw3 -> 3, no xdist -> 0), bumped
to the next free slot when another fleet holds it: slots are `flock`ed files under
/var/tmp/deploytui-fleet-slots, so concurrent test sessions on one machine never collide.
A fleet of more than 254 hosts (one /24's addresses) takes as many consecutive slots as
it needs, every one locked, the hosts spread evenly over them: 500 hosts are host1..host250
at 127.88.S.1-250 and host251..host500 at 127.88.S+1.1-250.

Fleet state (client key, known_hosts, sample repo, each host's private dirs) lives in
/var/tmp/deploytui-fleet-XXXX (hosts' /tmp is private, so it cannot live there) and is
removed by `Fleet.stop`. Machine-wide, `start` leaves behind on purpose: the user
`deployer`, /etc/sudoers.d/deploytui-fleet, /run/sshd, and /var/lib/deploytui-fleet (its
random sudo password, 0600): concurrent fleets share them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import grp
import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploytui.sample_app import create_sample_repo

SSHD = "/usr/sbin/sshd"  # absolute: sshd re-executes itself for every connection
PORT = 2200
USER = "deployer"
HOME = f"/home/{USER}"
NET = "127.88"  # host i of slot S: 127.88.S.i
MAX_SLOTS = 200
PER_SLOT = 254  # a /24's host addresses, .1 to .254
MAX_HOSTS = 4 * PER_SLOT  # four slots; 500 hosts (two) are what the scale benchmark runs
STATE_DIR = Path("/var/lib/deploytui-fleet")  # persistent, root-only: the sudo password
SLOTS_DIR = Path("/var/tmp/deploytui-fleet-slots")
SUDOERS = Path("/etc/sudoers.d/deploytui-fleet")
MARKER_PREFIX = ".deploytui-"
HOME_KEEP = (".ssh", ".gitconfig")  # what reset leaves in a host's home
SIGNAL_TIMEOUT = 15.0  # for stopped/killed processes to show it: a hang detector only
START_TIMEOUT = 30.0  # for every host to listen; 200 hosts take ~10 s on a loaded 2-core box


class FleetUnavailable(Exception):
    """This machine cannot run the fleet (not root, no sshd, no unshare): tests skip."""


def _mnt_ns(pid: int) -> str | None:
    """The mount namespace of `pid` (None once it has exited: zombies have none)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _pids_by_ns() -> dict[str, list[int]]:
    """Every live process, grouped by mount namespace: one /proc scan serves all hosts."""
    groups: dict[str, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            ns = _mnt_ns(int(entry.name))
            if ns is not None:
                groups.setdefault(ns, []).append(int(entry.name))
    return groups


def _is_stopped(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone: nothing left to stop
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _ed25519_keypair() -> tuple[bytes, str]:
    """A fresh key (OpenSSH private format, public line): in-process, no ssh-keygen."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def _write(path: Path, data: str | bytes, mode: int = 0o644, owner: int | None = None) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, _gid(owner))


def _gid(uid: int) -> int:
    """The primary group of `uid`, for chown."""
    return pwd.getpwuid(uid).pw_gid


def _empty_dir(path: Path) -> None:
    """Remove everything inside `path` (not `path` itself, a mount point inside a host)."""
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                child.unlink()


def _sbin(tool: str) -> str:
    """`tool`'s path even when PATH lacks the sbin directories (e.g. after a plain `su`)."""
    path = os.environ.get("PATH", os.defpath) + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(tool, path=path) or tool


def _check_machine() -> None:
    if os.geteuid() != 0:
        raise FleetUnavailable("the SSH test fleet needs root (namespaces, bind mounts, sshd)")
    for tool in (SSHD, "unshare", "nsenter", "setpriv", "ssh"):
        if shutil.which(tool) is None:
            raise FleetUnavailable(f"{tool} is not installed (apt-get install openssh-server"
                                   " openssh-client util-linux)")


def _prepare_machine() -> str:
    """Create the login user, its sudo rule and /run/sshd; return the sudo password.

    Serialized by a lock because concurrent fleets share the user. The password is
    random per machine (a known password on a sudo-capable account would be a hole on a
    developer's machine) and kept root-only so every later fleet reuses it.
    """
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(STATE_DIR / "setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(USER)
        except KeyError:
            group = ["-g", USER] if _group_exists(USER) else ["-U"]
            _run([_sbin("useradd"), "-M", "-d", HOME, "-s", "/bin/bash", *group, USER],
                 retries=5)
        pw_file = STATE_DIR / "sudo-password"
        if not pw_file.exists():
            _write(pw_file, secrets.token_urlsafe(18), 0o600)
        password = pw_file.read_text().strip()
        # chpasswd only when the account's hash is not the one we set last time: it takes
        # /etc/shadow's lock, which other tools on the machine may hold for a moment.
        hash_file = STATE_DIR / "shadow-hash"
        if not hash_file.exists() or hash_file.read_text() != _shadow_hash(USER):
            _run([_sbin("chpasswd")], input=f"{USER}:{password}\n", retries=5)
            _write(hash_file, _shadow_hash(USER), 0o600)
        rule = (f"# deploytui test fleet (tests/fleet.py): the hosts' login user.\n"
                f"Defaults:{USER} lecture=never, timestamp_timeout=0, !mail_badpass\n"
                f"{USER} ALL=(ALL) ALL\n")
        if not SUDOERS.exists() or SUDOERS.read_text() != rule:
            SUDOERS.parent.mkdir(parents=True, exist_ok=True)
            tmp = SUDOERS.with_name(".deploytui-fleet.new")  # dotted: sudo ignores it
            _write(tmp, rule, 0o440)
            if shutil.which(_sbin("visudo")):
                _run([_sbin("visudo"), "-cqf", str(tmp)])
            tmp.replace(SUDOERS)
    Path(HOME).mkdir(exist_ok=True)  # mount point only; each host mounts its own
    Path("/srv").mkdir(exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation needs it
    Path("/run/sshd").chmod(0o755)
    return password


def _run(argv: list[str], input: str | None = None, retries: int = 1) -> None:
    """Run a setup command; on failure raise with its stderr, which CalledProcessError's
    message leaves out. Retries cover tools that give up at once on a busy lock file."""
    for attempt in range(retries):
        done = subprocess.run(argv, input=input, text=True, capture_output=True)
        if done.returncode == 0:
            return
        if attempt + 1 < retries:
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


def _shadow_hash(user: str) -> str:
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return fields[1]
    return ""


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _kill_stale_fleet(root: str) -> None:
    """Kill what a crashed session left of its fleet at `root`: sshd and its sessions.

    A host is found by its launch command line (`-f ROOT/hosts/NAME/sshd_config`), then
    killed with its whole namespace. A namespace shared with this process or with init
    is never a host's: an ssh client or editor naming a file under `root` lives there, and
    "every process in it" would be the whole machine.
    """
    shared = {_mnt_ns(os.getpid()), _mnt_ns(1), None}
    hosts_dir = f"{root}/hosts/".encode()
    pinned: dict[str, int] = {}  # held open while we kill: see FleetHost._pin_ns
    try:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
                if not any(arg.startswith(hosts_dir) for arg in argv):
                    continue
                fd = os.open(f"/proc/{entry.name}/ns/mnt", os.O_RDONLY)
                ns = f"mnt:[{os.fstat(fd).st_ino}]"
                if ns in shared or ns in pinned:
                    os.close(fd)
                else:
                    pinned[ns] = fd
        for _ in range(100):
            groups = _pids_by_ns()
            pids = [pid for ns in pinned for pid in groups.get(ns, [])]
            if not pids:
                break
            _signal_all(pids, signal.SIGKILL)
            time.sleep(0.01)
    finally:
        for fd in pinned.values():
            os.close(fd)
    shutil.rmtree(root, ignore_errors=True)


def _acquire_slot(preferred: int) -> tuple[int, IO[str]]:
    """Lock the first free slot from `preferred` on; the lock dies with this process."""
    SLOTS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    for i in range(MAX_SLOTS):
        slot = (preferred + i) % MAX_SLOTS
        handle = _try_slot(slot)
        if handle is None:
            continue
        _clear_previous(handle)
        return slot, handle
    raise RuntimeError(f"all {MAX_SLOTS} fleet slots are taken")


def _try_slot(slot: int) -> IO[str] | None:
    """The slot's lock file, flock'ed, or None when another fleet holds it."""
    handle = open(SLOTS_DIR / f"slot-{slot}.lock", "a+")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _clear_previous(handle: IO[str]) -> None:
    """Kill what the slot's previous (crashed) session left running, if anything."""
    handle.seek(0)
    previous = handle.read().strip()
    if previous.startswith("/var/tmp/deploytui-fleet-") and Path(previous).exists():
        _kill_stale_fleet(previous)


def _acquire_slots(preferred: int, count: int) -> tuple[list[int], list[IO[str]]]:
    """Lock `count` consecutive free slots, the first at or after `preferred`; one slot
    is exactly _acquire_slot. A run with a taken slot in it is let go and the search
    goes on after that slot: never wait on a lock, never hold a partial run."""
    if count == 1:
        slot, handle = _acquire_slot(preferred)
        return [slot], [handle]
    SLOTS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    first = preferred % MAX_SLOTS
    if first + count > MAX_SLOTS:
        first = 0
    tried = 0
    while tried < MAX_SLOTS:
        handles: list[IO[str]] = []
        for slot in range(first, first + count):
            handle = _try_slot(slot)
            if handle is None:
                break
            handles.append(handle)
        if len(handles) == count:
            for handle in handles:
                _clear_previous(handle)
            return list(range(first, first + count)), handles
        for handle in handles:
            handle.close()  # releases its flock
        tried += len(handles) + 1
        first += len(handles) + 1
        if first + count > MAX_SLOTS:
            tried += MAX_SLOTS - first
            first = 0
    raise RuntimeError(f"no {count} consecutive free fleet slots among {MAX_SLOTS}")


def _reserve_fds(n: int) -> None:
    """Raise this process's open-file limit by what n hosts hold (one pinned namespace
    each), so the fleet does not eat into the budget of the code under test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        wanted = soft + n if hard == resource.RLIM_INFINITY else min(hard, soft + n)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _raise_limits(n: int) -> None:
    """For a fleet over several /24s (hundreds of hosts): this process's open-file limit
    high enough for what a client it starts holds towards n hosts at once too (a socket
    and a few pipes per host, inherited by the tools a benchmark spawns), and a check
    that the machine's process table has room for n sshds, each with its login's
    processes. This process only, nothing machine-wide: the limit dies with it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8 * n + 1024
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            hard = wanted  # root may raise its hard limit up to fs.nr_open
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    threads_max = int(Path("/proc/sys/kernel/threads-max").read_text())
    need = 16 * n  # sshd + its session's processes per host, the client's threads, margin
    if min(pid_max, threads_max) < need:
        raise FleetUnavailable(f"{n} hosts need kernel.pid_max and kernel.threads-max of at"
                               f" least {need} (they are {pid_max} and {threads_max})")


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


class FleetHost:
    """One host of the fleet: an sshd in its own namespaces, with private directories."""

    def __init__(self, fleet: Fleet, name: str, address: str, port: int, root: Path) -> None:
        self.fleet = fleet
        self.name = name
        self.address = address
        self.port = port
        self.root = root  # this host's private dirs, as seen from outside
        self._proc: subprocess.Popen[bytes] | None = None
        self._ns: str | None = None  # "mnt:[N]", valid only while _ns_fd pins it
        self._ns_fd: int | None = None
        self._frozen = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<FleetHost {self.name} {self.address}:{self.port}>"

    # -- files ---------------------------------------------------------------------
    _MOUNTS = {"/srv": "srv", "/tmp": "tmp", HOME: "home", "/etc/hosts": "hosts"}

    def path(self, remote: str) -> Path:
        """The outside path of `remote` (under /srv, /tmp, /home/deployer or /etc/hosts)."""
        for prefix, local in self._MOUNTS.items():
            if remote == prefix or remote.startswith(prefix + "/"):
                return self.root / local / remote[len(prefix):].lstrip("/")
        raise ValueError(f"{remote} is not private to a fleet host (only {list(self._MOUNTS)})")

    def set_marker(self, name: str, content: str = "") -> None:
        """Create ~/.deploytui-NAME for the sample app's build.sh (e.g. fail-build)."""
        _write(self.root / "home" / f"{MARKER_PREFIX}{name}", content, 0o644,
               self.fleet.uid)

    def clear_markers(self) -> None:
        for marker in (self.root / "home").glob(f"{MARKER_PREFIX}*"):
            marker.unlink(missing_ok=True)

    def sshd_log(self) -> str:
        """sshd's log (LogLevel VERBOSE) since the last reset."""
        return (self.root / "sshd.log").read_text(errors="replace")

    def connections(self) -> int:
        """Logins accepted since the last reset (one per SSH connection that authenticated)."""
        return self.sshd_log().count("Accepted publickey for ")

    # -- ssh -------------------------------------------------------------------------
    def ssh_argv(self, command: str | None = None, *options: str) -> list[str]:
        """An OpenSSH client command line for this host: strict keys, no user config.

        `options` ("Key=value") come first because ssh keeps the first value it sees.
        """
        fleet = self.fleet
        argv = ["ssh"]
        for option in options:
            argv += ["-o", option]
        argv += ["-F", str(fleet.ssh_config), "-i", str(fleet.client_key),
                 "-o", f"UserKnownHostsFile={fleet.known_hosts}",
                 "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
                 "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p", str(self.port)]
        argv.append(f"{fleet.user}@{self.address}")
        if command is not None:
            argv.append(command)
        return argv

    def ssh(self, command: str, *options: str, input: str | None = None,
            timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `command` on this host as deployer with the plain OpenSSH client."""
        return subprocess.run(self.ssh_argv(command, *options), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def run_inside(self, cmd: str) -> subprocess.CompletedProcess[str]:
        """Run a shell command as root inside the host's namespaces (no SSH), to inspect
        or set up what a login could not, e.g. root-owned files or a frozen host's view."""
        pid = self._live_pid()
        return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "--", "/bin/sh", "-c", cmd],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def processes(self) -> list[str]:
        """The command line of every process running on this host, e.g. to assert that a
        cancelled command is gone. (`pgrep` inside a host lists the whole machine's: hosts
        share the PID namespace, and other test sessions run the very same commands.)"""
        with self._lock:
            found = []
            for pid in _pids_by_ns().get(self._live_ns(), []):
                with contextlib.suppress(OSError):
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0")
                    found.append(argv.replace(b"\0", b" ").decode(errors="replace"))
            return found

    # -- faults ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The pid of the host's sshd, which stays the same until kill() or restart()."""
        return self._proc.pid if self._proc is not None else None

    @property
    def frozen(self) -> bool:
        return self._frozen

    def kill(self) -> None:
        """SIGKILL sshd and every session: connections are refused until restart()."""
        with self._lock:
            self._kill(keep_listener=False)
            self._frozen = False

    def freeze(self) -> None:
        """SIGSTOP every process of the host: TCP connects complete (the kernel answers)
        but no banner comes and open sessions stall, as with a hung host or a partition."""
        with self._lock:
            ns = self._live_ns()
            stopped: set[int] = set()
            deadline = time.monotonic() + SIGNAL_TIMEOUT
            while True:
                pids = set(_pids_by_ns().get(ns, []))
                new = pids - stopped
                _signal_all(new, signal.SIGSTOP)
                stopped |= new
                # A process forking while the signal was in flight shows up next round.
                if not new and all(_is_stopped(pid) for pid in pids):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: could not stop {sorted(pids)}")
                time.sleep(0.002)
            self._frozen = True

    def thaw(self) -> None:
        """SIGCONT every process of the host: stalled sessions carry on."""
        with self._lock:
            if self._ns is not None:
                _signal_all(_pids_by_ns().get(self._ns, []), signal.SIGCONT)
            self._frozen = False

    def restart(self) -> None:
        """Start sshd again after kill(): same host key, same private directories."""
        with self._lock:
            if not self.running:
                self._spawn()
                _await_listening([self])

    def reset(self) -> None:
        """Back to a fresh host: thawed, running, no stray session, empty /srv/app and
        /tmp, a home with only .ssh and .gitconfig, an empty sshd log."""
        with self._lock:
            if self._frozen:
                self.thaw()
            if not self.running:
                self.restart()
            self._clean()

    # -- internals ------------------------------------------------------------------------
    def _live_pid(self) -> int:
        if not self.running or self._proc is None:
            raise RuntimeError(f"{self.name} is not running (killed?); restart() it first")
        return self._proc.pid

    def _live_ns(self) -> str:
        self._live_pid()
        if self._ns is None:
            raise RuntimeError(f"{self.name}: namespace unknown")
        return self._ns

    def _spawn(self) -> None:
        """Start sshd in new mount+UTS namespaces; returns at once (see _await_listening)."""
        if self._proc is not None:
            self._kill(keep_listener=False)  # sessions that outlived a killed sshd
        self._release_ns()
        r = self.root
        script = (
            "set -e\n"
            f"hostname {self.name}\n"
            f"mount --bind {r}/srv /srv\n"
            f"mount --bind {r}/tmp /tmp\n"
            f"mount --bind {r}/home {HOME}\n"
            f"mount --bind {r}/hosts /etc/hosts\n"
            f"exec {SSHD} -D -f {r}/sshd_config -E {r}/sshd.log\n"
        )
        # setpriv, unshare and sh exec, so the pid is sshd's. Dying with the thread that started
        # it is the last belt against leftovers if pytest is SIGKILLed; only safe from
        # the main thread (the death signal fires when the creating *thread* exits).
        in_main = threading.current_thread() is threading.main_thread()
        die_with_us = ["setpriv", "--pdeathsig", "KILL", "--"] if in_main else []
        with open(r / "launch.log", "ab") as launch_log:
            self._proc = subprocess.Popen(
                [*die_with_us, "unshare", "--mount", "--uts", "--propagation", "private", "--",
                 "/bin/sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=launch_log, stderr=launch_log,
                start_new_session=True,  # Ctrl-C in the terminal is for pytest, not hosts
            )

    def _pin_ns(self, pid: int) -> None:
        """Note the mount namespace of `pid` as this host's, holding it open.

        The kernel gives a new namespace the lowest free number, so the number of a host
        whose processes all died goes at once to the next namespace made on the machine:
        another host's. Held open, the namespace (empty or not) keeps its number, so
        signalling "every process in ns N" never reaches a host this one does not own.
        """
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
        self._release_ns()
        self._ns_fd = fd
        self._ns = f"mnt:[{os.fstat(fd).st_ino}]"

    def _release_ns(self) -> None:
        """Forget the namespace (its number may then go to another host's)."""
        if self._ns_fd is not None:
            os.close(self._ns_fd)
        self._ns_fd = None
        self._ns = None

    def _kill(self, keep_listener: bool) -> None:
        """SIGKILL every process in the host's namespace (all but sshd if keep_listener)."""
        _kill_hosts([self], keep_listener)

    def _clean(self) -> None:
        self._kill(keep_listener=True)  # a straggling build must not write after the wipe
        self._wipe()

    def _wipe(self) -> None:
        """Empty /srv/app and /tmp, reset the home and the sshd log (sessions killed)."""
        uid = self.fleet.uid
        srv = self.root / "srv"
        _empty_dir(srv)
        (srv / "app").mkdir()
        os.chown(srv / "app", uid, _gid(uid))
        _empty_dir(self.root / "tmp")
        home = self.root / "home"
        for child in home.iterdir():
            if child.name not in HOME_KEEP:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        self.fleet._write_home(home)
        os.truncate(self.root / "sshd.log", 0)  # sshd appends (O_APPEND): safe to truncate


def _kill_hosts(hosts: list[FleetHost], keep_listener: bool) -> None:
    """SIGKILL every process in these hosts' namespaces (all but each sshd if
    keep_listener), with one /proc scan a round for all of them, not one per host.

    Everything is stopped first, then killed: a host that dies sends nothing, but a
    process killed before its parent would let the parent report it (a shell exiting
    137, sshd sending that status), a goodbye no real crash gives."""
    deadline = time.monotonic() + SIGNAL_TIMEOUT
    while True:
        groups = _pids_by_ns()
        pids: set[int] = set()
        for host in hosts:
            mine = set(groups.get(host._ns, [])) if host._ns else set()
            if host._proc is not None:
                if keep_listener:
                    mine.discard(host._proc.pid)
                elif host._proc.poll() is None:  # unreaped: the pid is still sshd's
                    mine.add(host._proc.pid)
            pids |= mine
        if not pids:
            break
        _signal_all(pids, signal.SIGSTOP)
        _signal_all(pids, signal.SIGKILL)
        if time.monotonic() > deadline:
            names = ", ".join(h.name for h in hosts)
            raise RuntimeError(f"{names}: processes {sorted(pids)} survive SIGKILL")
        time.sleep(0.003)
    if not keep_listener:
        for host in hosts:
            if host._proc is not None:
                host._proc.wait()
            host._release_ns()  # empty now: nothing of the host can be in it


def _listening_sockets() -> dict[tuple[str, int], set[str]]:
    """Every listening TCP socket of this network namespace: (address, port) -> the
    "socket:[inode]" names a process holding it shows among its fds."""
    found: dict[tuple[str, int], set[str]] = {}
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            key = (socket.inet_ntoa(struct.pack("<I", int(address, 16))), int(port, 16))
            found.setdefault(key, set()).add(f"socket:[{fields[9]}]")
    return found


def _holds_any(pid: int, names: set[str]) -> bool:
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in names:
                    return True
    return False


def _await_listening(hosts: list[FleetHost], timeout: float = START_TIMEOUT) -> None:
    """Wait until every host's own sshd listens on its address; then pin its namespace.

    Listening is ready: the kernel queues connections until sshd accepts them. Checked
    from the kernel's socket table and the sshd's own fds, so a leftover listener is not
    mistaken for it, and no probe connection makes 200 sshds fork at once.
    """
    own_ns = _mnt_ns(os.getpid())
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    while pending:
        listening = _listening_sockets()
        for host in list(pending):
            proc = host._proc
            assert proc is not None
            if proc.poll() is not None:
                raise RuntimeError(f"{host.name}: sshd {proc.pid} exited with {proc.returncode}:\n"
                                   + _tail(host.root / "launch.log")
                                   + _tail(host.root / "sshd.log"))
            sockets = listening.get((host.address, host.port))
            if sockets and _holds_any(proc.pid, sockets):
                host._pin_ns(proc.pid)  # proc is unreaped: its pid cannot be another's
                if host._ns == own_ns:
                    host._release_ns()
                    raise RuntimeError(f"{host.name}: sshd is not in its own namespace")
                pending.remove(host)
        if pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} hosts not listening after {timeout}s: "
                                   + ", ".join(h.name for h in pending) + ":\n"
                                   + _tail(pending[0].root / "sshd.log"))
            time.sleep(0.01)


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    return ""


SSHD_CONFIG = """\
# deploytui test fleet: host {name}
ListenAddress {address}:{port}
HostKey {root}/ssh_host_ed25519_key
PidFile none
UsePAM no
AllowUsers {user}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
LogLevel VERBOSE
{limits}X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""
GENEROUS_LIMITS = "MaxStartups 100:30:200\nMaxSessions 20\n"
STOCK_LIMITS = "# OpenSSH's defaults, as on a stock server: MaxStartups 10:30:100, MaxSessions 10\n"


class Fleet:
    """N real sshd hosts on loopback plus what a client needs to reach them strictly."""

    hosts: list[FleetHost]
    user: str
    client_key: Path
    known_hosts: Path
    ssh_config: Path  # an empty file: the developer's ~/.ssh/config must never leak in
    repo_dir: Path
    repo_url: str
    sudo_password: str
    uid: int  # the login user's, for files tests put into a host
    root: Path
    slot: int  # the first (with up to 254 hosts the only) slot
    slots: list[int]  # every slot the fleet holds, consecutive
    start_seconds: float  # how long start() took, for the record

    def __init__(self) -> None:
        raise TypeError("use Fleet.start(n)")

    @classmethod
    def start(cls, n: int = 10, *, slot: int | None = None,
              stock_limits: Iterable[str] = (), per_slot: int = PER_SLOT) -> Fleet:
        """Start n hosts in parallel and return once every one answers with a banner.

        Hosts named in `stock_limits` (e.g. "host1", to act as a bastion) run with
        OpenSSH's default MaxStartups 10:30:100 and MaxSessions 10; the others with
        generous limits, so that only tests that ask for a stock server meet one.

        More than `per_slot` hosts (254: a /24) take ceil(n / per_slot) consecutive slots,
        the hosts spread evenly over them in order; a lower `per_slot` lets a test spread
        a small fleet over two /24s cheaply.

        Raises FleetUnavailable when the machine cannot run a fleet (tests skip).
        """
        began = time.monotonic()
        if not 1 <= per_slot <= PER_SLOT:
            raise ValueError(f"per_slot is 1 to {PER_SLOT} hosts")
        if not 1 <= n <= MAX_HOSTS:
            raise ValueError(f"a fleet has 1 to {MAX_HOSTS} hosts")
        count = -(-n // per_slot)
        _check_machine()
        self = cls.__new__(cls)
        self.user = USER
        self.sudo_password = _prepare_machine()
        self.uid = pwd.getpwnam(USER).pw_uid
        _reserve_fds(n)
        if count > 1:
            _raise_limits(n)
        self.slots, self._slot_locks = _acquire_slots(
            _worker_index() if slot is None else slot, count)
        self.slot = self.slots[0]
        self._stopped = False
        self.root = Path(tempfile.mkdtemp(prefix="deploytui-fleet-", dir="/var/tmp"))
        for lock in self._slot_locks:
            lock.seek(0)
            lock.truncate()
            lock.write(str(self.root))
            lock.flush()
        atexit.register(self.stop)
        try:
            self._build(n, set(stock_limits))
            for host in self.hosts:
                host._spawn()
            _await_listening(self.hosts, max(START_TIMEOUT, 0.15 * n))
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _build(self, n: int, stock_limits: set[str]) -> None:
        """Write keys, known_hosts, the sample repo and each host's directories."""
        self.root.chmod(0o755)  # deployer must read the sample repo from inside hosts
        private, public = _ed25519_keypair()
        self.client_key = self.root / "client_key"
        _write(self.client_key, private, 0o600)
        _write(self.root / "client_key.pub", public + " deploytui-fleet\n")
        self._client_public = public
        self.ssh_config = self.root / "ssh_config"
        _write(self.ssh_config, "")
        self.repo_dir = create_sample_repo(self.root / "sample")
        subprocess.run(["chmod", "-R", "a+rX", str(self.repo_dir)], check=True)
        self.repo_url = str(self.repo_dir)
        self.hosts = []
        known = []
        per = -(-n // len(self.slots))  # evenly: 500 hosts on two slots are 250 + 250
        for i in range(1, n + 1):
            name = f"host{i}"
            address = f"{NET}.{self.slots[(i - 1) // per]}.{(i - 1) % per + 1}"
            root = self.root / "hosts" / name
            host = FleetHost(self, name, address, PORT, root)
            for sub in ("srv", "tmp", "home"):
                (root / sub).mkdir(parents=True)
            (root / "tmp").chmod(0o1777)
            (root / "srv" / "app").mkdir()
            os.chown(root / "srv" / "app", self.uid, _gid(self.uid))
            os.chown(root / "home", self.uid, _gid(self.uid))
            self._write_home(root / "home")
            _write(root / "hosts", f"127.0.0.1\tlocalhost\n{address}\t{name}\n"
                                   "::1\tlocalhost ip6-localhost ip6-loopback\n")
            key, key_public = _ed25519_keypair()
            _write(root / "ssh_host_ed25519_key", key, 0o600)
            _write(root / "sshd_config", SSHD_CONFIG.format(
                name=name, address=address, port=PORT, root=root, user=USER,
                limits=STOCK_LIMITS if name in stock_limits else GENEROUS_LIMITS))
            _write(root / "sshd.log", "")
            known.append(f"[{address}]:{PORT} {key_public}\n")
            self.hosts.append(host)
        self.known_hosts = self.root / "known_hosts"
        _write(self.known_hosts, "".join(known))

    def _write_home(self, home: Path) -> None:
        """authorized_keys, and a .gitconfig trusting any repo owner (the sample repo is
        root's; git >= 2.35.2 refuses repos of other users unless safe.directory says so).
        Scoped to the hosts' private homes, so the machine's git config is untouched."""
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(ssh_dir, self.uid, _gid(self.uid))
        _write(ssh_dir / "authorized_keys", self._client_public + "\n", 0o600, self.uid)
        _write(home / ".gitconfig", "[safe]\n\tdirectory = *\n", 0o644, self.uid)

    def stop(self) -> None:
        """Kill every host and remove the fleet's directory; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            _kill_hosts(getattr(self, "hosts", []), keep_listener=False)
        shutil.rmtree(self.root, ignore_errors=True)
        for lock in getattr(self, "_slot_locks", []):
            with contextlib.suppress(OSError):
                lock.seek(0)
                lock.truncate()
                lock.close()  # releases the flock
        atexit.unregister(self.stop)

    def reset(self) -> None:
        """Every host back to fresh (see FleetHost.reset); dead hosts restart in parallel."""
        for host in self.hosts:
            if host.frozen:
                host.thaw()
        dead = [host for host in self.hosts if not host.running]
        for host in dead:
            host._spawn()
        _await_listening(dead)
        _kill_hosts(self.hosts, keep_listener=True)  # no straggler writes after the wipe
        for host in self.hosts:
            host._wipe()

    def config(self, hosts: int | list[FleetHost] = 3, *, project: str = "app",
               env: str = "prod", **project_overrides: Any) -> dict[str, Any]:
        """A deploytui config dict deploying the sample repo (release strategy, /srv/app)
        to the first `hosts` hosts (or the given ones); overrides replace project keys."""
        chosen = self.hosts[:hosts] if isinstance(hosts, int) else list(hosts)
        if not chosen or (isinstance(hosts, int) and hosts > len(self.hosts)):
            raise ValueError(f"the fleet has {len(self.hosts)} hosts, asked for {hosts}")
        spec: dict[str, Any] = {
            "repo": self.repo_url,
            "branch": "main",
            "strategy": "release",
            "deploy_to": "/srv/app",
            "build": ["sh build.sh"],
            "roles": {"web": {"restart": ["sh restart.sh"]}},
            "environments": {env: {"hosts": {
                h.name: {"address": h.address, "port": h.port, "user": self.user,
                         "roles": ["web"]}
                for h in chosen}}},
        }
        spec.update(project_overrides)
        return {
            "ssh": {"config": str(self.ssh_config), "known_hosts": str(self.known_hosts),
                    "host_keys": "strict", "identity_file": str(self.client_key),
                    "connect_timeout": 5},
            "projects": {project: spec},
        }

    def write_config(self, path: Path, data: dict[str, Any]) -> Path:
        """Write a config dict as YAML (as a user would) and return the path."""
        path = Path(path)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def host(self, name: str) -> FleetHost:
        """The host called `name` (host1, host2, ...)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)
