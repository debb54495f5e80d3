"""`deploytui check app prod --connect` on N hosts (default 30) against the least any
tool can do to reach them: a bare Fabric `ThreadingGroup(...).run("true")`
(floors/bare_fabric.py `run`), each its own process, alternated, medians of --runs.

The check does much more than `true` on each host (bash, git, tar, deploy_to, disk,
the lock, `git ls-remote` of the repo FROM the host), but in one command per host; the
question is whether that stays about one round trip per host. Reported besides the
ratio: SSH connections and session channels per host per run (sshd's `Accepted
publickey` / `Starting session` lines), and the commands deploytui sent per host
(counted in-process around the real transports), plus `check` without `--connect`
(start-up and config only) to show what of the wall time is the interpreter's.

    sudo PYTHONPATH=.:tests .venv/bin/python benchmarks/check_connect.py [--hosts 30] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks import tools
from benchmarks.common import ROOT
from benchmarks.meter import run_measured

sys.path.insert(0, str(ROOT / "tests"))


def per_host(hosts, before: list[tuple[int, int]]) -> tuple[set[int], set[int]]:
    now = [(h.connections(), h.sshd_log().count("Starting session:")) for h in hosts]
    return ({n[0] - b[0] for n, b in zip(now, before, strict=True)},
            {n[1] - b[1] for n, b in zip(now, before, strict=True)})


def snapshot(hosts) -> list[tuple[int, int]]:
    return [(h.connections(), h.sshd_log().count("Starting session:")) for h in hosts]


def commands_per_host(config_path: Path) -> dict[str, int]:
    """One check in this process, every transport's run() counted."""
    from deploytui.config import load_config
    from deploytui.engine.hosts.pool import transport_factory
    from deploytui.engine.operations.readiness import check_environment

    config = load_config(config_path)
    project = config.projects["app"]
    make, counts, lock = transport_factory(config), {}, threading.Lock()

    def factory(host):
        transport = make(host)
        run = transport.run

        def counted(command, **kw):
            with lock:
                counts[host.name] = counts.get(host.name, 0) + 1
            return run(command, **kw)

        transport.run = counted
        return transport

    found = check_environment(config, project, project.environments["prod"], factory=factory)
    assert found.ok, [p.line() for p in found.problems]
    return counts


def main() -> None:
    from fleet import Fleet

    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    fleet = Fleet.start(args.hosts)
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-check-"))
    try:
        config = fleet.write_config(workdir / "c.yml", fleet.config(args.hosts))
        # the same hosts named in an Included ssh_config file: one ssh -G per host
        (workdir / "conf.d").mkdir()
        (workdir / "conf.d" / "fleet.conf").write_text("".join(
            f"Host {h.address}\n  User {fleet.user}\n  IdentityFile {fleet.client_key}\n"
            for h in fleet.hosts))
        (workdir / "ssh_config").write_text(f"Include {workdir}/conf.d/*.conf\n")
        with_config = fleet.config(args.hosts)
        with_config["ssh"]["config"] = str(workdir / "ssh_config")
        config_b = fleet.write_config(workdir / "b.yml", with_config)
        env = tools.env(workdir / "data")
        argv = {"check --connect": tools.deploytui(config, "check", "app", "prod", "--connect"),
                "check --connect, ssh_config with Include": tools.deploytui(
                    config_b, "check", "app", "prod", "--connect"),
                "fabric run true": tools.fabric(fleet, fleet.hosts, "run", "--command", "true"),
                "check (no --connect)": tools.deploytui(config, "check", "app", "prod")}
        samples: dict[str, list] = {name: [] for name in argv}
        channels: dict[str, set[int]] = {name: set() for name in argv}
        logins: dict[str, set[int]] = {name: set() for name in argv}
        for name in argv:  # warm-up (page cache, the host's git)
            run_measured(argv[name], env=env, timeout=120)
        for r in range(args.runs):
            order = list(argv) if r % 2 == 0 else list(reversed(argv))
            for name in order:
                before = snapshot(fleet.hosts)
                measured = run_measured(argv[name], env=env, timeout=120)
                assert measured.ok, (name, measured.stdout_tail, measured.stderr_tail)
                got_logins, got_channels = per_host(fleet.hosts, before)
                logins[name] |= got_logins
                channels[name] |= got_channels
                samples[name].append(measured)
        counts = commands_per_host(config)
        load = os.getloadavg()[0]
        rows = {}
        for name, measured in samples.items():
            rows[name] = {
                "median_wall": statistics.median(m.wall for m in measured),
                "median_cpu": statistics.median(m.cpu for m in measured),
                "median_machine_cpu": statistics.median(m.machine_cpu for m in measured),
                "logins_per_host": sorted(logins[name]),
                "channels_per_host": sorted(channels[name])}
        floor = rows["fabric run true"]["median_wall"]
        print(f"{args.hosts} hosts, {args.runs} runs alternated, load {load:.2f}")
        print("| tool | wall s | ÷ Fabric true | process CPU s | machine CPU s |"
              " logins/host | channels/host |")
        print("|---|---|---|---|---|---|---|")
        for name, row in rows.items():
            print(f"| {name} | {row['median_wall']:.2f} | {row['median_wall'] / floor:.2f} |"
                  f" {row['median_cpu']:.2f} | {row['median_machine_cpu']:.2f} |"
                  f" {row['logins_per_host']} | {row['channels_per_host']} |")
        print("commands per host through the transport (in-process):"
              f" {sorted(set(counts.values()))} on {len(counts)} hosts")
        print(json.dumps({"hosts": args.hosts, "runs": args.runs, "load": load, "rows": rows,
                          "commands_per_host": sorted(set(counts.values()))}))
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
