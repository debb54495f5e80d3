"""Releases laid out on fleet hosts as a deploy (or Capistrano) leaves them, and the CLI
run as a user or CI runs it: the set-up shared by the release, rollback, prune and
operation tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet import Fleet, FleetHost

from deploytui.config.loader import load_config_text
from deploytui.config.model import Config
from deploytui.engine.operations.releases import id_to_iso
from deploytui.engine.remote.layout import ReleaseMeta

R1, R2, R3, R4 = "20240101120000", "20240102120000", "20240103120000", "20240104120000"


def load(fleet: Fleet, hosts: int | list[FleetHost] = 3, **overrides) -> Config:
    return load_config_text(json.dumps(fleet.config(hosts, **overrides)), "test.yml")


def own(fleet: Fleet, path: Path) -> None:
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), fleet.uid, fleet.uid)
    os.lchown(path, fleet.uid, fleet.uid)


def make_release(host: FleetHost, rid: str, *, state: str | None = "ok", sha: str = "",
                 subject: str = "", size_kb: int = 4, by: str = "ann@laptop") -> Path:
    """A release directory as a deploy leaves it (state=None: Capistrano, no metadata)."""
    app = host.path("/srv/app")
    rel = app / "releases" / rid
    rel.mkdir(parents=True, exist_ok=True)
    sha = sha or (rid[-6:] * 7)[:40]
    (rel / "REVISION").write_text(sha + "\n")
    (rel / "payload.bin").write_bytes(os.urandom(size_kb * 1024))
    if state is not None:
        meta = ReleaseMeta(rid, state, sha=sha, subject=subject or f"commit {rid}",
                           deployed_at=id_to_iso(rid), deployed_by=by)
        meta_dir = app / ".deploytui" / "releases"
        meta_dir.mkdir(parents=True, exist_ok=True)
        (meta_dir / f"{rid}.json").write_text(meta.to_json() + "\n")
    own(host.fleet, app)
    return rel


def set_current(host: FleetHost, target: str) -> None:
    """Point current at releases/<target> (an id) or at any absolute path."""
    link = host.path("/srv/app/current")
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target if target.startswith("/") else f"/srv/app/releases/{target}")
    os.lchown(link, host.fleet.uid, host.fleet.uid)


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0]) * 1024



def cli(fleet: Fleet, tmp_path: Path, *argv: str, config: dict | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m deploytui ARGV --config ...` as a user or CI would."""
    path = fleet.write_config(tmp_path / "deploytui.yml", config or fleet.config(3))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "deploytui", *argv, "--config", str(path)],
                          capture_output=True, text=True, env=env, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL, timeout=60)


RESTART = {"web": {"restart": ["pwd > $HOME/restarted-in"]}}


def current_of(host) -> str:
    return host.path("/srv/app/current").readlink().name


def meta_state(host, rid: str) -> str:
    return json.loads(host.path(f"/srv/app/.deploytui/releases/{rid}.json").read_text())["state"]


def three_releases(fleet: Fleet, n: int = 3) -> None:
    """R1, R2, R3 on the first n hosts, R3 current: a rollback has somewhere to go."""
    for host in fleet.hosts[:n]:
        for rid in (R1, R2, R3):
            make_release(host, rid)
        set_current(host, R3)


def _git(cwd, *args: str) -> str:
    return subprocess.run(["git", "-c", "safe.directory=*", "-C", str(cwd), *args],
                          capture_output=True, text=True, check=True).stdout.strip()
