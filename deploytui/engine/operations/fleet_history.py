"""`history --fleet`: every host's record of operations, one entry per operation id.

One command per host, all hosts at once (each host connected and read in the same
worker), so the answer costs one round whatever the fleet's size. Hosts that do not
answer are named, never fatal: the others' records are still shown. The same
operation seen on several hosts is one entry, with each host's outcome; the command
layer merges in the local journal by the same id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deploytui.config.model import Config, Environment, Project
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.operations.releases import select_names
from deploytui.engine.remote.fleet_log import FleetRecord, parse_log, read_command
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LOCK_TIMEOUT


@dataclass
class FleetEntry:
    """One operation as the fleet recorded it; `hosts`: host -> outcome recorded there."""

    record: FleetRecord
    hosts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self.record)
        data["duration"] = round(self.record.duration, 3)
        data["hosts"] = dict(self.hosts)
        return data


@dataclass
class FleetHistory:
    entries: list[FleetEntry] = field(default_factory=list)  # newest first
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> one line
    hosts: list[str] = field(default_factory=list)  # the hosts asked


def merge_records(per_host: dict[str, list[FleetRecord]], limit: int = 100) -> list[FleetEntry]:
    """One entry per operation id, newest first: by start time (to the second), then by
    the place in the log of the first host that has it (appends keep their order)."""
    entries: dict[str, FleetEntry] = {}
    place: dict[str, int] = {}
    for host, records in per_host.items():
        for index, record in enumerate(records):
            entry = entries.get(record.id)
            if entry is None:
                entry = entries[record.id] = FleetEntry(record)
                place[record.id] = index
            entry.hosts[host] = record.outcome
    ordered = sorted(entries.values(), key=lambda e: (e.record.started, place[e.record.id]),
                     reverse=True)
    return ordered[:limit]


def read_fleet_history(config: Config, project: str | Project, environment: str | Environment,
                       *, factory: TransportFactory | None = None, limit: int = 100
                       ) -> FleetHistory:
    """Read every host's fleet record of the environment; never raises for a host."""
    proj, env = select_names(config, project, environment)
    layouts = {h.name: Layout(proj.host_deploy_to(h)) for h in env.hosts}
    history = FleetHistory(hosts=list(layouts))

    with HostPool(env.hosts, factory or transport_factory(config),
                  max_parallel=config.ssh.max_parallel) as pool:

        def read(host, _transport) -> list[FleetRecord]:
            transport: Transport = pool.transports.get(host.name) or pool.open(host)
            result = transport.run(read_command(layouts[host.name]), capture=True,
                                   timeout=LOCK_TIMEOUT)
            if not result.ok:
                raise TransportError(host.name, f"reading the fleet record:"
                                                f" {result.last_line()}")
            return parse_log(result.stdout)

        outcomes = pool.map(read, need_transport=False, step="read fleet record")
    per_host: dict[str, list[FleetRecord]] = {}
    for name in layouts:
        outcome = outcomes[name]
        if outcome.failure is not None:
            history.unreachable[name] = outcome.failure.reason
        else:
            per_host[name] = list(outcome.value or [])
    history.entries = merge_records(per_host, limit)
    return history
