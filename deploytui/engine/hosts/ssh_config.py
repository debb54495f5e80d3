"""ssh_config read as OpenSSH reads it: by asking OpenSSH (`ssh -G`), once per host.

paramiko's SSHConfig ignores `Include` (an alias defined in an included file was "name
or service not known"), half-handles `Match`, and expands `~` from $HOME where OpenSSH
uses the account's home. Rather than re-implement readconf.c, each (alias, port, user)
is resolved by `ssh -G -F CONFIG [-p PORT] [-l USER] -- ALIAS`: Include (globs, paths
relative to ~/.ssh), Match (host, originalhost, user, localuser, exec, all), negated
patterns and tokens are then exactly OpenSSH's. The answer is the paramiko-style dict
the rest of deploytui reads (lowercase keys, `identityfile` a list), holding only what
the file set: a value equal to OpenSSH's default (`ssh -G -F /dev/null`) is left out, as
paramiko leaves out what no line says, except `hostname`, `port` and `user`, always
there. Tokens OpenSSH expands only when it connects (IdentityFile, CertificateFile,
ProxyCommand, ControlPath) are expanded here, `%p` being the port deploytui connects to,
as with `ssh -p`.

Cost (benchmarks/ssh_config_cost.py): one `ssh -G` is a few milliseconds of CPU; an
operation resolves each distinct (alias, port, user) once, in the host threads that
connect (so in parallel, at most PARALLEL processes at once). A missing or empty config
file costs no process at all. Answers are also remembered for the process (the console
reads its hosts every 30 s), and in the data directory for the processes after it
(ssh_config_store.py: a CLI deploy asks no `ssh -G` when nothing changed), while every
file the config reads (the file and what its Includes match) and the environment are
unchanged, unless it has a `Match exec`, whose answer may change at any time. Where no
`ssh` client is installed, paramiko reads the file instead, with `Include` inlined
(fallback: Match and Include inside a Host block are then only as good as paramiko's).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
from concurrent.futures import Future
from pathlib import Path

import paramiko

from deploytui.engine.hosts.ssh_config_store import Remembered, remembered
from deploytui.engine.hosts.transport import TransportError

PARALLEL = 8  # ssh -G processes at once, per operation
TIMEOUT = 10.0  # a `Match exec` that hangs must not hang the operation
ALWAYS = ("hostname", "port", "user")
LISTS = ("identityfile", "certificatefile", "localforward", "remoteforward",
         "dynamicforward", "sendenv", "setenv")
# what OpenSSH expands only at connect time (`ssh -G` prints them as written)
EXPAND = ("identityfile", "certificatefile", "proxycommand")
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
_SSH_NOISE = ("Pseudo-terminal will not be allocated",)

Lookup = dict  # paramiko.SSHConfigDict-compatible: str -> str | list[str]


class SSHConfigError(TransportError):
    """ssh_config cannot be read: OpenSSH's own line (file, line, option)."""

    def __init__(self, alias: str, message: str) -> None:
        super().__init__(alias, f"ssh_config: {message}")


def account() -> tuple[str, str, int]:
    """(user name, home, uid) of the account running us, from the password database
    as OpenSSH takes them (not $HOME, not $USER)."""
    entry = pwd.getpwuid(os.getuid())
    return entry.pw_name, entry.pw_dir, entry.pw_uid


def expand_home(value: str, home: str | None = None) -> str:
    """`~` and `~/…` from the account's home, as OpenSSH expands them (`~user/` too)."""
    if not value.startswith("~"):
        return value
    head, sep, rest = value[1:].partition("/")
    if head:
        try:
            base = pwd.getpwnam(head).pw_dir
        except KeyError:
            return value
    else:
        base = home or account()[1]
    return base + (sep + rest if sep else "")


def expand_tokens(value: str, tokens: dict[str, str], alias: str) -> str:
    """OpenSSH's percent_expand: `%x` from `tokens`, `%%` a percent sign."""
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "%":
            return "%"
        if key not in tokens:
            raise SSHConfigError(alias, f"unknown token %{key} in {value!r}")
        return tokens[key]
    return re.sub(r"%(.)", one, value)


def tokens_for(alias: str, resolved: dict[str, object]) -> dict[str, str]:
    """The values of ssh_config(5)'s TOKENS for a resolved host."""
    user, home, uid = account()
    local = socket.gethostname()
    host = str(resolved.get("hostname", alias))
    port = str(resolved.get("port", "22"))
    ruser = str(resolved.get("user", user))
    jump = str(resolved.get("proxyjump", ""))
    tokens = {"d": home, "h": host, "i": str(uid), "j": jump,
              "k": str(resolved.get("hostkeyalias", alias)), "L": local.split(".")[0],
              "l": local, "n": alias, "p": port, "r": ruser, "u": user}
    # as `ssh -G` computes it for ControlPath (measured on OpenSSH 9.2: no %j in it)
    tokens["C"] = hashlib.sha1((local + host + port + ruser).encode()).hexdigest()
    return tokens


def expand_env(value: str, alias: str) -> str:
    """`${VAR}` from the environment, as OpenSSH expands it in file paths."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SSHConfigError(alias, f"environment variable ${{{name}}} in {value!r}"
                                        " is not set")
        return os.environ[name]
    return re.sub(r"\$\{(\w+)\}", one, value)


def finish(alias: str, values: dict[str, object], home: str) -> Lookup:
    """Expand what OpenSSH expands only when it connects: in key paths `~`, `${VAR}`
    and tokens; in ProxyCommand tokens alone (it is a shell command)."""
    tokens = tokens_for(alias, values)
    for key in EXPAND:
        value = values.get(key)
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            continue
        if key == "proxycommand":
            values[key] = expand_tokens(str(value), tokens, alias)
            continue
        paths = value if isinstance(value, list) else [str(value)]
        values[key] = [expand_home(expand_tokens(expand_env(v, alias), tokens, alias), home)
                       for v in paths]
    agent = values.get("identityagent")
    if isinstance(agent, str):
        values["identityagent"] = expand_home(agent, home)  # ssh -G did the tokens
    return values


def parse_dump(text: str) -> dict[str, object]:
    """`ssh -G` output: one `key value` a line; a repeated key is a list."""
    values: dict[str, object] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if not key:
            continue
        if key in LISTS:
            listed = values.setdefault(key, [])
            assert isinstance(listed, list)
            listed.append(value)
        else:
            values.setdefault(key, value)
    return values


def parse_destination(spec: str) -> tuple[str | None, str, int | None]:
    """(user, host, port) of `[user@]host[:port]`, `user@[addr]:port` (how `ssh -G`
    prints a ProxyJump hop) or `ssh://[user@]host[:port]`, as OpenSSH parses them."""
    rest = spec.removeprefix("ssh://")
    user, at, hostport = rest.rpartition("@")
    port: str | None = None
    if hostport.startswith("[") and "]" in hostport:
        host, _, tail = hostport[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else None
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host = hostport
    host = host.rstrip("/") if spec.startswith("ssh://") else host
    if port is not None:
        port = port.rstrip("/")
    number = int(port) if port and port.isdigit() else None
    return (user if at and user else None), (host or spec), number


def _remembered(path: Path | None, ssh: str | None) -> Remembered | None:
    """The answers for this config as it is now (None: not to be kept)."""
    try:
        files, has_exec = _files_read(path) if path is not None else ([], False)
        stats = [(str(f), st.st_mtime_ns, st.st_size, st.st_ino)
                 for f in files for st in [f.stat()]]
    except (OSError, SSHConfigError):
        return None
    if has_exec:
        return None
    return remembered(stats, ssh)


_EXEC = re.compile(r"^\s*match\b.*\b(exec|localnetwork)\b", re.IGNORECASE | re.MULTILINE)


def _files_read(path: Path, depth: int = 0) -> tuple[list[Path], bool]:
    """Every file OpenSSH may read for this config (the file, what its Includes match,
    recursively), and whether any has a `Match exec` (or `localnetwork`)."""
    if depth > MAX_INCLUDE_DEPTH:
        raise SSHConfigError(str(path), f"{path}: Include nested too deeply")
    text = path.read_text(errors="replace")
    files, has_exec = [path], bool(_EXEC.search(text))
    glob_home = os.environ.get("HOME") or account()[1]
    for line in text.splitlines():
        match = _INCLUDE.match(line)
        if match is None:
            continue
        for pattern in match.group(1).split():
            pattern = expand_home(pattern.strip('"'), glob_home)
            if not os.path.isabs(pattern):
                pattern = os.path.join(glob_home, ".ssh", pattern)
            for found in sorted(glob.glob(pattern)):
                if os.path.isfile(found):
                    more, execs = _files_read(Path(found), depth + 1)
                    files += more
                    has_exec = has_exec or execs
    return files, has_exec


def has_directives(path: Path | None) -> bool:
    """Whether the file says anything (a missing or comment-only file needs no ssh)."""
    if path is None:
        return False
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(line.strip() and not line.lstrip().startswith("#")
               for line in text.splitlines())


class SSHConfigResolver:
    """One operation's view of one ssh_config file: each host resolved once.

    `lookup(alias, port=None, user=None)` is thread-safe; concurrent lookups of one
    key wait for the one `ssh -G` that answers them all.
    """

    def __init__(self, path: Path | None, *, ssh: str | None = "ssh") -> None:
        self.path = path
        self.ssh = shutil.which(ssh) if ssh else None
        self._active = has_directives(path)
        self._cache: dict[tuple[str, int | None, str | None], Future[Lookup]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(PARALLEL)
        self._defaults: dict[str, object] | None = None
        self._defaults_lock = threading.Lock()
        self._fallback: paramiko.SSHConfig | None = None
        self.processes = 0  # ssh -G runs, for the benchmark and the tests
        self._remembered = _remembered(path, self.ssh) if self._active and self.ssh else None

    @property
    def via_openssh(self) -> bool:
        return self._active and self.ssh is not None

    def lookup(self, alias: str, port: int | None = None, user: str | None = None
               ) -> Lookup:
        key = (alias, port, user)
        with self._lock:
            future = self._cache.get(key)
            mine = future is None
            if mine:
                future = self._cache[key] = Future()
        assert future is not None
        if mine:
            known = self._remembered.get(key) if self._remembered is not None else None
            try:
                answer = known if known is not None else self._resolve(alias, port, user)
                future.set_result(answer)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                if self._remembered is not None and known is None:
                    self._remembered.put(key, answer)
        return dict(future.result())  # a copy: Fabric and callers may write into it

    # ------------------------------------------------------------ how
    def _resolve(self, alias: str, port: int | None, user: str | None) -> Lookup:
        name, home, _uid = account()
        if not self._active:
            values: dict[str, object] = {"hostname": alias, "port": str(port or 22),
                                         "user": user or name}
        elif self.ssh is None:
            values = self._paramiko(alias, port, user, home)
        else:
            values = self._openssh(alias, port, user)
        return finish(alias, values, home)

    def _run_g(self, config: str, alias: str, port: int | None, user: str | None
               ) -> dict[str, object]:
        argv = [str(self.ssh), "-G", "-F", config]
        if port is not None:
            argv += ["-p", str(port)]
        if user:
            argv += ["-l", user]
        argv += ["--", alias]
        with self._slots:
            with self._lock:
                self.processes += 1
            try:
                done = subprocess.run(argv, capture_output=True, text=True,
                                      stdin=subprocess.DEVNULL, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise SSHConfigError(alias, f"`ssh -G` on {config} took over {TIMEOUT:g}s"
                                            " (a Match exec that hangs?)") from None
        if done.returncode != 0:
            lines = [ln.strip() for ln in done.stderr.splitlines()
                     if ln.strip() and not ln.startswith(_SSH_NOISE)]
            raise SSHConfigError(alias, lines[0] if lines else
                                 f"`ssh -G` failed (exit {done.returncode})")
        return parse_dump(done.stdout)

    def _openssh(self, alias: str, port: int | None, user: str | None) -> dict[str, object]:
        values = self._run_g(str(self.path), alias, port, user)
        defaults = self._default_values()
        kept = {k: v for k, v in values.items()
                if k in ALWAYS or (k != "host" and defaults.get(k) != v)}
        return kept

    def _default_values(self) -> dict[str, object]:
        with self._defaults_lock:  # the first host asks; the others wait for it
            if self._defaults is None:
                self._defaults = self._run_g(os.devnull, "deploytui.invalid", None, None)
            return self._defaults

    # ------------------------------------------------------------ no ssh client
    def _paramiko(self, alias: str, port: int | None, user: str | None, home: str
                  ) -> dict[str, object]:
        with self._lock:
            if self._fallback is None:
                assert self.path is not None
                self._fallback = paramiko.SSHConfig.from_text(
                    inline_includes(self.path, home))
            parsed = self._fallback
        found = dict(parsed.lookup(alias))  # paramiko expanded its tokens: redo %p below
        values: dict[str, object] = {k: v for k, v in found.items()}
        values["hostname"] = found.get("hostname", alias)
        values["port"] = str(port or found.get("port", 22))
        values["user"] = user or found.get("user", account()[0])
        if port is not None and "proxycommand" in found:  # paramiko used its own %p
            values["proxycommand"] = _proxycommand_for(parsed, alias, port)
        return values


def _proxycommand_for(parsed: paramiko.SSHConfig, alias: str, port: int) -> str:
    """paramiko expands %p from the file's Port; ssh -p's port comes first in OpenSSH."""
    first = paramiko.SSHConfig()
    first._config = [  # type: ignore[attr-defined]  # paramiko's parsed entries
        {"host": [alias], "config": {"port": str(port)}}, *parsed._config]  # type: ignore[attr-defined]
    return first.lookup(alias).get("proxycommand", "none")


_INCLUDE = re.compile(r"^\s*include\s*[=\s]\s*(.+?)\s*$", re.IGNORECASE)
_HOME_VALUE = re.compile(r"^(\s*(?:identityfile|certificatefile|identityagent)\s*[=\s]\s*)~",
                         re.IGNORECASE)


def inline_includes(path: Path, home: str, depth: int = 0) -> str:
    """The file's text with each `Include` replaced by the files it names (globs,
    relative to ~/.ssh, sorted as glob(3) does), and `~` in key and agent paths from
    the account's home: what paramiko can read. Only for machines with no ssh client.
    An Include's own `~` is $HOME's, as OpenSSH's glob(GLOB_TILDE) takes it."""
    if depth > MAX_INCLUDE_DEPTH:
        raise SSHConfigError(str(path), f"{path}: Include nested too deeply")
    out: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        match = _INCLUDE.match(line)
        if match is None:
            out.append(_HOME_VALUE.sub(lambda m: m.group(1) + home, line))
            continue
        glob_home = os.environ.get("HOME") or home
        for pattern in match.group(1).split():
            pattern = expand_home(pattern, glob_home)
            if not os.path.isabs(pattern):
                pattern = os.path.join(glob_home, ".ssh", pattern)
            for found in sorted(glob.glob(pattern)):
                if os.path.isfile(found):
                    out.append(inline_includes(Path(found), home, depth + 1))
    return "\n".join(out) + "\n"
