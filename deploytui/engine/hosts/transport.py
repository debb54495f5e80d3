"""How the engine reaches a host: one small surface, two implementations (SSH, local).

Every failure a transport can meet is one of the exceptions below, each carrying a
one-line message fit for a user; nothing paramiko- or subprocess-specific leaks out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from deploytui.engine.errors import failure_line

Stream = Literal["out", "err"]
LinesCallback = Callable[[list[str], Stream], None]  # one call per read: its lines


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str  # the whole stdout when run(capture=True), else its last lines
    stderr: str  # the last lines of stderr (for error messages)
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_line(self) -> str:
        """The most telling line for a one-line error (errors.failure_line's rule over
        stderr, then stdout)."""
        return failure_line(self.stderr, self.stdout) or f"exit status {self.exit_code}"


class TransportError(Exception):
    """Base of every transport failure; str() is one line naming the host."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


class Unreachable(TransportError):
    """TCP connect failed, timed out, or no SSH banner came."""


class AuthFailed(TransportError):
    pass


def _hop_prefix(hop: str | None) -> str:
    return f"jump host {hop}: " if hop else ""


class JumpHostFailed(Unreachable):
    """The jump host (ProxyJump hop) in front of the host failed, not the host itself."""

    def __init__(self, host: str, hop: str, message: str) -> None:
        super().__init__(host, _hop_prefix(hop) + message)
        self.hop = hop


class HostKeyUnknown(TransportError):
    """The host's key is not in known_hosts; the user may accept `fingerprint`.

    `hop` names the jump host whose key it is, when it is not the host's own.
    """

    def __init__(self, host: str, key_name: str, key_type: str, fingerprint: str,
                 key_base64: str, *, hop: str | None = None) -> None:
        super().__init__(host, f"{_hop_prefix(hop)}unknown host key {key_type} {fingerprint}"
                               f" (not in known_hosts as {key_name})")
        self.hop = hop
        self.key_name = key_name  # how known_hosts names it: addr or [addr]:port
        self.key_type = key_type
        self.fingerprint = fingerprint  # SHA256:..., as ssh-keygen -lf prints it
        self.key_base64 = key_base64


class HostKeyChanged(TransportError):
    """The host presented a key other than the one known: refused, always."""

    def __init__(self, host: str, expected: str, presented: str, *,
                 hop: str | None = None) -> None:
        super().__init__(host, f"{_hop_prefix(hop)}HOST KEY CHANGED: known_hosts has"
                               f" {expected}, host presented {presented}; refusing to connect")
        self.hop = hop
        self.expected = expected
        self.presented = presented


class HostKeyRevoked(TransportError):
    """The host presented a key marked @revoked in known_hosts: refused, always."""

    def __init__(self, host: str, presented: str, *, hop: str | None = None) -> None:
        super().__init__(host, f"{_hop_prefix(hop)}REVOKED host key {presented}"
                               " (marked @revoked in known_hosts); refusing to connect")
        self.hop = hop
        self.presented = presented


class ConnectionLost(TransportError):
    """The connection dropped or the host stopped answering (liveness probe failed)."""


class CommandTimedOut(TransportError):
    """The command ran past its timeout; it was terminated on the host."""


class Cancelled(TransportError):
    """The caller cancelled; the running command was terminated on the host."""


class TcpRefused(TransportError):
    """A TCP connection made from the host's side was refused or could not be made."""


class TcpStream(Protocol):
    """A byte stream opened from the host's side (a socket or an SSH channel)."""

    def sendall(self, data: bytes) -> None: ...

    def recv(self, size: int) -> bytes: ...

    def settimeout(self, timeout: float | None) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """One host, one connection, reused for every command of an operation."""

    name: str  # the host's name in the config, used in every message

    def connect(self) -> None:
        """Open the connection (strict host keys); raises a TransportError."""

    def run(
        self,
        command: str,
        *,
        on_lines: LinesCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        """Run `command` under bash on the host; never raises for a non-zero exit.

        Lines are delivered to `on_lines` as they arrive, a batch per read (without the
        newline; a line that does not end in one ends at the command's end). On
        timeout or cancel the command's whole process group is terminated on the host
        before CommandTimedOut / Cancelled is raised. `env` values are passed without
        appearing in any command line (safe for secrets); `stdin` is written then
        closed (no stdin otherwise: the remote side never waits for input).
        """
        ...

    def upload(self, local: Path, remote: str, *, cancel: threading.Event | None = None
               ) -> None:
        """Copy a local file to a remote path (binary-safe)."""

    def open_tcp(self, address: str, port: int, timeout: float) -> TcpStream:
        """A TCP connection to address:port made FROM the host (SSH: a direct-tcpip
        channel on this connection), so a check needs no open port towards us.
        Raises TcpRefused when the host could not connect, ConnectionLost when the
        host itself is gone."""
        ...

    def close(self) -> None:
        """Close the connection; safe to call twice and from another thread."""
