"""One before/after table from two result files of benchmarks/run.py.

    python benchmarks/compare.py BEFORE.json AFTER.json [--labels "main,main+transport+output"]

Prints markdown: each headline figure (ratios within one run, the tools alternated) for
both runs, the figure issue 10/15 reported when it was filed, and the goal. A ratio is
only ever compared with a ratio: the two runs may have met very different machine load.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# what issue 10's table said when it was filed (same machine, quieter)
ISSUE = {
    "deploy 1 host": "0.89", "deploy 10 hosts": "1.26", "deploy 30 hosts": "1.43",
    "deploy 100 hosts": "1.45", "rollback 30 hosts": "1.67",
    "known_hosts 5,000 vs small": "110-180 s vs 3.4 s (3,200 lines)",
    "flood CLI": "13.6 s vs 0.5 s (27x)", "flood console": "15.8 s (32x)",
    "bastion 40 hosts": "3 of 3 failed",
}

Get = Callable[[dict[str, Any]], Any]


def _g(d: dict[str, Any], *path: str | int) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(str(key))  # type: ignore[assignment]
    return d


def _r(x: Any) -> str:
    return "—" if x is None else f"{x:.2f}x"


def _s(x: Any) -> str:
    return "—" if x is None else f"{x:.1f} s"


def rows(b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, goal) for one run's benchmarks."""
    out: list[tuple[str, str, str]] = []
    for n, row in (_g(b, "scale", "by_hosts") or {}).items():
        for op, goal in (("deploy", "≤ 1.0x from 10 up"), ("rollback", "≤ 1.0x"),
                         ("listing", "—")):
            o = row.get(op, {})
            t, f = _g(o, "tools", "deploytui") or {}, _g(o, "tools", "fabric") or {}
            fail = f" ({t['failed']} failed)" if t.get("failed") else ""
            out.append((f"{op} {n} host{'s' if n != '1' else ''}",
                        f"{_r(o.get('ratio_wall'))} ({_s(t.get('median_wall'))} vs "
                        f"{_s(f.get('median_wall'))}){fail}", goal))
        d = _g(row, "deploy", "tools", "deploytui") or {}
        if int(n) >= 100:
            f = _g(row, "deploy", "tools", "fabric") or {}
            out.append((f"deploying process at {n} hosts: CPU s / threads / RSS MB",
                        f"{d.get('median_cpu') or 0:.1f} / {d.get('peak_threads')} / "
                        f"{d.get('peak_rss_mb') or 0:.0f} (Fabric {f.get('median_cpu') or 0:.1f}"
                        f" / {f.get('peak_threads')} / {f.get('peak_rss_mb') or 0:.0f})",
                        "CPU ≤ Fabric; threads bounded"))
    kh = b.get("known_hosts")
    if kh:
        big = kh["big"]
        val = (f"{_r(kh.get('ratio'))} ({_s(kh['small']['median_wall'])} vs "
               f"{_s(big['median_wall'])})")
        if big.get("timed_out"):
            val = f"> {kh['timeout_seconds']:.0f} s (stopped) vs {_s(kh['small']['median_wall'])}"
        out.append((f"known_hosts {kh['big_lines']:,} vs small", val, "≤ 1.05x"))
    fl = b.get("flood")
    if fl:
        miss = fl.get("cli_lines_missing_in_host_logs")
        out.append(("flood CLI", f"{_r(fl.get('ratio_cli'))} ({_s(fl['cli']['median_wall'])} vs "
                    f"{_s(fl['ssh_reference']['median_wall'])}); missing lines {miss}",
                    "≤ 3x, none missing"))
        if "console" in fl:
            out.append(("flood console", f"{_r(fl.get('ratio_console'))} "
                        f"({_s(fl['console']['median_wall'])}); missing lines "
                        f"{fl['console']['lines_missing_in_host_logs']}", "≤ 4x, none missing"))
    la = b.get("latency")
    if la:
        out.append((f"latency {la['hosts']} hosts, {la['delay_ms_each_way']:.0f} ms each way",
                    f"{_r(la.get('ratio'))} ({_s(la['deploytui']['median_wall'])} vs "
                    f"{_s(la['fabric']['median_wall'])})", "≤ 0.8x"))
    ba = b.get("bastion")
    if ba:
        bb = ba["bastion"]
        out.append((f"bastion {ba['hosts']} hosts", f"{_r(ba.get('ratio'))}; failed "
                    f"{bb['failed']}/{bb['runs']}; bastion logins/deploy "
                    f"{ba.get('bastion_logins_per_deploy')}", "≤ 1.1x, 1 login"))
    he = b.get("health")
    if he:
        out.append(("health check that passes at once",
                    f"{_r(he.get('ratio'))} (+{_s(he.get('extra_seconds'))})"
                    if he.get("supported") else "not in this code", "—"))
    return out


def markdown(before: dict[str, Any], after: dict[str, Any], labels: list[str]) -> str:
    a_rows = {k: (v, g) for k, v, g in rows(after["benchmarks"])}
    b_rows = {k: v for k, v, _ in rows(before["benchmarks"])}
    keys = list(dict.fromkeys([*b_rows, *a_rows]))
    out = [f"| figure | issue (when filed) | {labels[0]} | {labels[1]} | goal |",
           "|---|---|---|---|---|"]
    for k in keys:
        issue = next((v for name, v in ISSUE.items() if k.startswith(name)), "")
        out.append(f"| {k} | {issue} | {b_rows.get(k, '—')} | {a_rows.get(k, ('—', ''))[0]} | "
                   f"{a_rows.get(k, ('', '—'))[1]} |")
    meta = [f"- {label}: `{r.get('code')}`, run {r['machine']['started_utc']}, load average at "
            f"start {r['machine']['load_average_at_start'][0]:.1f}"
            for label, r in zip(labels, (before, after), strict=True)]
    return "\n".join([*meta, "", *out]) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--labels", default="before,after")
    a = p.parse_args(argv)
    before, after = (json.loads(Path(x).read_text()) for x in (a.before, a.after))
    print(markdown(before, after, a.labels.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
