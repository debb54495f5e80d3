"""The operator's ssh-agent: which one, its keys for logging in, and forwarding it.

Which agent: ssh_config's IdentityAgent for the host (a socket path, `SSH_AUTH_SOCK`,
`$VAR`, or `none` for no agent at all), else $SSH_AUTH_SOCK, as OpenSSH does. The same
socket authenticates and is forwarded.

Forwarding: the engine runs commands on raw paramiko channels (the runner shell and
one-channel commands), which Fabric's `forward_agent` never sees. sshd forwards an agent
per session: each such channel asks for it (`auth-agent-req@openssh.com`, no reply
awaited, so it costs no round trip) before its exec, so SSH_AUTH_SOCK is set for the
runner and every command it runs (git fetch, clone, build steps). When a command on the
host talks to the agent, sshd opens an `auth-agent@openssh.com` channel back to us,
which AgentForwarder joins to a fresh connection to the local agent socket. Behind a jump
host it is the same: the host's own SSH connection carries the channels.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Mapping

import paramiko
from paramiko.agent import AgentSSH

CHUNK = 65536


def agent_socket(identity_agent: str | None,
                 environ: Mapping[str, str] = os.environ) -> str | None:
    """The agent socket for a host whose IdentityAgent is `identity_agent` (None when
    no agent is to be used)."""
    value = (identity_agent or "").strip().strip('"')
    if not value or value == "SSH_AUTH_SOCK":
        return environ.get("SSH_AUTH_SOCK") or None
    if value.lower() == "none":
        return None
    if value.startswith("$"):
        return environ.get(value[1:]) or None
    return os.path.expanduser(value)


class SocketAgent(AgentSSH):
    """The agent at a given socket, for paramiko's authentication (paramiko's own
    Agent reads only $SSH_AUTH_SOCK). An unreachable socket offers no keys."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.reachable = False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            return
        try:
            self._connect(sock)  # type: ignore[attr-defined]  # paramiko AgentSSH's own
        except Exception:
            sock.close()
            self._keys = ()
            return
        self.reachable = True

    def close(self) -> None:
        self._close()  # type: ignore[attr-defined]


class AgentForwarder:
    """paramiko's handler for the agent channels a host opens back to us."""

    def __init__(self, path: str) -> None:
        self.path = path

    def request(self, chan: paramiko.Channel) -> None:
        """Ask for the agent on `chan` (before its exec): SSH_AUTH_SOCK on the host."""
        chan.request_forward_agent(self)

    def __call__(self, chan: paramiko.Channel) -> None:
        """Called on paramiko's reader thread: never block it."""
        threading.Thread(target=self._serve, args=(chan,), name="agent-forward",
                         daemon=True).start()

    def _serve(self, chan: paramiko.Channel) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            chan.close()  # the host's ssh says its agent refused: the cause is ours
            return
        # two blocking pumps, not a select(): a channel's fileno() can miss a wake-up
        # (channel_reader.py), which would stall a signature by a whole poll timeout
        back = threading.Thread(target=_pump, args=(sock.recv, chan.sendall, chan, sock),
                                name="agent-forward-back", daemon=True)
        back.start()
        _pump(chan.recv, sock.sendall, chan, sock)
        back.join(5)

    def __repr__(self) -> str:
        return f"AgentForwarder({self.path!r})"


def _pump(read, write, chan: paramiko.Channel, sock: socket.socket) -> None:
    try:
        while data := read(CHUNK):
            write(data)
    except (OSError, EOFError, paramiko.SSHException):
        pass
    finally:
        with contextlib.suppress(Exception):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            sock.close()
        with contextlib.suppress(Exception):
            chan.close()
