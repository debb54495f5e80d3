"""The OpenSSH client command line that reaches a host the way deploytui does.

`deploytui ssh` hands the user's terminal to OpenSSH's own `ssh` (its terminal
handling, escape keys, agent, window size), so that command line must hold the choices
deploytui makes itself: the destination as deploytui resolves it from ssh_config (host
name, port, user), the identity file, strict host keys against deploytui's known_hosts
and nothing else, and every ProxyJump hop held to the same rules. OpenSSH applies
command-line options to the destination only, never to ProxyJump's hops, so each hop is
an explicit `ProxyCommand` (`ssh ... -W host:port hop`) carrying the same options,
nested for a chain; a ProxyCommand from ssh_config is kept as it is.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass

from deploytui.config.model import Host, SSHSettings
from deploytui.engine.hosts.context import SSHContext


class NoSSHClient(Exception):
    """OpenSSH's `ssh` is not installed here; str() is one line."""


@dataclass(frozen=True)
class Endpoint:
    host: str  # what `ssh` connects to (the resolved HostName)
    port: int
    user: str


def _option(name: str, value: str) -> str:
    # ssh splits an -o value on whitespace unless it is double-quoted
    return f'-o{name}="{value}"' if any(c.isspace() for c in value) else f"-o{name}={value}"


def _proxy(argv: list[str]) -> str:
    """argv as a ProxyCommand: shell text, with ssh's %-tokens escaped."""
    return " ".join(shlex.quote(a) for a in argv).replace("%", "%%")


class OpenSSHCommand:
    """Builds `ssh` argvs for one config's hosts (ssh_config and known_hosts as read by
    deploytui's own connections)."""

    def __init__(self, settings: SSHSettings, *, context: SSHContext | None = None,
                 ssh: str | None = None) -> None:
        self.settings = settings
        self.context = context or SSHContext(settings)
        found = ssh or shutil.which("ssh")
        if not found:
            raise NoSSHClient("OpenSSH's `ssh` client is not installed (deploytui ssh "
                              "hands your terminal to it)")
        self.ssh = found

    def _common(self) -> list[str]:
        s = self.settings
        argv = ["-F", str(s.config) if s.config is not None and s.config.exists()
                else "/dev/null",
                _option("UserKnownHostsFile", str(s.known_hosts)),
                "-oGlobalKnownHostsFile=/dev/null",
                "-oStrictHostKeyChecking=" + ("accept-new" if s.host_keys == "accept-new"
                                               else "yes"),
                f"-oConnectTimeout={max(1, round(s.connect_timeout))}"]
        if s.identity_file is not None:
            argv += ["-i", str(s.identity_file)]
        return argv

    def _resolve(self, address: str, user: str | None = None, port: int | None = None
                 ) -> tuple[Endpoint, list[str], str | None]:
        """(endpoint, its ProxyJump hops, its ssh_config ProxyCommand or None)."""
        conn = self.context.connection(address, user=user, port=port)
        jump = str(conn.ssh_config.get("proxyjump", "none"))
        hops = [] if jump.lower() == "none" else [h.strip() for h in jump.split(",")
                                                   if h.strip()]
        proxy = conn.gateway if isinstance(conn.gateway, str) and conn.gateway else None
        return Endpoint(str(conn.host), int(conn.port), str(conn.user)), hops, proxy

    def _route(self, hops: list[str], proxy: str | None, target: Endpoint,
               depth: int = 0) -> str:
        """The ProxyCommand that reaches `target` through `hops` (last hop nearest)."""
        if not hops:
            return proxy.replace("%", "%%") if proxy else "none"
        if depth > 8:
            raise ValueError(f"ProxyJump chain through {hops[-1]} loops")
        hop, own_hops, own_proxy = self._resolve(hops[-1])
        first = not hops[:-1]  # the outermost hop may have jump hosts of its own
        outer = [h for h in own_hops if h != hops[-1]] if first else hops[:-1]
        via = self._route(outer, own_proxy if first else None, hop, depth + 1)
        argv = [self.ssh, *self._common(), "-p", str(hop.port), "-l", hop.user,
                f"-oProxyCommand={via}", "-W", f"{target.host}:{target.port}",
                *_destination(hops[-1], hop)]
        return _proxy(argv)

    def argv(self, host: Host, remote: str, *, tty: bool) -> list[str]:
        """`ssh` to `host` running `remote` (the login shell's -c text)."""
        endpoint, hops, proxy = self._resolve(host.address, host.user, host.port)
        return [self.ssh, "-t" if tty else "-T", *self._common(),
                "-p", str(endpoint.port), "-l", endpoint.user,
                f"-oProxyCommand={self._route(hops, proxy, endpoint)}",
                *_destination(host.address, endpoint), remote]


def _destination(name: str, endpoint: Endpoint) -> list[str]:
    """The name as written (an ssh_config alias keeps its own Host block: ForwardAgent,
    ControlMaster...) with the host name deploytui resolved for it; a ProxyJump spec
    such as user@host:port is not a destination ssh takes: the resolved name is."""
    if "@" in name or ":" in name or not name:
        return [endpoint.host]
    if name == endpoint.host:
        return [name]
    return [_option("HostName", endpoint.host), name]
