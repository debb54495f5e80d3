"""paramiko's and the socket's exceptions, said in one line a user can act on.

A failure is told about the server that failed: the host itself, or the jump host in
front of it (then the message starts `jump host NAME:`), never the host for what its
bastion did.
"""

from __future__ import annotations

import socket

import paramiko

from deploytui.engine.hosts.hostkeys import RevokedKeySeen, UnknownKeySeen, fingerprint
from deploytui.engine.hosts.keys import KeyUnusable
from deploytui.engine.hosts.transport import (
    AuthFailed,
    HostKeyChanged,
    HostKeyRevoked,
    HostKeyUnknown,
    JumpHostFailed,
    TransportError,
    Unreachable,
)

DROPPED = "connection dropped during the handshake — its MaxStartups limit?"


class HandshakeDropped(paramiko.SSHException):
    """The server closed or reset the connection before the handshake ended: sshd does
    that to connections past its MaxStartups. Worth a retry after a pause."""


class HopError(Exception):
    """A jump host failed; carries what is needed to tell each host behind it."""

    def __init__(self, label: str, where: str, user: str, cause: BaseException) -> None:
        super().__init__(f"jump host {label}: {cause}")
        self.label = label
        self.where = where
        self.user = user
        self.cause = cause


class NoKeyOffered(paramiko.AuthenticationException):
    """paramiko had no key to offer ("No authentication methods available"); `agent` is
    the agent socket asked (None: none), `answered` whether it answered."""

    def __init__(self, agent: str | None = None, answered: bool = False) -> None:
        super().__init__("No authentication methods available")
        self.agent = agent
        self.answered = answered


class TooManyKeys(paramiko.AuthenticationException):
    """The server hung up mid-authentication after `offered` keys: sshd's MaxAuthTries
    (OpenSSH says "Too many authentication failures"; paramiko "No existing session")."""

    def __init__(self, offered: int) -> None:
        super().__init__(f"{offered} keys offered")
        self.offered = offered


class KexTimedOut(paramiko.SSHException):
    """The server sent its banner but the key exchange did not end within the connect
    timeout. paramiko's start_client stops waiting without a word and its next step says
    "No existing session", the words of a server that hung up (TooManyKeys)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"the key exchange did not finish within {timeout:g}s"
                         " (the host or this machine is overloaded, or a middlebox stalls"
                         " it); raise ssh.connect_timeout if the host is only slow")
        self.timeout = timeout


AUTH_ADVICE = ("check ssh.identity_file (or ssh_config's IdentityFile), IdentitiesOnly,"
               " and the keys in your agent (ssh-add -l)")


def is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, HandshakeDropped | ConnectionResetError)


def translate(exc: BaseException, name: str, where: str, user: str) -> TransportError:
    """The TransportError for host `name` (reached at `where` as `user`)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, HopError):
        return _translate(exc.cause, name, exc.where, exc.user, exc.label)
    return _translate(exc, name, where, user, None)


def _translate(exc: BaseException, name: str, where: str, user: str,
               hop: str | None) -> TransportError:
    if isinstance(exc, UnknownKeySeen):
        return HostKeyUnknown(name, exc.name, exc.key.get_name(), fingerprint(exc.key),
                              exc.key.get_base64(), hop=hop)
    if isinstance(exc, RevokedKeySeen):
        return HostKeyRevoked(name, fingerprint(exc.key), hop=hop)
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyChanged(name, fingerprint(exc.expected_key), fingerprint(exc.key),
                              hop=hop)
    if isinstance(exc, KeyUnusable):
        return JumpHostFailed(name, hop, str(exc)) if hop else AuthFailed(name, str(exc))
    if isinstance(exc, paramiko.PasswordRequiredException):
        reason = "the identity file is encrypted; set ssh.passphrase"
        return JumpHostFailed(name, hop, reason) if hop else AuthFailed(name, reason)
    if isinstance(exc, paramiko.AuthenticationException):
        reason = f"authentication failed: {_auth_reason(exc, user, where)}"
        return JumpHostFailed(name, hop, reason) if hop else AuthFailed(name, reason)
    reason = f"{where}: {_network_reason(exc)}"
    return JumpHostFailed(name, hop, reason) if hop else Unreachable(name, reason)


def _auth_reason(exc: paramiko.AuthenticationException, user: str, where: str) -> str:
    if isinstance(exc, NoKeyOffered):
        if exc.agent is None:
            agent = "no agent (SSH_AUTH_SOCK unset, or IdentityAgent none)"
        elif exc.answered:
            agent = f"the agent at {exc.agent} holds no key"
        else:
            agent = f"the agent at {exc.agent} does not answer"
        return (f"no key to offer as {user}@{where}: no identity_file, and {agent};"
                " set ssh.identity_file, or ssh-add a key to the agent"
                " (SSH_AUTH_SOCK, or ssh_config's IdentityAgent)")
    if isinstance(exc, TooManyKeys):
        return (f"the server hung up after {exc.offered} keys were offered as {user}@{where}"
                " (OpenSSH: Too many authentication failures; sshd's MaxAuthTries);"
                " set ssh.identity_file with IdentitiesOnly yes in ssh_config, or keep"
                " fewer keys in the agent (ssh-add -l)")
    return (f"the server accepted none of the offered keys (publickey) as {user}@{where};"
            f" {AUTH_ADVICE}")


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, HandshakeDropped | ConnectionResetError):
        return DROPPED
    if isinstance(exc, KexTimedOut):
        return str(exc)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "connection timed out (the host is down, or a firewall drops the packets)"
    if isinstance(exc, socket.gaierror):
        reason = (exc.strerror or str(exc)).lower()
        return (f"cannot resolve the host name: {reason} (DNS); check the host's address:"
                " or ssh_config's HostName")
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError
                  | ConnectionRefusedError):
        return "connection refused (nothing listens there: is sshd running, is the port right?)"
    if isinstance(exc, paramiko.ChannelException):
        return f"could not forward a connection to it ({exc.text.lower()})"
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    text = str(exc) or type(exc).__name__
    if "banner" in text.lower():
        return "no SSH banner (host not answering)"
    return text
