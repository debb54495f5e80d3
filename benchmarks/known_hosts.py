"""The same deploy with the fleet's small known_hosts vs a realistic 5,000-line one.

A long-lived ops laptop's known_hosts: mostly hashed entries (`|1|salt|hmac`, as
`HashKnownHosts yes` writes them), plain names and addresses, `[host]:port` entries,
comma-joined aliases, a few `@cert-authority` pattern lines and `@revoked` keys, key
types ed25519, ecdsa-sha2-nistp256 and ssh-rsa (real keys, generated here), comments and
blank lines. The fleet's own host entries are mixed in, half of them hashed, spread
through the file, so a lookup cannot stop early. deploytui (CLI, its own process) deploys
to the same hosts with `ssh.known_hosts` pointing at the small file, then at the big
one, alternating; reported: medians and big / small (goal: within 5%).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, ratio
from benchmarks.meter import Measured, run_measured, summary

DT = "/srv/app/bench-known-hosts"


def generate(fleet_known_hosts: str, lines: int, seed: int = 10) -> str:
    """A `lines`-line known_hosts holding every line of the fleet's file among realistic
    noise (tests/long_known_hosts.py makes the noise for the tests and this alike)."""
    from tests.long_known_hosts import hashed_name
    from tests.long_known_hosts import lines as noise_lines

    rng = random.Random(seed)
    own = [line for line in fleet_known_hosts.splitlines() if line.strip()]
    out = ["# managed by hand since 2019", "", *noise_lines(max(0, lines - len(own) - 2), seed)]
    # the fleet's own entries, spread through the file, every other one hashed
    for j, line in enumerate(own):
        host, rest = line.split(" ", 1)
        entry = f"{hashed_name(host)} {rest}" if j % 2 else line
        out.insert(rng.randrange(len(out) // 4, len(out) + 1), entry)
    return "\n".join(out) + "\n"


def run(fleet: Any, *, hosts: int, lines: int, runs: int, warm_up: bool = True
        ) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-kh-"))
    try:
        return _run(fleet, hosts, lines, runs, workdir, warm_up)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, n: int, lines: int, runs: int, workdir: Path, warm_up: bool
         ) -> dict[str, Any]:
    # the small file: the deployed hosts' own lines only (a fleet of 200 has 200 lines)
    names = {f"[{h.address}]:{h.port}" for h in fleet.hosts[:n]}
    own = "".join(line + "\n" for line in Path(fleet.known_hosts).read_text().splitlines()
                  if line.split(" ", 1)[0] in names)
    small, big = workdir / "known_hosts.small", workdir / "known_hosts.big"
    small.write_text(own)
    big.write_text(generate(own, lines))
    small_lines = len(names)
    configs = {
        "small": tools.write_config(fleet, workdir / "small.yml", n, deploy_to=DT,
                                    ssh={"known_hosts": str(small)}),
        "big": tools.write_config(fleet, workdir / "big.yml", n, deploy_to=DT,
                                  ssh={"known_hosts": str(big)}),
    }
    env = tools.env(workdir / "data")
    timeout = float(os.environ.get("DEPLOYTUI_BENCH_KH_TIMEOUT", "240"))
    samples: dict[str, list[Measured]] = {"small": [], "big": []}
    log(f"known_hosts: {n} hosts, {small_lines} vs {lines} lines")
    if warm_up:
        run_measured(tools.deploytui(configs["small"], *tools.DEPLOY), env=env)
    for r in range(runs):
        for which in ("small", "big") if r % 2 == 0 else ("big", "small"):
            tools_sleep_to_next_second()
            m = run_measured(tools.deploytui(configs[which], *tools.DEPLOY),
                             env=env, timeout=timeout)
            samples[which].append(m)
            if m.timed_out:
                log(f"known_hosts: the {which} file's deploy overran {timeout:.0f} s")
        log(f"known_hosts round {r + 1}/{runs}: small {samples['small'][-1].wall:.2f}s, "
            f"big {samples['big'][-1].wall:.2f}s")
        if any(s.timed_out for s in samples["big"]):
            break  # one overrun tells the story; more would only burn the machine
    by = {w: summary(s) for w, s in samples.items()}
    return {"hosts": n, "small_lines": small_lines, "big_lines": lines,
            "timeout_seconds": timeout, "small": by["small"], "big": by["big"],
            "ratio": ratio(by["big"]["median_wall"], by["small"]["median_wall"]),
            "samples": {w: [s.record() for s in v] for w, v in samples.items()}}


def tools_sleep_to_next_second() -> None:
    """Release ids have one-second resolution: two deploys never start in one second."""
    import time

    time.sleep(1.02 - time.time() % 1)
