"""The one entry point of deploytui's benchmarks; writes results/<UTC stamp>.{json,md}.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/run.py [--quick] [--only scale,known_hosts,
        flood,latency,bastion,health,fanout,deploy,listing,console,startup]
        [--sizes 1,10,30,100,200] [--fanout-sizes 30,100] [--hosts 1,10,30] [--runs N]
        [--out DIR]

Every figure is a ratio against a floor measured in the same run, or a median of
several runs; nothing here is a pass/fail assertion (targets are printed beside the
figures for the reader). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.common import log, machine  # noqa: E402

ALL = ("scale", "known_hosts", "flood", "latency", "bastion", "health", "fanout", "deploy",
       "listing", "console", "startup")
# what a run without --only does: every benchmark but the older in-process deploy and
# listing ones (deploy_speed.py, listing.py: three tools incl. an ssh ControlMaster floor,
# phase times, connections per host), which `--only deploy,listing` still runs
DEFAULT = ("scale", "known_hosts", "flood", "latency", "bastion", "health", "fanout",
           "console", "startup")
FLEET_BENCHES = ("scale", "known_hosts", "flood", "latency", "bastion", "health", "fanout",
                 "deploy", "listing")

# the full run's sizes (quick run's in parentheses): issue 10 and issue 15
KNOWN_HOSTS = {"hosts": 30, "lines": 5000}  # (2 hosts, 100 lines)
FLOOD = {"hosts": 10, "lines": 100_000}  # (2 hosts, 2,000 lines)
LATENCY_HOSTS = (10, 30)  # (2): 10 is latency-bound here, 30 also CPU-bound
BASTION_HOSTS = 40  # (2)
HEALTH_HOSTS = 10  # (2)
FANOUT_SIZES = "30,100"  # (2); issue 28, a 30 MB artifact (quick: 1 MB)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes (CI smoke run): hosts 1,2; 1 run; console 5x500 lines")
    p.add_argument("--only", default=",".join(DEFAULT),
                   help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--hosts", default=None, help="host counts for the deploy benchmark "
                   "(default 1,10,30; quick: 1,2)")
    p.add_argument("--sizes", default=None, help="host counts for the scale benchmark "
                   "(deploy, rollback, listing vs bare Fabric; default 1,10,30,100,200; "
                   "quick: 2)")
    p.add_argument("--fanout-sizes", default=None, help="host counts for the fanout "
                   f"benchmark (artifact relay vs Fabric put; default {FANOUT_SIZES}; quick: 2)")
    p.add_argument("--runs", type=int, default=None,
                   help="timed runs per configuration (default 3; quick: 1)")
    p.add_argument("--code", default=None,
                   help="what code is measured, for the record (default: git HEAD of this tree)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                   help="where results go (default benchmarks/results)")
    args = p.parse_args(argv)
    args.only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = set(args.only) - set(ALL)
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.host_counts = [int(h) for h in (args.hosts or ("1,2" if args.quick else "1,10,30"))
                        .split(",")]
    args.sizes = [int(h) for h in (args.sizes or ("2" if args.quick else "1,10,30,100,200"))
                  .split(",")]
    args.fanout_sizes = [int(h) for h in (args.fanout_sizes or ("2" if args.quick
                                                                else FANOUT_SIZES)).split(",")]
    args.runs = args.runs or (1 if args.quick else 3)
    return args


def fleet_size(args: argparse.Namespace) -> int:
    """The hosts the chosen benchmarks need at once (the bastion is one more host)."""
    q = args.quick
    need = {"scale": max(args.sizes), "deploy": max(args.host_counts),
            "listing": max(args.host_counts),
            "known_hosts": 2 if q else KNOWN_HOSTS["hosts"],
            "flood": 2 if q else FLOOD["hosts"], "latency": 2 if q else max(LATENCY_HOSTS),
            "bastion": (2 if q else BASTION_HOSTS) + 1, "health": 2 if q else HEALTH_HOSTS,
            "fanout": max(args.fanout_sizes)}
    return max(need.get(name, 1) for name in args.only)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick,
                               "code": args.code or _head(),
                               "options": {"only": args.only, "sizes": args.sizes,
                                           "hosts": args.host_counts, "runs": args.runs},
                               "benchmarks": {}, "errors": {}}
    began = time.perf_counter()
    fleet = None
    try:
        if set(args.only) & set(FLEET_BENCHES):
            from tests.fleet import Fleet

            size = fleet_size(args)
            log(f"starting a fleet of {size} sshd hosts")
            fleet = _start_fleet(Fleet, size)
            results["fleet_start_seconds"] = round(fleet.start_seconds, 2)
        for name in args.only:
            log(f"--- {name}")
            try:
                results["benchmarks"][name] = _one(name, args, fleet)
            except Exception as exc:  # one broken benchmark must not lose the others
                log(f"{name} FAILED: {exc}")
                results["errors"][name] = "".join(
                    traceback.format_exception_only(type(exc), exc)).strip()
                results["errors"][name + "_traceback"] = traceback.format_exc()
            write_partial(results, Path(args.out))
    finally:
        if fleet is not None:
            fleet.stop()
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    json_path, md_path = write(results, Path(args.out))
    for name in ("partial.json", "partial.md"):
        (Path(args.out) / name).unlink(missing_ok=True)
    log(f"wrote {json_path} and {md_path}")
    print(md_path.read_text())
    return 0


def _start_fleet(fleet_class: Any, size: int) -> Any:
    """Start the fleet; on a shared machine another session's stale fleet clean-up can
    SIGKILL a host as it starts (a recycled namespace id: tests/fleet.py on main), so a
    failed start is logged and tried again, twice at most."""
    for attempt in range(3):
        try:
            return fleet_class.start(size)
        except RuntimeError as exc:
            if attempt == 2:
                raise
            log(f"fleet start failed ({str(exc).splitlines()[0]}); trying again")
    raise AssertionError("unreachable")


def _head() -> str:
    import subprocess

    res = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def _one(name: str, args: argparse.Namespace, fleet: Any) -> dict[str, Any]:
    q = args.quick
    if name == "scale":
        from benchmarks import scale

        return scale.run(fleet, args.sizes, args.runs, warm_up=not q)
    if name == "known_hosts":
        from benchmarks import known_hosts

        return known_hosts.run(fleet, hosts=2 if q else KNOWN_HOSTS["hosts"],
                               lines=100 if q else KNOWN_HOSTS["lines"],
                               runs=1 if q else max(args.runs, 5), warm_up=not q)
    if name == "flood":
        from benchmarks import flood

        return flood.run(fleet, hosts=2 if q else FLOOD["hosts"],
                         lines=2000 if q else FLOOD["lines"], runs=args.runs, console=not q,
                         warm_up=not q)
    if name == "latency":
        from benchmarks import latency

        return {"by_hosts": {str(n): latency.run(fleet, hosts=n, runs=args.runs, warm_up=not q)
                             for n in ((2,) if q else LATENCY_HOSTS)}}
    if name == "bastion":
        from benchmarks import bastion

        return bastion.run(fleet, hosts=2 if q else BASTION_HOSTS, runs=args.runs, warm_up=not q)
    if name == "health":
        from benchmarks import health

        return health.run(fleet, hosts=2 if q else HEALTH_HOSTS, runs=args.runs)
    if name == "fanout":
        from benchmarks import fanout

        return fanout.run(fleet, args.fanout_sizes, args.runs,
                          blob=1_000_000 if q else fanout.BLOB)
    if name == "deploy":
        from benchmarks import deploy_speed

        return deploy_speed.run(fleet, args.host_counts, args.runs)
    if name == "listing":
        from benchmarks import listing

        return listing.run(fleet, small=1, large=max(args.host_counts),
                           runs=max(args.runs, 3 if not args.quick else 1))
    if name == "console":
        from benchmarks import console_flood

        if args.quick:
            return {"configs": [console_flood.run(hosts=5, lines_per_host=500, rate=1000)]}
        # the flood (1M lines; 50k lines/s offered, more than the pipeline drains)
        # and a paced run at a rate SSH output really comes at, for key latency
        # (+ a diagnostic: the paced run again with garbage collection tuned)
        return {"configs": [console_flood.run(hosts=50, lines_per_host=20_000, rate=1000),
                            console_flood.run(hosts=50, lines_per_host=2_000, rate=200),
                            console_flood.run(hosts=50, lines_per_host=2_000, rate=200,
                                              gc_tuned=True)]}
    if name == "startup":
        from benchmarks import startup

        return startup.run(runs=1 if args.quick else 5,
                           projects=2 if args.quick else 20)
    raise ValueError(name)


def write_partial(results: dict[str, Any], out: Path) -> None:
    """What is done so far (partial.json/.md), so a run stopped midway loses nothing."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "partial.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "partial.md").write_text(report.markdown(results))


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """<stamp>.json + .md, and latest.json/latest.md copies."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    json_path = out / f"{stamp}.json"
    md_path = out / f"{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    md_path.write_text(report.markdown(results))
    shutil.copyfile(json_path, out / "latest.json")
    shutil.copyfile(md_path, out / "latest.md")
    return json_path, md_path


if __name__ == "__main__":
    sys.exit(main())
