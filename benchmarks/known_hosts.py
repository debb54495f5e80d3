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

import base64
import hashlib
import hmac
import os
import random
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, ratio
from benchmarks.meter import Measured, run_measured, summary

DT = "/srv/app/bench-known-hosts"


def _string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _keys(rng: random.Random) -> list[str]:
    """A pool of real public keys ("type base64"): RSA and ECDSA are slow to make, reused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    fmt = serialization.PublicFormat.OpenSSH
    enc = serialization.Encoding.OpenSSH
    pool = [rsa.generate_private_key(65537, 2048).public_key().public_bytes(enc, fmt).decode()
            for _ in range(6)]
    pool += [ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(enc, fmt)
             .decode() for _ in range(40)]
    # ed25519: any 32 bytes are a well-formed public key blob
    for _ in range(200):
        blob = _string(b"ssh-ed25519") + _string(rng.randbytes(32))
        pool.append("ssh-ed25519 " + base64.b64encode(blob).decode())
    return pool


def hashed(host: str, rng: random.Random) -> str:
    """An OpenSSH `HashKnownHosts` entry name: |1|base64(salt)|base64(HMAC-SHA1(salt, host))."""
    salt = rng.randbytes(20)
    digest = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def generate(fleet_known_hosts: str, lines: int, seed: int = 10) -> str:
    """A `lines`-line known_hosts holding every line of the fleet's file among realistic noise."""
    rng = random.Random(seed)
    keys = _keys(rng)
    own = [line for line in fleet_known_hosts.splitlines() if line.strip()]
    noise: list[str] = ["# managed by hand since 2019", ""]
    n_noise = max(0, lines - len(own) - len(noise))
    for i in range(n_noise):
        key = rng.choice(keys)
        name = f"srv{i:04d}.{rng.choice(('prod', 'stage', 'dev', 'corp'))}.example.com"
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        kind = rng.random()
        if i % 500 == 7:
            noise.append(f"@cert-authority *.{rng.choice(('corp', 'prod'))}.example.com {key}")
        elif i % 700 == 11:
            noise.append(f"@revoked * {key}")
        elif kind < 0.70:
            noise.append(f"{hashed(rng.choice((name, ip, f'[{ip}]:2222')), rng)} {key}")
        elif kind < 0.82:
            noise.append(f"{name},{ip} {key}")
        elif kind < 0.92:
            noise.append(f"[{name}]:{rng.choice((2222, 2200, 8022))} {key}")
        else:
            noise.append(f"{ip} {key} user@laptop-{i}")
    # the fleet's own entries, spread through the file, every other one hashed
    out = list(noise)
    for j, line in enumerate(own):
        host, rest = line.split(" ", 1)
        entry = f"{hashed(host, rng)} {rest}" if j % 2 else line
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
        run_measured(tools.deploytui(configs["small"], "deploy", "app", "prod", "--yes"), env=env)
    for r in range(runs):
        for which in ("small", "big") if r % 2 == 0 else ("big", "small"):
            tools_sleep_to_next_second()
            m = run_measured(tools.deploytui(configs[which], "deploy", "app", "prod", "--yes"),
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
