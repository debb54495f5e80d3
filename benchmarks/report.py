"""The markdown table of one benchmark run (the JSON file holds every sample)."""

from __future__ import annotations

from typing import Any


def _f(value: Any, fmt: str = "{:.2f}") -> str:
    if value is None:
        return "—"
    if isinstance(value, float | int):
        return fmt.format(value)
    return str(value)


def _target(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = ["# deploytui benchmark results", ""]
    if results.get("quick"):
        out += ["**Quick run (`--quick`): tiny sizes, figures not meaningful.**", ""]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    out += [
        f"Run {m['started_utc']}, {results.get('total_seconds', '?')} s in total.",
        "",
        f"- machine: {m['nproc']} CPU(s), {m['cpu']}, {m['memory_gb']} GB RAM",
        f"- load average at start: {load}",
        f"- Python {m['python']}, textual {m['textual']}, paramiko {m['paramiko']}, "
        f"fabric {m['fabric']}, invoke {m['invoke']}; {m['openssh']}",
        f"- options: {results['options']}",
        "",
    ]
    b = results["benchmarks"]
    if results.get("code"):
        out[-1:-1] = [f"- code measured: {results['code']}"]
    from benchmarks import report_fleet

    out += report_fleet.sections(b)
    if "deploy" in b:
        out += _deploy(b["deploy"])
    if "listing" in b:
        out += _listing(b["listing"])
    if "console" in b:
        out += _console(b["console"])
    if "startup" in b:
        out += _startup(b["startup"])
    for name, err in results.get("errors", {}).items():
        if not name.endswith("_traceback"):
            out += [f"**{name} failed:** `{err}`", ""]
    return "\n".join(out) + "\n"


def _deploy(d: dict[str, Any]) -> list[str]:
    out = ["## 1-2. Deploy vs floors, connections per host",
           "",
           f"Median of {d['runs']} timed runs per tool and host count (after one untimed "
           "warm-up each), tools alternating. Release strategy, build = "
           f"`{' ; '.join(d['build'])}`. Target: deploytui / faster floor ≤ 1.2 at 30 hosts; "
           "exactly 1 SSH connection per host per deploy.",
           "",
           "| hosts | deploytui s | bare Fabric s | ssh ControlMaster s | ÷ Fabric | ÷ ssh-cm "
           "| ÷ faster floor | connections/host (min-max) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, row in d["by_hosts"].items():
        med = row["median_seconds"]
        c = row["connections_per_host_per_deploy"]
        out.append(f"| {n} | {_f(med['deploytui'])} | {_f(med['fabric'])} | "
                   f"{_f(med['ssh-cm'])} | {_f(row['ratio_vs_fabric'])} | "
                   f"{_f(row['ratio_vs_ssh_controlmaster'])} | "
                   f"{_f(row['ratio_vs_faster_floor'])} | {c['min']}-{c['max']} |")
    out += ["", "Remote commands per host per deploy (sshd `Starting session` lines): "
            + "; ".join(f"{n} host(s): " + ", ".join(
                f"{t} {v:g}" for t, v in row.get("remote_commands_per_host_per_deploy", {}).items())
                for n, row in d["by_hosts"].items()) + "."]
    out += ["", "CPU seconds on the deploying side per deploy (this process + children, "
            "median): " + "; ".join(f"{n} host(s): " + ", ".join(
                f"{t} {_f(v)}" for t, v in row.get("client_cpu_seconds_median", {}).items())
                for n, row in d["by_hosts"].items()) + "."]
    for n, row in d["by_hosts"].items():
        diag = row["median_seconds"].get("deploytui-all-at-once")
        if diag is not None:
            out += ["", f"Diagnostic at {n} hosts: deploytui with `ssh.max_parallel: {n}` "
                        f"(every host at once, as both floors do; default is 20): median "
                        f"{_f(diag)} s, ÷ faster floor "
                        f"{_f(row['diagnostic_all_at_once_ratio_vs_faster_floor'])}."]
    out += ["", "deploytui phase times (median s, from its own events):", "",
            "| hosts | " + " | ".join(_phases(d)) + " |",
            "|---:|" + "---:|" * len(_phases(d))]
    for n, row in d["by_hosts"].items():
        ph = row["deploytui_phase_median_seconds"]
        out.append(f"| {n} | " + " | ".join(_f(ph.get(p)) for p in _phases(d)) + " |")
    last = list(d["by_hosts"])[-1]
    steps = d["by_hosts"][last].get("deploytui_step_mean_seconds", {})
    if steps:
        out += ["", f"deploytui steps at {last} hosts (mean per host, median over runs; "
                    "steps with events only: lock, metadata, switch, revisions and prune "
                    "commands are not steps):", "",
                "| step | s |", "|---|---:|"]
        out += [f"| `{name}` | {_f(v, '{:.3f}')} |" for name, v in steps.items()]
    return [*out, ""]


def _phases(d: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for row in d["by_hosts"].values():
        for p in row["deploytui_phase_median_seconds"]:
            if p not in seen:
                seen.append(p)
    return seen


def _listing(d: dict[str, Any]) -> list[str]:
    out = ["## 3. Releases listing and rollback, many hosts vs one",
           "",
           f"Median of {d['runs']} runs each. Target: ratio ≤ 1.5. The floor row is what "
           "this machine allows for one command per host (every sshd of the fleet shares "
           "the client's CPUs here, unlike a real fleet).",
           "",
           f"| operation | 1 host s | {d['large']} hosts s | ratio | target |",
           "|---|---:|---:|---:|---|"]
    for op, row in d["operations"].items():
        r = row.get("ratio")
        floor = op.startswith("floor")
        out.append(f"| {op} | {_f(row.get('small_median'), '{:.3f}')} | "
                   f"{_f(row.get('large_median'), '{:.3f}')} | {_f(r)} | "
                   f"{'(reference)' if floor else _target(None if r is None else r <= 1.5)} |")
    return [*out, ""]


def _console(c: dict[str, Any]) -> list[str]:
    out = ["## 4. Console under a log flood (headless `run_test`)", ""]
    configs = c["configs"]
    for i, d in enumerate(configs, 1):
        out.append(f"{i}. {d.get('method', '')}")
    out += ["", "| figure | " + " | ".join(f"run {i}" for i in range(1, len(configs) + 1))
            + " | target |", "|---|" + "---:|" * len(configs) + "---|"]

    def row(label: str, fn: Any, target: str = "") -> None:
        out.append(f"| {label} | " + " | ".join(fn(d) for d in configs) + f" | {target} |")

    def lat(d: dict[str, Any], key: str) -> str:
        return _f(d.get("key_latency_ms", {}).get(key), "{:.1f}")

    p95s = [d.get("key_latency_ms", {}).get("p95") for d in configs]
    rss = [d.get("peak_rss_mb") for d in configs]
    lost = [d.get("lines_lost_on_disk") for d in configs]
    row("hosts x lines per host", lambda d: f"{d['hosts']} x {d['lines_per_host']:,}")
    row("offered lines/s per host", lambda d: str(d.get("rate_per_host")))
    row("lines/s through the sink (producers)",
        lambda d: _f(d.get("producer_lines_per_s"), "{:,.0f}"))
    row("lines/s handed to the UI (drained by its timer)",
        lambda d: _f(d.get("ui_lines_per_s"), "{:,.0f}"))
    row("key samples", lambda d: str(d.get("key_samples")))
    row("key latency p50 ms", lambda d: lat(d, "p50"))
    row("key latency p95 ms", lambda d: lat(d, "p95"),
        "< 100: " + ", ".join(_target(None if p is None else p < 100) for p in p95s))
    row("key latency max ms", lambda d: lat(d, "max"))
    row("peak RSS MB (VmHWM)", lambda d: _f(d.get("peak_rss_mb"), "{:.0f}"),
        "< 400: " + ", ".join(_target(None if r is None else r < 400) for r in rss))
    row("UI ticks / mean / max apply ms", lambda d: f"{d.get('ui_ticks')} / "
        f"{_f(d.get('ui_apply_ms_mean'), '{:.1f}')} / {_f(d.get('ui_apply_ms_max'), '{:.1f}')}")
    row("CPU s: UI thread / whole process", lambda d: f"{_f(d.get('ui_thread_cpu_seconds'))}"
        f" / {_f(d.get('process_cpu_seconds'))}")
    row("GC: gen-2 collections / max pause ms / total ms",
        lambda d: f"{d.get('gc', {}).get('gen2_collections')} / "
                  f"{_f(d.get('gc', {}).get('gen2_max_ms'), '{:.0f}')} / "
                  f"{_f(d.get('gc', {}).get('total_ms'), '{:.0f}')}")
    row("lines on disk / sent", lambda d: f"{d.get('lines_on_disk'):,} / {d.get('lines_sent'):,}",
        "none lost: " + ", ".join(_target(None if x is None else x == 0) for x in lost))
    return [*out, ""]


def _startup(d: dict[str, Any]) -> list[str]:
    med = d.get("median_seconds")
    return [
        "## 5. Start-up to first frame",
        "",
        d.get("method", ""),
        "",
        "| config | runs | median s | min s | max s | CLI + config load s | console import s "
        "| CPU s | target < 1 s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {d['hosts']} hosts ({d['projects']} projects x {d['environments']} envs x "
        f"{d['hosts_per_env']}) | {d['runs']} | {_f(med, '{:.3f}')} | "
        f"{_f(d.get('min_seconds'), '{:.3f}')} | {_f(d.get('max_seconds'), '{:.3f}')} | "
        f"{_f(d.get('config_load_median_seconds'), '{:.3f}')} | "
        f"{_f(d.get('import_median_seconds'), '{:.3f}')} | "
        f"{_f(d.get('cpu_median_seconds'), '{:.3f}')} | "
        f"{_target(None if med is None else med < 1)} |",
        "",
        *([f"A minimal Textual app's first frame, alternated: "
           f"{_f(d['minimal_textual_median_seconds'], '{:.3f}')} s "
           f"({_f(d.get('minimal_textual_cpu_median_seconds'), '{:.3f}')} s CPU); "
           f"the console ÷ it: **{_f(d.get('ratio_vs_minimal_textual'))}** wall, "
           f"{_f(d.get('cpu_ratio_vs_minimal_textual'))} CPU (goal ≤ 1.3). "
           f"Plain Textual with the console's kinds of widgets (no deploytui code): "
           f"{_f(d.get('textual_widgets_median_seconds'), '{:.3f}')} s, "
           f"{_f(d.get('textual_widgets_ratio_vs_minimal_textual'))}x the minimal app; "
           f"the console ÷ it: {_f(d.get('ratio_vs_textual_widgets'))}. CLI, median s: "
           + ", ".join(f"{k} {_f(v, '{:.3f}')}" for k, v in d["cli_median_seconds"].items())
           + "; ÷ `import fabric`: " + ", ".join(
               f"{k} **{_f(v)}**" for k, v in d["cli_ratio_vs_import_fabric"].items())
           + " (goal ≤ 1.3).", ""] if "minimal_textual_median_seconds" in d else []),
    ]
