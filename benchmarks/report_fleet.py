"""Markdown for the process-level fleet benchmarks (scale, known_hosts, flood, latency,
bastion, health); each tool there ran as its own process (benchmarks/meter.py)."""

from __future__ import annotations

from typing import Any

from benchmarks.report import _f, _target

NOISE = ("The machine is shared (other jobs run beside the benchmark), so absolute "
         "times and whole-machine CPU are noisy; the ratios, with tools alternated "
         "within one run, are what count.")


def _goal(value: float | None, limit: float) -> str:
    return _target(None if value is None else value <= limit)


def _fail(s: dict[str, Any]) -> str:
    if not s.get("failed"):
        return ""
    return f" ({s['failed']}/{s['runs']} failed: `{s.get('first_error')}`)"


def sections(b: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "scale" in b:
        out += scale(b["scale"])
    if "known_hosts" in b:
        out += known_hosts(b["known_hosts"])
    if "flood" in b:
        out += flood(b["flood"])
    if "latency" in b:
        out += latency(b["latency"])
    if "bastion" in b:
        out += bastion(b["bastion"])
    if "health" in b:
        out += health(b["health"])
    if "fanout" in b:
        out += fanout(b["fanout"])
    return out


def scale(d: dict[str, Any]) -> list[str]:
    out = ["## A. Deploy, rollback and listing vs bare Fabric, by fleet size", "",
           f"Each tool its own process (the `deploytui` CLI; a bare Fabric script, "
           f"`floors/bare_fabric.py`), median of {d['runs']} runs, the two tools alternated. "
           f"Build = `{' ; '.join(d['build'])}`. Goals (issue 10): deploy ≤ 1.0x from 10 "
           "hosts up, rollback ≤ 1.0x. The rollback floor is the bare switch (one command "
           "per host); the row under it compares the same deploytui rollbacks with a "
           "Fabric script that adds deploytui's safety (lock and check every host first, "
           "then switch, then record and unlock: three rounds). " + NOISE, "",
           "| hosts | operation | deploytui s | Fabric s | ÷ Fabric | process CPU s "
           "(deploytui / Fabric) | machine CPU s (deploytui / Fabric) | goal |",
           "|---:|---|---:|---:|---:|---:|---:|---|"]
    for n, row in d["by_hosts"].items():
        for op, o in row.items():
            t, f = o["tools"]["deploytui"], o["tools"]["fabric"]
            goal = "—" if op == "listing" or (op == "deploy" and int(n) < 10) else _goal(
                o["ratio_wall"], 1.0)
            out.append(f"| {n} | {op} | {_f(t['median_wall'])}{_fail(t)} | "
                       f"{_f(f['median_wall'])}{_fail(f)} | {_f(o['ratio_wall'])} | "
                       f"{_f(t['median_cpu'])} / {_f(f['median_cpu'])} | "
                       f"{_f(t['median_machine_cpu'], '{:.1f}')} / "
                       f"{_f(f['median_machine_cpu'], '{:.1f}')} | {goal} |")
            same = o.get("same_safety")
            if same:  # the rollback floor with deploytui's lock, check and record
                s = same["fabric"]
                out.append(f"| {n} | rollback vs Fabric with the same safety | "
                           f"{_f(t['median_wall'])}{_fail(t)} | {_f(s['median_wall'])}{_fail(s)}"
                           f" | {_f(same['ratio_wall'])} | {_f(t['median_cpu'])} / "
                           f"{_f(s['median_cpu'])} | {_f(t['median_machine_cpu'], '{:.1f}')} / "
                           f"{_f(s['median_machine_cpu'], '{:.1f}')} | — |")
    for n, why in d.get("failed_sizes", {}).items():
        out += ["", f"**{n} hosts: not measured: {why}**"]
    for n, ssh in d.get("ssh_by_hosts", {}).items():
        out += ["", f"At {n} hosts deploytui ran with `ssh: {ssh}` (the fleet's "
                "connect_timeout is 5 s; Fabric waits for a key exchange without limit)."]
    out += ["", "Peak threads and peak RSS (VmHWM) of the deploying process during a deploy:",
            "", "| hosts | deploytui threads | deploytui RSS MB | Fabric threads | "
            "Fabric RSS MB |", "|---:|---:|---:|---:|---:|"]
    for n, row in d["by_hosts"].items():
        t, f = row["deploy"]["tools"]["deploytui"], row["deploy"]["tools"]["fabric"]
        out.append(f"| {n} | {_f(t['peak_threads'], '{}')} | {_f(t['peak_rss_mb'], '{:.0f}')} | "
                   f"{_f(f['peak_threads'], '{}')} | {_f(f['peak_rss_mb'], '{:.0f}')} |")
    return [*out, ""]


def known_hosts(d: dict[str, Any]) -> list[str]:
    s, b = d["small"], d["big"]
    return ["## B. A realistic known_hosts", "",
            f"The same {d['hosts']}-host deploy (CLI) with the fleet's {d['small_lines']}-line "
            f"known_hosts and with a generated {d['big_lines']:,}-line one (hashed `|1|` "
            "entries, `[host]:port`, aliases, `@cert-authority`, `@revoked`, ed25519 / ecdsa "
            "/ rsa keys; the fleet's entries spread through it, half hashed), alternated, "
            f"median of {s['runs']}. A run over {d['timeout_seconds']:.0f} s is stopped. "
            "deploytui remembers which hashed lines name each host, per file content "
            "(engine/hosts/hashed_hints.py): the first deploy after the file changed hashes "
            "through it, the later ones do not. The median is theirs; the first is shown "
            "on its own.", "",
            "| known_hosts | median s | deploying process CPU s | ratio | goal ≤ 1.05 |",
            "|---|---:|---:|---:|---|",
            f"| {d['small_lines']} lines | {_f(s['median_wall'])}{_fail(s)} | "
            f"{_f(s['median_cpu'])} | 1.00 | |",
            f"| {d['big_lines']:,} lines | {_f(b['median_wall'])}{_fail(b)} | "
            f"{_f(b['median_cpu'])} | {_f(d['ratio'])} | {_goal(d['ratio'], 1.05)} |",
            *_first_deploy(d),
            *(["", f"**{b['timed_out']} run(s) with the big file overran "
               f"{d['timeout_seconds']:.0f} s and were stopped.**"] if b.get("timed_out") else []),
            ""]


def _first_deploy(d: dict[str, Any]) -> list[str]:
    """The big file's first deploy (after the warm-up, which used the small file)."""
    first = (d.get("samples", {}).get("big") or [None])[0]
    small = d["small"]["median_wall"]
    if not first or not small:
        return []
    return [f"| {d['big_lines']:,} lines, its first deploy | {_f(first['wall'])} | "
            f"{_f(first['cpu'])} | {_f(first['wall'] / small)} | |"]


def flood(d: dict[str, Any]) -> list[str]:
    s, c = d["ssh_reference"], d["cli"]
    out = ["## C. Unpaced output flood", "",
           f"{d['hosts']} hosts x {d['lines_per_host']:,} lines (`seq 1 {d['lines_per_host']}` "
           "as the build step), median of the runs; every deploytui run's per-host log "
           "files are checked to hold each number.", "",
           "| path | median s | process CPU s | ÷ reference | goal | lines missing in host logs |",
           "|---|---:|---:|---:|---|---|",
           f"| reference: {d['hosts']} parallel `ssh host seq …` into a pipe | "
           f"{_f(s['median_wall'])} | {_f(s['median_cpu'])} | 1.00 | | "
           f"(received {d['ssh_lines_received']}) |",
           f"| `deploytui deploy` (CLI, stdout a pipe) | {_f(c['median_wall'])}{_fail(c)} | "
           f"{_f(c['median_cpu'])} | {_f(d['ratio_cli'])} | ≤ 3: {_goal(d['ratio_cli'], 3)} | "
           f"{d['cli_lines_missing_in_host_logs']} |"]
    if "console" in d:
        con = d["console"]
        lat = con["runs"][-1].get("key_latency_ms", {}) if con["runs"] else {}
        out.append(f"| console (headless, real deploy; key p95 {_f(lat.get('p95'), '{:.0f}')} "
                   f"ms) | {_f(con['median_wall'])} | — | {_f(d.get('ratio_console'))} | "
                   f"≤ 4: {_goal(d.get('ratio_console'), 4)} | "
                   f"{con['lines_missing_in_host_logs']} |")
    return [*out, ""]


def latency(d: dict[str, Any]) -> list[str]:
    """One table per host count (`by_hosts`; a result from before 2026-12-05: one)."""
    sizes = d["by_hosts"].values() if "by_hosts" in d else [d]
    return [line for one in sizes for line in _latency(one)]


def _latency(d: dict[str, Any]) -> list[str]:
    t, f = d["deploytui"], d["fabric"]
    return [f"## D. Latency-bound deploy (relay, fixed delay each way), {d['hosts']} hosts", "",
            f"{d['hosts']} hosts, each reached through benchmarks/relay.py adding "
            f"{d['delay_ms_each_way']:.0f} ms each way (round trip {2 * d['delay_ms_each_way']:.0f}"
            f" ms), deploytui CLI vs the bare Fabric script, alternated, median of {t['runs']}.",
            "", "| tool | median s | process CPU s | ratio | goal ≤ 0.8 |",
            "|---|---:|---:|---:|---|",
            f"| deploytui | {_f(t['median_wall'])}{_fail(t)} | {_f(t['median_cpu'])} | "
            f"{_f(d['ratio'])} | {_goal(d['ratio'], 0.8)} |",
            f"| bare Fabric | {_f(f['median_wall'])}{_fail(f)} | {_f(f['median_cpu'])} | 1.00 | |",
            ""]


def bastion(d: dict[str, Any]) -> list[str]:
    dr, ba = d["direct"], d["bastion"]
    return ["## E. Through a bastion with OpenSSH's default limits", "",
            f"{d['hosts']} hosts deployed (CLI, product defaults) directly and through one "
            f"bastion ({d['bastion_limits']}, `ProxyJump` in the ssh config), alternated, "
            f"median of successful runs.", "",
            "| route | median s | failed | bastion logins per deploy | ratio | goal ≤ 1.1 |",
            "|---|---:|---:|---|---:|---|",
            f"| direct | {_f(dr['median_wall'])} | {dr['failed']}/{dr['runs']} | — | 1.00 | |",
            f"| bastion | {_f(ba['median_wall'])} | {ba['failed']}/{ba['runs']} | "
            f"{d['bastion_logins_per_deploy']} | {_f(d['ratio'])} | {_goal(d['ratio'], 1.1)} |",
            *(["", f"First failure: `{ba['first_error']}`"] if ba.get("failed") else []),
            ""]


def health(d: dict[str, Any]) -> list[str]:
    out = ["## F. What a health check costs when it passes at once", ""]
    if not d.get("supported"):
        return [*out, f"Not measured: {d.get('note')}.", ""]
    w, wo = d["with"], d["without"]
    return [*out, f"{d['hosts']} hosts, restart `true`, with and without `health: "
            "{command: \"true\"}`, alternated.", "",
            "| deploy | median s | ratio | extra s |", "|---|---:|---:|---:|",
            f"| without health | {_f(wo['median_wall'])}{_fail(wo)} | 1.00 | |",
            f"| with health | {_f(w['median_wall'])}{_fail(w)} | {_f(d['ratio'])} | "
            f"{_f(d.get('extra_seconds'))} |", ""]


def fanout(d: dict[str, Any]) -> list[str]:
    mb = d["tarball_bytes"] / 1e6
    out = ["## G. An artifact shipped once (ship: relay) vs a Fabric put to every host", "",
           f"A {mb:.1f} MB tar.gz ({d['blob_bytes'] / 1e6:.0f} MB of random bytes + the "
           "sample app). deploytui (strategy artifact, default `ship: relay`) vs "
           "`floors/bare_fabric.py ship` (`git archive` tar.gz here, `ThreadingGroup.put` "
           "to every host, unpack, switch), alternated, median of "
           f"{d['runs']}. Bytes sent: the tool's TCP connections to the hosts' sshd "
           "(`ss -ti` bytes_acked), ÷ the tarball. Goals (issue 28): bytes ≤ 2x the "
           "artifact, wall ≤ 0.6x Fabric. " + NOISE, "",
           "| hosts | deploytui s | Fabric s | ÷ Fabric | goal ≤ 0.6 | bytes sent ÷ artifact "
           "(deploytui / Fabric) | goal ≤ 2 | process CPU s (deploytui / Fabric) | "
           "machine CPU s (deploytui / Fabric) |",
           "|---:|---:|---:|---:|---|---:|---|---:|---:|"]
    for n, o in d["by_hosts"].items():
        t, f = o["tools"]["deploytui"], o["tools"]["fabric"]
        out.append(f"| {n} | {_f(t['median_wall'])}{_fail(t)} | {_f(f['median_wall'])}"
                   f"{_fail(f)} | {_f(o['ratio_wall'])} | {_goal(o['ratio_wall'], 0.6)} | "
                   f"{_f(t['bytes_sent_per_artifact'])} / {_f(f['bytes_sent_per_artifact'])}"
                   f" | {_goal(t['bytes_sent_per_artifact'], 2.0)} | {_f(t['median_cpu'])} / "
                   f"{_f(f['median_cpu'])} | {_f(t['median_machine_cpu'])} / "
                   f"{_f(f['median_machine_cpu'])} |")
    for n, err in d.get("failed_sizes", {}).items():
        out.append(f"| {n} | failed: `{err[:300]}` | | | | | | | |")
    return [*out, ""]
