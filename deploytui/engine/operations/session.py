"""`ssh`: an interactive terminal (or one command) on one host, in the release it serves,
with the project's env, handed to OpenSSH's own client (hosts/openssh.py).

Why OpenSSH and not a paramiko PTY: the user's terminal is OpenSSH's business (raw
mode, window resizes, `~.` escapes, agent forwarding, ControlMaster, a passphrase
prompt), and a Django shell or psql deserves exactly what `ssh -t` gives. What
deploytui adds is what it knows: the destination as it resolves it, strict host keys
against its known_hosts, every jump host held to the same rules, and the env.

The env never reaches a command line (the remote `ps`, the local `ps`): over
deploytui's own connection a 0600 file is written from stdin to the host's $TMPDIR,
and the session's first act is to source it and delete it. Should the session never
start (ssh refused, Ctrl-C at a passphrase prompt), the file deletes itself after
FILE_LIFETIME seconds. The sudo password is not put in it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.failure import Refused
from deploytui.engine.hosts.openssh import NoSSHClient, OpenSSHCommand
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.hosts.transport import TransportError
from deploytui.engine.operations.health import serving_dir
from deploytui.engine.operations.request import resolve_env
from deploytui.engine.operations.roles import once_host
from deploytui.engine.operations.run import NOTHING_DEPLOYED, deployed_check, host_env

FILE_LIFETIME = 120  # seconds an unread env file stays on the host
_UPLOAD = ("umask 077 && f=$(mktemp \"${TMPDIR:-/tmp}/deploytui-env.XXXXXXXX\") && "
           "cat > \"$f\" && printf '%s\\n' \"$f\" && "
           f"{{ (sleep {FILE_LIFETIME}; rm -f -- \"$f\") >/dev/null 2>&1 </dev/null & }}")
NOT_EXPORTED = ("DEPLOYTUI_SUDO_PASSWORD",)


class SessionRefused(Refused):
    """The session cannot start; str() is one line naming the host."""


@dataclass(frozen=True)
class Session:
    host: str
    cwd: str  # where the shell starts: `current` (pull: the working copy)
    argv: list[str]  # what to run (exec) on this machine


def session_host(project: Project, environment: Environment, name: str | None) -> Host:
    """The named host, or the once-host (the first role with `once` steps), else the
    environment's first host."""
    hosts = list(environment.hosts)
    if name is None:
        chosen = once_host(project, hosts)
        assert chosen is not None  # an environment has at least one host
        return chosen
    for host in hosts:
        if host.name == name:
            return host
    raise SessionRefused(f"no host '{name}' in {project.name}/{environment.name} (hosts: "
                         f"{', '.join(h.name for h in hosts)})")


def env_file(env: dict[str, str]) -> bytes:
    """`export NAME=value` lines, each value quoted for a POSIX shell."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()
                   if k not in NOT_EXPORTED).encode()


def remote_command(cwd: str, env_path: str, command: str | None) -> str:
    """The text the host's login shell runs: into `cwd`, the env in and its file gone,
    then a login shell of the user's or `command`."""
    f = shlex.quote(env_path)
    start = (f"cd -- {shlex.quote(cwd)} || exit 1; "
             f"if [ -r {f} ]; then . {f}; rm -f -- {f}; else echo 'deploytui: the "
             f"environment file is gone (older than {FILE_LIFETIME}s): no env' >&2; fi; ")
    return start + (command if command else 'exec "${SHELL:-/bin/sh}" -l')


def prepare_session(config: Config, project: Project, environment: Environment,
                    host_name: str | None = None, command: str | None = None, *,
                    tty: bool = True, resolver=None, factory: TransportFactory | None = None
                    ) -> Session:
    """Check the host serves a release, leave the env on it, and build the argv."""
    host = session_host(project, environment, host_name)
    if resolver is None:
        from deploytui.config.secrets import resolver_for

        resolver = resolver_for(config)
    cwd = serving_dir(project, host)
    pool = HostPool([host], factory or transport_factory(config, resolver=resolver))
    try:
        try:
            transport = pool.open(host)
            if not transport.run(deployed_check(project, host), capture=True).ok:
                raise SessionRefused(f"{host.name}: {NOTHING_DEPLOYED} (deploy first: "
                                     f"deploytui deploy {project.name} {environment.name})")
            try:
                env = host_env(resolve_env(project, resolver), project, environment, host)
            except Exception as exc:
                raise SessionRefused(f"secrets: {exc}") from None
            uploaded = transport.run(_UPLOAD, stdin=env_file(env), capture=True)
        except TransportError as exc:
            raise SessionRefused(str(exc)) from None
    finally:
        pool.close()
    path = uploaded.stdout.strip().splitlines()[-1:] if uploaded.ok else []
    if not path or not path[0].startswith("/"):
        raise SessionRefused(f"{host.name}: could not leave the env file: "
                             f"{uploaded.last_line()}")
    remote = remote_command(cwd, path[0], command)
    if host.transport == "local":  # the demo: a shell on this machine
        return Session(host.name, cwd, ["/bin/sh", "-c", remote])
    try:
        ssh = OpenSSHCommand(config.ssh)
    except NoSSHClient as exc:
        raise SessionRefused(str(exc)) from None
    return Session(host.name, cwd, ssh.argv(host, remote, tty=tty))
