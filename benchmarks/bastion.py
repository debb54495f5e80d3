"""40 hosts behind one bastion with OpenSSH's default limits vs the same 40 hosts direct.

The bastion is one more fleet host whose sshd_config is rewritten without the fleet's
generous `MaxStartups`/`MaxSessions` (so OpenSSH's defaults apply: MaxStartups
10:30:100, MaxSessions 10) and restarted. An ssh_config (`ssh.config`) sends every
other fleet address through it with `ProxyJump`, as a user's ~/.ssh/config would. The
direct config is the same minus the ssh_config. deploytui (CLI, its own process) deploys
alternately direct and through the bastion with product defaults otherwise; reported:
medians, bastion / direct (goal ≤ 1.1), failed deploys (and the first error line), and
logins on the bastion per deploy (one shared connection per operation = 1).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, median, ratio
from benchmarks.known_hosts import tools_sleep_to_next_second
from benchmarks.meter import Measured, run_measured, summary

DT = "/srv/app/bench-bastion"


def _default_limits(bastion: Any) -> str:
    """Rewrite the bastion's sshd_config with OpenSSH's default limits; returns the old text."""
    path = bastion.root / "sshd_config"
    old = path.read_text()
    new = re.sub(r"(?m)^(MaxStartups|MaxSessions) .*\n", "", old)
    bastion.kill()
    path.write_text(new + "# deploytui benchmark: OpenSSH's default MaxStartups/MaxSessions\n")
    bastion.restart()
    return old


def _restore(bastion: Any, old: str) -> None:
    bastion.kill()
    (bastion.root / "sshd_config").write_text(old)
    bastion.restart()


def run(fleet: Any, *, hosts: int, runs: int, warm_up: bool = True) -> dict[str, Any]:
    if len(fleet.hosts) < hosts + 1:
        raise RuntimeError(f"the bastion benchmark needs {hosts + 1} fleet hosts")
    bastion = fleet.hosts[hosts]  # the one after the targets
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-bastion-"))
    old = _default_limits(bastion)
    try:
        return _run(fleet, fleet.hosts[:hosts], bastion, runs, workdir, warm_up)
    finally:
        _restore(bastion, old)
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, targets: list[Any], bastion: Any, runs: int, workdir: Path,
         warm_up: bool) -> dict[str, Any]:
    ssh_config = workdir / "ssh_config"  # what a user writes: an alias, then ProxyJump
    ssh_config.write_text(
        f"Host bastion\n  HostName {bastion.address}\n  Port {bastion.port}\n"
        f"  User {fleet.user}\n  IdentityFile {fleet.client_key}\n"
        f"Host {' '.join(h.address for h in targets)}\n  ProxyJump bastion\n")
    n = len(targets)
    configs = {}
    for how, ssh in (("direct", {}), ("bastion", {"config": str(ssh_config)})):
        data = fleet.config(hosts=targets, build=tools.BUILD, roles={"web": {}}, deploy_to=DT)
        data["ssh"].pop("connect_timeout", None)  # product defaults but for the fleet's files
        data["ssh"].update(ssh)
        configs[how] = fleet.write_config(workdir / f"{how}.yml", data)
    env = tools.env(workdir / "data")
    samples: dict[str, list[Measured]] = {"direct": [], "bastion": []}
    logins: list[int] = []
    log(f"bastion: {n} hosts behind {bastion.name} (default MaxStartups)")
    if warm_up:
        run_measured(tools.deploytui(configs["direct"], *tools.DEPLOY), env=env)
    for r in range(runs):
        for how in ("direct", "bastion") if r % 2 == 0 else ("bastion", "direct"):
            tools_sleep_to_next_second()
            before = bastion.connections()
            m = run_measured(tools.deploytui(configs[how], *tools.DEPLOY),
                             env=env, timeout=300)
            if how == "bastion":
                m.extra["bastion_logins"] = bastion.connections() - before
                logins.append(m.extra["bastion_logins"])
            samples[how].append(m)
        log(f"bastion round {r + 1}/{runs}: direct {samples['direct'][-1].wall:.2f}s, "
            f"bastion {samples['bastion'][-1].wall:.2f}s"
            + ("" if samples["bastion"][-1].ok else " (FAILED)"))
    by = {w: summary(s) for w, s in samples.items()}
    return {"hosts": n, "bastion_limits": "OpenSSH defaults (MaxStartups 10:30:100, "
                                          "MaxSessions 10)",
            "direct": by["direct"], "bastion": by["bastion"],
            "ratio": ratio(by["bastion"]["median_wall"], by["direct"]["median_wall"]),
            "bastion_logins_per_deploy": logins,
            "bastion_logins_median": median(logins),
            "samples": {w: [s.record() for s in v] for w, v in samples.items()}}
