"""What the fleet's record costs: the append riding on the unlock, and `history --fleet`.

    sudo PYTHONPATH=. .venv/bin/python -m benchmarks.fleet_record [--hosts 10] [--runs 40]

1. Append. Over one connection per host (as an operation's last command runs), the
   unlock command alone (the floor) and the unlock with the record appended before it
   (what every operation now sends; with the size check one time in 16), alternated,
   on every host at once; medians and the ratio. The record adds no command and no
   round: only shell work in a command that is sent anyway (the `wc -c` of the size
   check is its one process).
2. Read. `history --fleet` (one command per host, connect included) against a floor
   measured in the same run: connecting the same hosts and running `true`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    from fleet import Fleet

    from deploytui.config import load_config_text
    from deploytui.engine.hosts.pool import HostPool, transport_factory
    from deploytui.engine.operations.fleet_history import read_fleet_history
    from deploytui.engine.remote import fleet_log
    from deploytui.engine.remote.fleet_log import FleetRecord
    from deploytui.engine.remote.layout import Layout
    from deploytui.engine.remote.lock import LockInfo, release_command

    fleet = Fleet.start(args.hosts)
    try:
        config = load_config_text(json.dumps(fleet.config(args.hosts)))
        env = config.projects["app"].environments["prod"]
        layout = Layout("/srv/app")
        info = LockInfo(project="app", environment="prod")
        record = FleetRecord.now("deploy", "app", "prod", "bench@box", ref="main",
                                 sha="0" * 40, release="20260101000000")
        floor_cmd = release_command(layout, info)

        def riding(check: bool) -> str:
            append = fleet_log.append_command(layout, record, check_size=check)
            return f"{{ {append}; }} 2>/dev/null; {floor_cmd}"

        variants = {"unlock": floor_cmd, "unlock+record": riding(False),
                    "+size check (1/16)": riding(True)}
        samples: dict[str, list[float]] = {name: [] for name in variants}
        with HostPool(env.hosts, transport_factory(config), max_parallel=256) as pool:
            pool.connect()
            pool.map(lambda h, t: t.run("mkdir -p /srv/app/.deploytui", timeout=30))
            for i in range(args.runs):
                order = list(variants.items())
                for name, command in (order if i % 2 == 0 else order[::-1]):
                    start = time.perf_counter()
                    done = pool.map(lambda h, t, c=command: t.run(c, timeout=30))
                    samples[name].append(time.perf_counter() - start)
                    assert done.ok, done.failed
        reads: dict[str, list[float]] = {"connect+true": [], "history --fleet": []}
        for i in range(max(5, args.runs // 8)):
            order = ["connect+true", "history --fleet"]
            for name in (order if i % 2 == 0 else order[::-1]):
                start = time.perf_counter()
                if name == "history --fleet":
                    history = read_fleet_history(config, "app", "prod")
                    assert not history.unreachable and history.entries
                else:
                    with HostPool(env.hosts, transport_factory(config)) as pool:
                        pool.map(lambda h, t: (pool.transports.get(h.name) or pool.open(h)
                                               ).run("true", timeout=30),
                                 need_transport=False)
                reads[name].append(time.perf_counter() - start)
    finally:
        fleet.stop()

    def show(group: dict[str, list[float]], floor: str) -> None:
        base = statistics.median(group[floor])
        for name, values in group.items():
            med = statistics.median(values)
            print(f"  {name:18} median {med * 1000:7.1f} ms   ratio {med / base:.2f}")

    print(f"{args.hosts} hosts, {args.runs} runs each, alternated (the log grew to"
          f" {2 * args.runs} records per host)")
    show(samples, "unlock")
    show(reads, "connect+true")


if __name__ == "__main__":
    main()
