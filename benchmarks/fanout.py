"""Issue 28: an artifact shipped once (`ship: relay`) vs a bare Fabric put to every host.

The sample app plus a 30 MB file of random bytes (gzip cannot shrink it), committed to
a repository on this machine. Two tools, each its own process (meter.py), alternated
(A B, then B A), into their own deploy_to on the same hosts:

* deploytui: `deploytui deploy app prod --yes`, strategy artifact, default `ship: relay`
  (builds the tarball here, uploads it to one host, the hosts pass it on);
* the floor: `floors/bare_fabric.py ship`: `git archive --format=tar.gz` here, then a
  `ThreadingGroup.put` of the tarball to every host, unpack, switch.

Reported per size: median wall, CPU (the tool's and the machine's) and the bytes the
tool's process sent to the hosts' sshd (kernel TCP counters of its connections to port
2200 on the fleet's addresses: `ss -ti`, `bytes_acked`, sampled every 100 ms, the
largest value seen per connection; bytes sent in a connection's last 100 ms are
missed, for either tool alike), against the tarball's size.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, median, ratio, release_id_unique
from benchmarks.meter import Measured, run_measured, summary
from benchmarks.scale import _check, _next_release_second

TOOLS = ("deploytui", "fabric")
DT = "/srv/app/bench-fanout-deploytui"
FAB = "/srv/app/bench-fanout-fabric"
BLOB = 30_000_000
_ACKED = re.compile(r"bytes_acked:(\d+)")


class SentBytes:
    """Bytes acknowledged on every TCP connection to the fleet's sshd port while it runs."""

    def __init__(self, nets: list[str], port: int) -> None:
        where = [w for i, net in enumerate(nets) for w in (["or"] if i else []) + ["dst", net]]
        self.argv = ["ss", "-tinH", "state", "established", "(", *where, ")", "and",
                     "dport", "=", f":{port}"]
        self.seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> SentBytes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(0.1):
                return

    def _sample(self) -> None:
        out = subprocess.run(self.argv, capture_output=True, text=True).stdout
        key = ""
        for line in out.splitlines():
            if not line.startswith(("\t", " ")):
                key = " ".join(line.split()[2:4])  # local and peer address:port
                continue
            found = _ACKED.search(line)
            if found and key:
                self.seen[key] = max(self.seen.get(key, 0), int(found.group(1)))

    @property
    def total(self) -> int:
        return sum(self.seen.values())


def make_repo(workdir: Path, blob: int) -> tuple[Path, str]:
    """The sample app plus `blob` random bytes, committed; (repo, sha)."""
    from deploytui.sample_app import create_sample_repo

    repo = create_sample_repo(workdir / "fanout-repo")
    with open(repo / "blob.bin", "wb") as out, open("/dev/urandom", "rb") as rnd:
        left = blob
        while left:
            chunk = rnd.read(min(left, 1 << 20))
            out.write(chunk)
            left -= len(chunk)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@x"]
    subprocess.run([*git, "add", "blob.bin"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a big artifact"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return repo, sha


def run(fleet: Any, sizes: list[int], runs: int, blob: int = BLOB,
        warm_up: bool = True) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-fanout-"))
    try:
        repo, sha = make_repo(workdir, blob)
        tarball = workdir / "size.tar.gz"
        subprocess.run(["git", "-C", str(repo), "archive", "--format=tar.gz", "-o",
                        str(tarball), sha], check=True)
        size = tarball.stat().st_size
        out: dict[str, Any] = {"runs": runs, "blob_bytes": blob, "tarball_bytes": size,
                               "by_hosts": {}, "failed_sizes": {}}
        for n in sizes:
            try:
                out["by_hosts"][str(n)] = _size(fleet, n, runs, workdir, repo, sha, size,
                                                warm_up)
            except RuntimeError as exc:
                log(f"fanout: {n} host(s) FAILED: {exc}")
                out["failed_sizes"][str(n)] = str(exc)
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _size(fleet: Any, n: int, runs: int, workdir: Path, repo: Path, sha: str, size: int,
          warm_up: bool) -> dict[str, Any]:
    hosts = fleet.hosts[:n]
    config = tools.write_config(fleet, workdir / f"fanout-{n}.yml", n, deploy_to=DT,
                                strategy="artifact", repo=str(repo), build=[],
                                keep_releases=2)
    env = tools.env(workdir / f"data-{n}")
    used: set[str] = set()
    timeout = 300 + 3 * n
    nets = sorted({h.address.rsplit(".", 1)[0] + ".0/24" for h in hosts})  # >254: two

    def deploy(tool: str) -> Measured:
        argv = (tools.deploytui(config, *tools.DEPLOY)
                if tool == "deploytui" else
                tools.fabric(fleet, hosts, "ship", "--deploy-to", FAB, "--repo", str(repo),
                             "--sha", sha, "--release-id", release_id_unique(used)))
        if tool == "deploytui":
            _next_release_second(used)
        deploy_to = DT if tool == "deploytui" else FAB
        before = tools.current_release(hosts[0], deploy_to)
        with SentBytes(nets, hosts[0].port) as sent:
            measured = run_measured(argv, env=env, timeout=timeout)
        measured.extra["bytes_sent"] = sent.total
        if measured.ok:
            tools.require_switch(hosts[0], deploy_to, before, f"{tool} at {n} hosts")
        return measured

    log(f"fanout: {n} host(s)" + (", warm-up" if warm_up else ""))
    if warm_up:
        for tool in TOOLS:
            _check(deploy(tool), f"warm-up {tool} at {n}")
    samples: dict[str, list[Measured]] = {t: [] for t in TOOLS}
    for r in range(runs):
        for tool in TOOLS if r % 2 == 0 else TOOLS[::-1]:
            samples[tool].append(deploy(tool))
            _prune_floor(hosts)
        log(f"fanout: {n} host(s), round {r + 1}/{runs}: " + ", ".join(
            f"{t} {samples[t][-1].wall:.2f}s {samples[t][-1].extra['bytes_sent'] / size:.1f}x"
            + ("" if samples[t][-1].ok else " FAILED") for t in TOOLS))
    by_tool = {t: summary(samples[t]) for t in TOOLS}
    for tool in TOOLS:
        sent = median(s.extra["bytes_sent"] for s in samples[tool] if s.ok)
        by_tool[tool]["median_bytes_sent"] = sent
        by_tool[tool]["bytes_sent_per_artifact"] = None if sent is None else round(
            sent / size, 2)
    return {
        "tools": by_tool,
        "ratio_wall": ratio(by_tool["deploytui"]["median_wall"],
                            by_tool["fabric"]["median_wall"]),
        "ratio_process_cpu": ratio(by_tool["deploytui"]["median_cpu"],
                                   by_tool["fabric"]["median_cpu"]),
        "ratio_machine_cpu": ratio(by_tool["deploytui"]["median_machine_cpu"],
                                   by_tool["fabric"]["median_machine_cpu"]),
        "samples": {t: [s.record() for s in samples[t]] for t in TOOLS},
    }


def _prune_floor(hosts: list[Any]) -> None:
    """The floor keeps no release count: remove all but its current release (untimed),
    so 30 MB x rounds do not fill the hosts' disks."""
    for host in hosts:
        current = tools.current_release(host, FAB)
        releases = host.path(f"{FAB}/releases")
        if releases.exists():
            for old in releases.iterdir():
                if old.name != current:
                    shutil.rmtree(old, ignore_errors=True)
