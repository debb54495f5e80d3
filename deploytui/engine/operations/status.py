"""An environment's state as the console refreshes it: each host's lock and releases.

The ad-hoc freeze is read in the same command, so the console shows it at no cost.
The refresh runs periodically, so it must stay cheap on the hosts: the lock read carries
the release scan as its probe (remote/lock.read_lock_and_probe, the way a deploy's lock
carries its preflight), one remote command per host, and the scan leaves out what a
status does not show (per-release `du`, free disk; the revisions.log tail except for a
pull project, whose history is its releases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deploytui.config.model import Environment, Host, Project
from deploytui.engine.errors import failure_line
from deploytui.engine.hosts.pool import HostPool
from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.operations.freeze import Frozen, adhoc_frozen, configured_freeze
from deploytui.engine.operations.releases import FleetReleases, build_fleet
from deploytui.engine.remote.freeze import AdHocFreeze, split_output
from deploytui.engine.remote.freeze import read_text as freeze_text
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LockInfo, read_lock_and_probe
from deploytui.engine.remote.scan import HostScan, is_scan_output, parse_scan, scan_command


@dataclass
class FleetStatus:
    """Lock holders of the hosts read, and every host's releases merged as a listing."""

    locks: dict[str, LockInfo]  # only the locked hosts
    fleet: FleetReleases  # an unread host carries its one-line error there
    frozen: Frozen | None = None  # a freeze in force (config window or ad-hoc on a host)


def status_command(project: Project, layout: Layout) -> str:
    """The scan a status needs (see the module docstring)."""
    return scan_command(layout, sizes=False, log=project.strategy == "pull")


def read_status(pool: HostPool, project: Project, environment: Environment,
                unreachable: Mapping[str, str] | None = None) -> FleetStatus:
    """Lock and releases of every connected host of `environment`, one command each;
    `unreachable` (host -> one line) says why the others are not connected."""

    def read(host: Host, transport: Transport
             ) -> tuple[LockInfo | None, HostScan, AdHocFreeze | None]:
        layout = Layout(project.host_deploy_to(host))
        holder, output = read_lock_and_probe(  # the ad-hoc freeze in the same command
            transport, layout, f"{freeze_text(layout)}\n{status_command(project, layout)}")
        freeze, output = split_output(output)
        if not is_scan_output(output):
            raise TransportError(host.name, "listing releases: "
                                            f"{failure_line(output) or 'no output'}")
        return holder, parse_scan(host.name, layout.deploy_to, output), freeze

    connected = [h for h in environment.hosts if h.name in pool.transports]
    outcomes = pool.map(read, connected, step="status")
    errors = {h.name: (unreachable or {}).get(h.name, f"{h.name}: not connected")
              for h in environment.hosts if h.name not in pool.transports}
    errors.update((name, str(failure)) for name, failure in outcomes.failed.items())
    locks: dict[str, LockInfo] = {}
    scans: dict[str, HostScan] = {}
    frozen = configured_freeze(environment)
    for name, (holder, scan, freeze) in outcomes.succeeded.items():
        scans[name] = scan
        if holder is not None:
            locks[name] = holder
        frozen = frozen or adhoc_frozen(freeze)
    fleet = build_fleet(project.name, environment.name, [h.name for h in environment.hosts],
                        scans, errors)
    return FleetStatus(locks, fleet, frozen)
