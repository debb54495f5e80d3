"""What reading ssh_config through OpenSSH (`ssh -G`, engine/hosts/ssh_config.py) costs
an operation at 200 hosts, against paramiko's parse-and-lookup it replaced (which
ignored Include), alternated, medians of --runs.

No fleet needed: resolution happens before any connection. The config is what a team
writes: `Host *` defaults, an Include of four files (globs) holding 200 aliases, Match
blocks, negated patterns. Each operation resolves its 200 hosts from 32 threads (the
host pool's connect), as a deploy does; CPU includes the ssh -G children. A second
row is an operation after another on the unchanged config (the console's 30-s refresh):
answers remembered for the process.

    PYTHONPATH=. .venv/bin/python benchmarks/ssh_config_cost.py [--hosts 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

from deploytui.engine.hosts import ssh_config
from deploytui.engine.hosts.ssh_config import SSHConfigResolver


def write_config(root: Path, hosts: int) -> tuple[Path, list[str]]:
    inc = root / "conf.d"
    inc.mkdir()
    aliases = [f"web{i:03d}" for i in range(hosts)]
    for part in range(4):
        lines = []
        for alias in aliases[part::4]:
            n = int(alias[3:])
            lines += [f"Host {alias}", f"  HostName 10.{part}.{n // 250}.{n % 250 + 1}",
                      "  Port 2222" if n % 3 == 0 else "  Port 22"]
        (inc / f"{part:02d}-web.conf").write_text("\n".join(lines) + "\n")
    config = root / "config"
    config.write_text(
        "Host bastion\n  HostName 10.255.0.1\n  User jump\n"
        f"Include {inc}/*.conf\n"
        "Host web* !web000\n  ProxyJump bastion\n  ForwardAgent yes\n"
        "Match user deploy\n  IdentityFile ~/.ssh/deploy_%h\n"
        "Host *\n  User deploy\n  IdentityFile ~/.ssh/id_ed25519\n  ServerAliveInterval 30\n")
    return config, aliases


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def one_operation(kind: str, config: Path, aliases: list[str]) -> tuple[float, float, int]:
    started, cpu0 = time.perf_counter(), cpu()
    processes = 0
    if kind in ("openssh", "openssh, config unchanged since the last operation"):
        if kind == "openssh":
            ssh_config._MEMORY.clear()  # a first operation: nothing remembered yet
        resolver = SSHConfigResolver(config)
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda a: resolver.lookup(a, 22, "deploy"), aliases))
        # a second phase of the same operation asks again: served from the cache
        for alias in aliases:
            resolver.lookup(alias, 22, "deploy")
        processes = resolver.processes
    else:
        parsed = paramiko.SSHConfig.from_path(str(config))
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(parsed.lookup, aliases))
    return time.perf_counter() - started, cpu() - cpu0, processes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config, aliases = write_config(Path(tmp), args.hosts)
        kinds = ("openssh", "openssh, config unchanged since the last operation", "paramiko")
        samples: dict[str, list[tuple[float, float, int]]] = {k: [] for k in kinds}
        for run in range(args.runs):
            order = kinds if run % 2 == 0 else tuple(reversed(kinds))
            for kind in order:
                samples[kind].append(one_operation(kind, config, aliases))
    print(f"{args.hosts} hosts, {args.runs} runs alternated, load {os.getloadavg()[0]:.2f}")
    print("| resolver | wall s (median) | CPU s (median, incl. ssh -G) | ssh -G runs |")
    print("|---|---|---|---|")
    for kind, rows in samples.items():
        wall = statistics.median(r[0] for r in rows)
        used = statistics.median(r[1] for r in rows)
        print(f"| {kind} | {wall:.3f} | {used:.3f} | {rows[0][2]} |")
    ratio = (statistics.median(r[0] for r in samples["openssh"])
             / statistics.median(r[0] for r in samples["paramiko"]))
    print(f"openssh / paramiko wall: {ratio:.1f}x")


if __name__ == "__main__":
    main()
