"""What agent forwarding costs: a 30-host deploy with and without it, and per command.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/forwarding.py [--hosts 30] [--runs 4]

A real ssh-agent (tests/agent_fleet.py) holds a key that one extra fleet host, serving the
sample repo over SSH, accepts. Three deploys of the same commit (release strategy, the
CLI as its own process, each into its own deploy_to), alternated A B C / C B A:

* off      the repo as a path the hosts read directly, no forwarding: the floor;
* on       the same, with ssh.forward_agent: true (every channel asks for the agent;
           nothing uses it): what asking costs;
* via-agent  the repo at deployer@<server>:repo.git, forwarding on: every host's fetch
           goes through the forwarded agent to the git server (work the floor does not do).

Then per command: two connections to one host, one forwarding, one not, commands
alternated between them one by one (through the runner, then on channels of their
own). Medians; ratios to the floor measured in the same run.
Results: benchmarks/results/forwarding-<UTC stamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from benchmarks import tools  # noqa: E402
from benchmarks.common import log, machine, median, ratio  # noqa: E402
from benchmarks.meter import run_measured, summary  # noqa: E402

MODES = ("off", "on", "via-agent")
DEPLOY_TO = {"off": "/srv/app/fw-off", "on": "/srv/app/fw-on", "via-agent": "/srv/app/fw-via"}


def deploys(fleet: Any, server: Any, n: int, runs: int, workdir: Path, env: dict[str, str]
            ) -> dict[str, Any]:
    configs = {
        "off": tools.write_config(fleet, workdir / "off.yml", n, deploy_to=DEPLOY_TO["off"],
                                  ssh={"forward_agent": False}),
        "on": tools.write_config(fleet, workdir / "on.yml", n, deploy_to=DEPLOY_TO["on"],
                                 ssh={"forward_agent": True}),
        "via-agent": tools.write_config(fleet, workdir / "via.yml", n,
                                        deploy_to=DEPLOY_TO["via-agent"], repo=server.url,
                                        ssh={"forward_agent": True}),
    }
    samples: dict[str, list[Any]] = {m: [] for m in MODES}
    for mode in MODES:  # warm-up: each clones its mirror once
        warm = run_measured(tools.deploytui(configs[mode], *tools.DEPLOY), env=env)
        if not warm.ok:
            raise RuntimeError(f"{mode} warm-up deploy failed: {warm.record()}")
    for r in range(runs):
        order = MODES if r % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            time.sleep(1.02 - time.time() % 1)  # release ids are per second
            before = tools.current_release(fleet.hosts[0], DEPLOY_TO[mode])
            samples[mode].append(run_measured(tools.deploytui(configs[mode], *tools.DEPLOY),
                                              env=env))
            if samples[mode][-1].ok:
                tools.require_switch(fleet.hosts[0], DEPLOY_TO[mode], before, mode)
        log("forwarding round " + ", ".join(f"{m} {samples[m][-1].wall:.2f}s" for m in MODES))
    by = {m: summary(s) for m, s in samples.items()}
    return {"hosts": n, **{m: by[m] for m in MODES},
            "on_over_off": ratio(by["on"]["median_wall"], by["off"]["median_wall"]),
            "via_agent_over_off": ratio(by["via-agent"]["median_wall"],
                                        by["off"]["median_wall"]),
            "samples": {m: [s.record() for s in v] for m, v in samples.items()}}


def per_command(fleet: Any, count: int) -> dict[str, Any]:
    """Two connections to one host held open at once, one forwarding, one not; each
    command timed alone, the two alternated command by command (off on, on off, ...), so
    a busy machine's drift falls on both alike. Median milliseconds per command."""
    from deploytui.config import load_config_text
    from deploytui.engine.hosts.pool import transport_factory

    transports = {}
    for label, forward in (("off", False), ("on", True)):
        data = fleet.config(1)
        data["ssh"]["forward_agent"] = forward
        config = load_config_text(json.dumps(data), "bench.yml")
        transports[label] = transport_factory(config)(
            config.projects["app"].environments["prod"].hosts[0])
    times: dict[str, list[float]] = {}
    try:
        for transport in transports.values():
            transport.connect()
            transport.run("true")  # the runner is up
        for path, n, kw in (("runner", count, {}), ("channel", count // 4, {"stdin": b""})):
            command = "true" if path == "runner" else "cat >/dev/null"
            for i in range(n):
                for label in (("off", "on") if i % 2 == 0 else ("on", "off")):
                    began = time.perf_counter()
                    transports[label].run(command, **kw)
                    times.setdefault(f"{path}-{label}", []).append(
                        (time.perf_counter() - began) * 1000)
    finally:
        for transport in transports.values():
            transport.close()
    med = {k: median(v) for k, v in times.items()}
    return {"commands": count, "median_ms": med,
            "runner_on_over_off": ratio(med["runner-on"], med["runner-off"]),
            "channel_on_over_off": ratio(med["channel-on"], med["channel-off"]),
            "samples_ms": times}


def report(result: dict[str, Any]) -> str:
    d, c = result["deploy"], result["per_command"]
    lines = [f"# Agent forwarding: cost ({result['stamp']})", "",
             f"machine: {result['machine'].get('nproc')} CPUs, load at start"
             f" {result['machine'].get('load_average_at_start')}", "",
             f"## {d['hosts']}-host deploy (CLI process, medians of {d['off']['runs']})", "",
             "| mode | median wall s | median CPU s | vs off |", "|---|---|---|---|"]
    for mode in MODES:
        s = d[mode]
        vs = ratio(s["median_wall"], d["off"]["median_wall"])
        lines.append(f"| {mode} | {s['median_wall']:.2f} | {s['median_cpu']:.2f} |"
                     f" {vs:.3f} |" if s["median_wall"] else f"| {mode} | failed | | |")
    lines += ["", f"## per command, two connections alternated ({c['commands']} runner"
                  f" commands, {c['commands'] // 4} on channels; medians)", "",
              "| path | off ms | on ms | on/off |",
              "|---|---|---|---|"]
    for path in ("runner", "channel"):
        off, on = c["median_ms"][f"{path}-off"], c["median_ms"][f"{path}-on"]
        lines.append(f"| {path} | {off:.2f} | {on:.2f} | {on / off:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from agent_fleet import GitServer, SSHAgent, keygen, public_line
    from fleet import Fleet

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=30)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--commands", type=int, default=200)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-fw-"))
    fleet = Fleet.start(args.hosts + 1)
    agent = SSHAgent(workdir / "agent")
    try:
        key = keygen(workdir / "agent-key")
        agent.add(key)
        server = GitServer(fleet, fleet.hosts[-1], fleet.hosts[:-1])
        server.setup()
        server.authorize(public_line(key))
        os.environ["SSH_AUTH_SOCK"] = str(agent.socket)
        os.environ["GIT_SSH_COMMAND"] = server.local_git_ssh()
        env = tools.env(workdir / "data")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        result = {"stamp": stamp, "machine": machine(),
                  "deploy": deploys(fleet, server, args.hosts, args.runs, workdir, env),
                  "per_command": per_command(fleet, args.commands)}
    finally:
        agent.stop()
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"forwarding-{stamp}.json").write_text(json.dumps(result, indent=1))
    text = report(result)
    (args.out / f"forwarding-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
