"""Start-up: a fresh interpreter to the console's first frame, with a 2,000-host config.

The config (20 projects x 5 environments x 20 hosts) is generated YAML. Each run is a
new `python` process that imports deploytui, loads the config, builds `DeployConsole`
exactly as `deploytui --config big.yml` does (status loading on; the hosts refuse
connections at once) and runs it headless (`run_test`, 200x50) until the App's `Ready`
message — Textual posts it after the first frame is composed and painted; headless only
skips the terminal write. The parent times from spawning the process to reading the
child's "READY" line, so interpreter start-up is included. Median of `runs`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import median

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import time
T0 = time.perf_counter()
import asyncio, sys
from textual import events
from deploytui.config import load_config
from deploytui.tui.app import DeployConsole
t_import = time.perf_counter() - T0
config = load_config(sys.argv[1])
t_config = time.perf_counter() - T0
app = DeployConsole(config)
ready = {}

def hook(message):
    if isinstance(message, events.Ready) and "t" not in ready:
        ready["t"] = time.perf_counter() - T0
        print(f"READY {t_import:.4f} {t_config:.4f} {ready['t']:.4f}", flush=True)

async def main():
    async with app.run_test(size=(200, 50), message_hook=hook) as pilot:
        app.exit(0)

asyncio.run(main())
"""


def big_config(path: Path, projects: int, environments: int, hosts: int) -> Path:
    out = ["ssh:", "  connect_timeout: 2", "projects:"]
    for p in range(projects):
        out += [f"  proj{p:02d}:", f"    repo: git@example.invalid:team/proj{p:02d}.git",
                "    strategy: release", f"    deploy_to: /srv/proj{p:02d}",
                "    build: [make]", "    roles:", "      web: {restart: [sh restart.sh]}",
                "    environments:"]
        for e in range(environments):
            out += [f"      env{e}:", "        hosts:"]
            for h in range(hosts):
                # loopback port 9: refused at once, like a host that is down
                out.append(f"          p{p:02d}e{e}h{h:02d}: {{address: 127.{100 + p}.{e}.{h + 1},"
                           " port: 9, roles: [web]}")
    path.write_text("\n".join(out) + "\n")
    return path


def one(config: Path, env: dict[str, str]) -> dict[str, float]:
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdout is not None
    line = ""
    for line in proc.stdout:
        if line.startswith("READY"):
            break
    wall = time.perf_counter() - began
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if not line.startswith("READY"):
        raise RuntimeError(f"no first frame: {err.strip()[-600:]}")
    _, imp, cfg, ready = line.split()
    return {"wall": wall, "import": float(imp), "config": float(cfg), "ready": float(ready)}


def run(runs: int = 5, projects: int = 20, environments: int = 5, hosts: int = 20
        ) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="deploytui-bench-start-"))
    config = big_config(work / "big.yml", projects, environments, hosts)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(work / "data"),
           "DEPLOYTUI_CONFIG_DIR": str(work / "config")}
    try:
        one(config, env)  # warm the OS page cache: every measured run starts equally warm
        samples = [one(config, env) for _ in range(runs)]
        size = config.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    walls = [s["wall"] for s in samples]
    return {
        "method": "fresh `python -c` process per run: import, load_config, DeployConsole(config),"
                  " run_test(200x50) until the App's Ready message; wall time measured by the "
                  "parent from spawn to the READY line (interpreter start-up included); one "
                  "untimed warm-up run first.",
        "projects": projects, "environments": environments, "hosts_per_env": hosts,
        "hosts": projects * environments * hosts, "runs": runs,
        "seconds": walls, "median_seconds": median(walls),
        "min_seconds": min(walls), "max_seconds": max(walls),
        "import_median_seconds": median(s["import"] for s in samples),
        "config_load_median_seconds": median(s["config"] - s["import"] for s in samples),
        "in_process_ready_median_seconds": median(s["ready"] for s in samples),
        "config_bytes": size,
    }
