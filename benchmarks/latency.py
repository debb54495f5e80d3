"""A latency-bound deploy: every host reached through a relay adding a fixed delay each way.

The loopback fleet is CPU-bound; a real fleet is latency-bound (every round trip costs
milliseconds). This kernel has no netem, so benchmarks/relay.py (its own process) listens
on each host's address at port 2300 and forwards to the host's sshd, delaying every
chunk `delay` seconds each way. A known_hosts for the relayed `[addr]:2300` names carries
each host's real key, so host keys stay strict. deploytui (CLI) and the bare Fabric
deploy script then deploy to the same hosts through the relay, alternating; reported:
medians and deploytui / Fabric (goal ≤ 0.8 at 30 hosts: every round trip saved shows).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import ROOT, log, ratio, release_id_unique
from benchmarks.known_hosts import tools_sleep_to_next_second
from benchmarks.meter import Measured, run_measured, summary

RELAY_PORT = 2300
DT = "/srv/app/bench-latency-deploytui"
FAB = "/srv/app/bench-latency-fabric"


def start_relay(fleet: Any, hosts: list[Any], delay: float, workdir: Path
                ) -> tuple[subprocess.Popen[str], Path]:
    """The relay process and a known_hosts naming each relayed address with its host's key."""
    pairs = [f"{h.address}:{RELAY_PORT}={h.address}:{h.port}" for h in hosts]
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.relay", "--delay", str(delay),
                             *pairs], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL,  # asyncio's noise when it is killed
                            env=tools.env(workdir))
    if proc.stdout is None or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the latency relay did not start")
    keys = {}
    for line in Path(fleet.known_hosts).read_text().splitlines():
        if line.strip():
            name, rest = line.split(" ", 1)
            keys[name] = rest
    relayed = workdir / "known_hosts.relayed"
    relayed.write_text("".join(f"[{h.address}]:{RELAY_PORT} {keys[f'[{h.address}]:{h.port}']}\n"
                               for h in hosts))
    return proc, relayed


def run(fleet: Any, *, hosts: int, runs: int, delay: float = 0.025, warm_up: bool = True
        ) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-lat-"))
    relay = None
    try:
        chosen = fleet.hosts[:hosts]
        relay, relayed = start_relay(fleet, chosen, delay, workdir)
        return _run(fleet, chosen, runs, delay, relayed, workdir, warm_up)
    finally:
        if relay is not None:
            relay.kill()
            relay.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, hosts: list[Any], runs: int, delay: float, relayed: Path,
         workdir: Path, warm_up: bool) -> dict[str, Any]:
    data = fleet.config(hosts=hosts, build=tools.BUILD, roles={"web": {}}, deploy_to=DT)
    for spec in data["projects"]["app"]["environments"]["prod"]["hosts"].values():
        spec["port"] = RELAY_PORT
    data["ssh"]["known_hosts"] = str(relayed)
    config = fleet.write_config(workdir / "latency.yml", data)
    env = tools.env(workdir / "data")
    sha = tools.head_sha(fleet)
    used: set[str] = set()

    def deploy(tool: str) -> Measured:
        if tool == "deploytui":
            tools_sleep_to_next_second()
            return run_measured(tools.deploytui(config, *tools.DEPLOY),
                                env=env, timeout=300)
        return run_measured(tools.fabric_deploy(fleet, hosts, FAB, release_id_unique(used), sha,
                                                known_hosts=relayed, port=RELAY_PORT),
                            env=env, timeout=300)

    n = len(hosts)
    log(f"latency: {n} hosts through a {delay * 1000:.0f} ms-each-way relay")
    for tool in ("deploytui", "fabric") if warm_up else ():
        m = deploy(tool)
        if not m.ok:
            raise RuntimeError(f"warm-up {tool} through the relay failed: {m.stderr_tail[-400:]}")
    samples: dict[str, list[Measured]] = {"deploytui": [], "fabric": []}
    for r in range(runs):
        for tool in ("deploytui", "fabric") if r % 2 == 0 else ("fabric", "deploytui"):
            samples[tool].append(deploy(tool))
        log(f"latency round {r + 1}/{runs}: deploytui {samples['deploytui'][-1].wall:.2f}s, "
            f"fabric {samples['fabric'][-1].wall:.2f}s")
    by = {t: summary(s) for t, s in samples.items()}
    return {"hosts": n, "delay_ms_each_way": delay * 1000, "deploytui": by["deploytui"],
            "fabric": by["fabric"],
            "ratio": ratio(by["deploytui"]["median_wall"], by["fabric"]["median_wall"]),
            "samples": {t: [s.record() for s in v] for t, v in samples.items()}}
