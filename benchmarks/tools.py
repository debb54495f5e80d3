"""The command lines the process-level benchmarks time: `deploytui` and the Fabric floors.

Each tool runs as its own process (benchmarks/meter.py), the way a user runs it: the
`deploytui` CLI with a config file, a bare Fabric script with its arguments. Every
deploytui run gets its own data directory (journal, per-host logs) so nothing on the
developer's machine is read or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

FLOORS = ROOT / "benchmarks" / "floors"
BUILD = ["sh build.sh", "sleep 0.2"]  # as deploy_speed.py: a real step plus a short wait

# A benchmark deploys the same commit again and again: --force, or deploytui would say
# "nothing to deploy" (every host already serves it) and measure nothing.
DEPLOY = ("deploy", "app", "prod", "--yes", "--force")


def env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(data_dir),
            "DEPLOYTUI_CONFIG_DIR": str(data_dir / "config")}


def write_config(fleet: Any, path: Path, hosts: int | list[Any], *,
                 ssh: dict[str, Any] | None = None, **project: Any) -> Path:
    """A fleet config file (release strategy, no restart unless given)."""
    spec = {"build": BUILD, "roles": {"web": {}}, **project}
    data = fleet.config(hosts=hosts, **spec)
    data["ssh"].update(ssh or {})
    return fleet.write_config(path, data)


def deploytui(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "deploytui", "--config", str(config), *args]


def fabric(fleet: Any, hosts: list[Any], *args: str, known_hosts: Path | None = None,
           port: int | None = None) -> list[str]:
    addrs = ",".join(f"{h.address}:{port or h.port}" for h in hosts)
    return [sys.executable, str(FLOORS / "bare_fabric.py"), "--user", fleet.user,
            "--key", str(fleet.client_key),
            "--known-hosts", str(known_hosts or fleet.known_hosts), "--hosts", addrs, *args]


def fabric_deploy(fleet: Any, hosts: list[Any], deploy_to: str, release_id: str,
                  sha: str, build: list[str] = BUILD, **kw: Any) -> list[str]:
    extra: list[str] = []
    for cmd in build:
        extra += ["--build", cmd]
    return fabric(fleet, hosts, "deploy", "--deploy-to", deploy_to, "--repo-url",
                  fleet.repo_url, "--sha", sha, "--release-id", release_id, *extra, **kw)


def head_sha(fleet: Any) -> str:
    """The commit a floor deploys (deploytui resolves the same branch head itself)."""
    out = subprocess.run(["git", "ls-remote", fleet.repo_url, "refs/heads/main"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def require_switch(host: Any, deploy_to: str, before: str | None, what: str) -> None:
    """A deploy that exited 0 but switched nothing measured nothing (a refused,
    "unchanged" deploy exits 0): that must fail the benchmark, not read as fast."""
    if current_release(host, deploy_to) == before:
        raise RuntimeError(f"{what}: the deploy switched no release on {host.name} "
                           f"(still {before}): it measured nothing")


def current_release(host: Any, deploy_to: str) -> str | None:
    """The release `current` points at on a host, read from outside (no SSH, untimed)."""
    try:
        return Path(os.readlink(host.path(f"{deploy_to}/current"))).name
    except OSError:
        return None
