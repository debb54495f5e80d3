"""Start-up: a fresh interpreter to the console's first frame, with a 2,000-host config.

The config (20 projects x 5 environments x 20 hosts) is generated YAML. Each run is a
new `python` process that does what `deploytui --config big.yml` does, in its order:
imports the CLI and parses the command line, loads the config, imports the console
(`cli.console_module`),
builds `DeployConsole` (status loading on; the hosts refuse connections at once) and
runs it headless (`run_test`, 200x50) until the App's `Ready` message — Textual posts
it after the first frame is composed and painted; headless only skips the terminal
write. The parent times from spawning the process to reading the child's "READY" line,
so interpreter start-up is included; the child also reports its CPU time to that
point (interpreter start-up included), steadier than wall time on a shared machine.
Median of `runs`.

Floors, alternated with it in the same run (issue 28): a minimal Textual app (one
Static) run the same way to its first frame — the goal's floor; a plain Textual app
with the console's kinds of widgets (header, a tree of 100 environments, a 20-row
table, a log, an input, a footer: no deploytui code) — what Textual itself costs for
such a screen, to tell deploytui's share from Textual's; and for the CLI,
`deploytui --version` and `deploytui check --help` against `python -c "import fabric"`.
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
from deploytui.cli import build_parser
args = build_parser().parse_args(["--config", sys.argv[1]])
from deploytui.config import load_config
config = load_config(args.config)
t_config = time.perf_counter() - T0
from deploytui.cli import console_module
DeployConsole = console_module().DeployConsole
t_import = time.perf_counter() - T0 - t_config
app = DeployConsole(config)
ready = {}

def hook(message):
    if isinstance(message, events.Ready) and "t" not in ready:
        ready["t"] = time.perf_counter() - T0
        print(f"READY {t_import:.4f} {t_config:.4f} {ready['t']:.4f} {time.process_time():.4f}",
              flush=True)

async def main():
    async with app.run_test(size=(200, 50), message_hook=hook) as pilot:
        app.exit(0)

asyncio.run(main())
"""


MINIMAL_APP = r"""
import time
T0 = time.perf_counter()
import asyncio
from textual import events
from textual.app import App
from textual.widgets import Static
t_import = time.perf_counter() - T0

class Minimal(App):
    def compose(self):
        yield Static("hello")

app = Minimal()
ready = {}

def hook(message):
    if isinstance(message, events.Ready) and "t" not in ready:
        ready["t"] = time.perf_counter() - T0
        print(f"READY {t_import:.4f} {t_import:.4f} {ready['t']:.4f} {time.process_time():.4f}",
              flush=True)

async def main():
    async with app.run_test(size=(200, 50), message_hook=hook) as pilot:
        app.exit(0)

asyncio.run(main())
"""


# the console's kinds of widgets in plain Textual, filled as the console fills them
TEXTUAL_WIDGETS_APP = MINIMAL_APP.replace("""from textual.widgets import Static
""", """from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Log, Static, Tree
""").replace("""    def compose(self):
        yield Static("hello")
""", """    def compose(self):
        yield Header()
        with Horizontal():
            tree = Tree("projects")
            tree.show_root = False
            for p in range(20):
                node = tree.root.add(f"proj{p:02d}", expand=True)
                for e in range(5):
                    node.add_leaf(f"env{e}")
            yield tree
            with Vertical():
                yield Static("idle")
                table = DataTable()
                table.add_columns("host", "address", "reach", "release", "state", "elapsed")
                for h in range(20):
                    table.add_row(f"p00e0h{h:02d}", f"127.100.0.{h + 1}", "…", "", "", "")
                yield table
                yield Log()
        yield Input()
        yield Footer()
""")


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


def one(config: Path, env: dict[str, str], child: str = CHILD) -> dict[str, float]:
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", child, str(config)], stdout=subprocess.PIPE,
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
    _, imp, cfg, ready, cpu = line.split()
    return {"wall": wall, "import": float(imp), "config": float(cfg), "ready": float(ready),
            "cpu": float(cpu)}


def run(runs: int = 5, projects: int = 20, environments: int = 5, hosts: int = 20
        ) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="deploytui-bench-start-"))
    config = big_config(work / "big.yml", projects, environments, hosts)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(work / "data"),
           "DEPLOYTUI_CONFIG_DIR": str(work / "config")}
    cli = {name: [] for name in CLI}
    try:
        one(config, env)  # warm the OS page cache: every measured run starts equally warm
        one(config, env, MINIMAL_APP)
        one(config, env, TEXTUAL_WIDGETS_APP)
        samples, minimal, widgets = [], [], []
        for i in range(runs):  # the console and its floors alternated
            order = [(samples, CHILD), (minimal, MINIMAL_APP), (widgets, TEXTUAL_WIDGETS_APP)]
            for into, child in (order if i % 2 == 0 else reversed(order)):
                into.append(one(config, env, child))
            for name in (CLI if i % 2 == 0 else reversed(CLI)):
                cli[name].append(_timed_process(CLI[name], env))
        size = config.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    walls = [s["wall"] for s in samples]
    floor = median(s["wall"] for s in minimal)
    cpu_floor = median(s["cpu"] for s in minimal)
    widgets_floor = median(s["wall"] for s in widgets)
    cpu = median(s["cpu"] for s in samples)
    cli_medians = {name: median(times) for name, times in cli.items()}
    fabric = cli_medians["python -c 'import fabric'"]
    return {
        "method": "fresh `python -c` process per run: the CLI's parser, load_config, import "
                  "the console, DeployConsole(config), run_test(200x50) until the App's Ready "
                  "message; wall time measured by the parent from spawn to the READY line "
                  "(interpreter start-up included), CPU time reported by the child at that "
                  "point; one untimed warm-up run of each first.",
        "projects": projects, "environments": environments, "hosts_per_env": hosts,
        "hosts": projects * environments * hosts, "runs": runs,
        "seconds": walls, "median_seconds": median(walls),
        "min_seconds": min(walls), "max_seconds": max(walls),
        # the console's import, after the config is loaded (as the CLI does it)
        "import_median_seconds": median(s["import"] for s in samples),
        # from the child's first line: the CLI's parser, the config modules, load_config
        "config_load_median_seconds": median(s["config"] for s in samples),
        "in_process_ready_median_seconds": median(s["ready"] for s in samples),
        "config_bytes": size,
        "minimal_textual_median_seconds": floor,
        "ratio_vs_minimal_textual": None if not floor else round(median(walls) / floor, 2),
        "cpu_median_seconds": cpu,
        "minimal_textual_cpu_median_seconds": cpu_floor,
        "cpu_ratio_vs_minimal_textual": None if not cpu_floor else round(cpu / cpu_floor, 2),
        "textual_widgets_median_seconds": widgets_floor,
        "textual_widgets_ratio_vs_minimal_textual":
            None if not floor else round(widgets_floor / floor, 2),
        "ratio_vs_textual_widgets": None if not widgets_floor
        else round(median(walls) / widgets_floor, 2),
        "cli_median_seconds": cli_medians,
        "cli_ratio_vs_import_fabric": {
            name: None if not fabric else round(t / fabric, 2)
            for name, t in cli_medians.items() if name != "python -c 'import fabric'"},
    }


# a CLI call's floor is what any Fabric-based tool pays first: importing fabric
CLI = {
    "deploytui --version": [sys.executable, "-m", "deploytui", "--version"],
    "deploytui check --help": [sys.executable, "-m", "deploytui", "check", "--help"],
    "python -c 'import fabric'": [sys.executable, "-c", "import fabric"],
}


def _timed_process(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=True, timeout=60)
    return time.perf_counter() - began
