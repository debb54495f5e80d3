"""Freezes: when a deploy or a catch-up is refused, and `deploytui freeze|unfreeze`.

Two sources, one answer. The environment's `freeze:` windows (config) are checked
before anything is sent; the ad-hoc freeze on the hosts (remote/freeze.py) is read in
the lock command the operation sends anyway. Either refuses a deploy or a catch-up
with the reason and the end of the freeze, unless `--force-freeze`; the override is
then in the fleet record, the journal and the notification. A rollback is never
refused (it is how an incident ends); its record says it ran during a freeze.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from deploytui.config.model import Config, Environment, Project
from deploytui.engine.clock import utc_iso
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.operations.releases import select_names
from deploytui.engine.remote import fleet_log
from deploytui.engine.remote.fleet_log import FleetRecord, ci_actor
from deploytui.engine.remote.freeze import AdHocFreeze, clear_command, split_output, write_command
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LOCK_TIMEOUT, local_user


@dataclass(frozen=True)
class Frozen:
    """A freeze in force: why, until when, and where it comes from."""

    reason: str
    ends: datetime
    source: str  # "config" | "set by USER"

    def describe(self) -> str:
        return f"{self.reason} (until {when(self.ends)}; {self.source})"


def when(moment: datetime) -> str:
    """`2027-01-04 08:00 CET`: in the zone the window was written in."""
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def now_utc() -> datetime:
    return datetime.now(UTC)


def configured_freeze(environment: Environment, now: datetime | None = None) -> Frozen | None:
    """The first `freeze:` window of the environment that holds now, else None."""
    moment = now or now_utc()
    for window in environment.freeze:
        ends = window.ends(moment)
        if ends is not None:
            return Frozen(window.reason, ends, "config")
    return None


def adhoc_frozen(freeze: AdHocFreeze | None, now: datetime | None = None) -> Frozen | None:
    if freeze is None:
        return None
    ends = freeze.ends(now or now_utc())
    return Frozen(freeze.reason, ends, f"set by {freeze.user or 'unknown'}") if ends else None


def refusal(project: str, environment: str, frozen: Frozen) -> str:
    """The one line a refused deploy prints."""
    return (f"{project}/{environment} is frozen: {frozen.reason}; the freeze ends"
            f" {when(frozen.ends)} ({frozen.source}); deploy anyway with --force-freeze")


def who() -> str:
    """The fleet record's and the freeze's `user`: the CI's actor where set."""
    return ci_actor() or local_user()


@dataclass
class FreezeResult:
    """`deploytui freeze|unfreeze` on every host: which were written, which not."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # host -> one line
    removed: dict[str, AdHocFreeze] = field(default_factory=dict)  # unfreeze: what was there
    record_failed: list[str] = field(default_factory=list)  # hosts whose record did not append

    @property
    def ok(self) -> bool:
        return not self.failed


def set_freeze(config: Config, project: str | Project, environment: str | Environment, *,
               until: datetime, reason: str, user: str | None = None,
               factory: TransportFactory | None = None) -> FreezeResult:
    """Write the ad-hoc freeze on every host (one command each, the record with it)."""
    proj, env = select_names(config, project, environment)
    freeze = AdHocFreeze(until=utc_iso(until.timestamp()), reason=reason,
                         user=user or who(), at=utc_iso())
    record = FleetRecord.now("freeze", proj.name, env.name, user or local_user(),
                             ref=f"until {freeze.until}", note=reason)
    return _on_every_host(config, proj, env, factory, record,
                          lambda layout: write_command(layout, freeze))


def clear_freeze(config: Config, project: str | Project, environment: str | Environment, *,
                 user: str | None = None, factory: TransportFactory | None = None
                 ) -> FreezeResult:
    """Remove the ad-hoc freeze from every host; says whose it was."""
    proj, env = select_names(config, project, environment)
    record = FleetRecord.now("unfreeze", proj.name, env.name, user or local_user())
    return _on_every_host(config, proj, env, factory, record, clear_command)


_FLEET = "Z-FLEET-FAILED"


def _on_every_host(config: Config, project: Project, env: Environment,
                   factory: TransportFactory | None, record: FleetRecord, command
                   ) -> FreezeResult:
    result = FreezeResult()
    layouts = {h.name: Layout(project.host_deploy_to(h)) for h in env.hosts}

    def one(host, _transport) -> str:
        transport = pool.transports.get(host.name) or pool.open(host)
        layout = layouts[host.name]
        text = (f"{command(layout)} || exit 1; {{ {fleet_log.append_command(layout, record)}; }}"
                f" 2>/dev/null || echo {_FLEET}")
        res = transport.run(text, capture=True, timeout=LOCK_TIMEOUT)
        if not res.ok:
            raise RuntimeError(res.last_line() or f"exit status {res.exit_code}")
        return res.stdout

    pool = HostPool(list(env.hosts), factory or transport_factory(config),
                    max_parallel=config.ssh.max_parallel)
    with pool:  # each host connected and written in one go: one round
        outcomes = pool.map(one, need_transport=False, step=record.operation)
    for name in layouts:
        if name in outcomes.failed:
            result.failed[name] = outcomes.failed[name].reason
        else:
            output = outcomes[name].value or ""
            result.done.append(name)
            was, _ = split_output(output)
            if was is not None:
                result.removed[name] = was
            if _FLEET in output:
                result.record_failed.append(name)
    return result
