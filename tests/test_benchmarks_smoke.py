"""The benchmark scripts still run end to end (`benchmarks/run.py --quick`).

Only that they produce their files and keys is checked, never a timing: speed is
measured by benchmarks/, as ratios against floors, not asserted by tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _fleet_possible() -> bool:
    from fleet import FleetUnavailable, _check_machine

    try:
        _check_machine()
    except FleetUnavailable:
        return False
    return True


FLEET = "scale,known_hosts,flood,latency,bastion,health,fanout"


@pytest.mark.timeout(170)  # budget ~40 s; the margin is for a loaded shared machine
def test_quick_benchmark_run_writes_markdown_and_json_with_every_figure(tmp_path: Path) -> None:
    only = f"{FLEET},console,startup" if _fleet_possible() else "console,startup"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(tmp_path / "data"),
           "DEPLOYTUI_CONFIG_DIR": str(tmp_path / "config")}
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                          "--only", only, "--out", str(tmp_path / "results")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=165)
    assert res.returncode == 0, res.stderr[-2000:]

    out = tmp_path / "results"
    assert (out / "latest.md").read_text().startswith("# deploytui benchmark results")
    data = json.loads((out / "latest.json").read_text())
    assert len(list(out.glob("2*.json"))) == 1 and len(list(out.glob("2*.md"))) == 1
    assert data["errors"] == {}, data["errors"]
    assert {"nproc", "cpu", "memory_gb", "python", "textual", "paramiko", "fabric",
            "load_average_at_start"} <= set(data["machine"])
    assert data["code"]
    bench = data["benchmarks"]
    assert set(bench) == set(only.split(","))

    console = bench["console"]["configs"][0]
    for key in ("producer_lines_per_s", "ui_lines_per_s", "key_latency_ms", "peak_rss_mb",
                "lines_on_disk", "lines_sent"):
        assert key in console
    assert console["lines_lost_on_disk"] == 0  # correctness, not speed
    assert {"median_seconds", "import_median_seconds", "hosts"} <= set(bench["startup"])

    if "scale" in bench:
        for row in bench["scale"]["by_hosts"].values():
            assert set(row) == {"deploy", "rollback", "listing"}
            for op in row.values():
                for tool in ("deploytui", "fabric"):
                    s = op["tools"][tool]
                    assert s["failed"] == 0, s["first_error"]
                    assert s["peak_threads"] > 0 and s["peak_rss_mb"] > 0
                assert op["ratio_wall"] is not None
            same = row["rollback"]["same_safety"]  # the floor with deploytui's safety
            assert same["fabric"]["failed"] == 0, same["fabric"]["first_error"]
            assert same["ratio_wall"] is not None
        assert bench["known_hosts"]["ratio"] is not None
        flood = bench["flood"]
        assert flood["cli_lines_missing_in_host_logs"] == [0]  # every line in the host logs
        assert flood["ssh_lines_received"] == [2 * 2000]
        assert all(r["ratio"] is not None for r in bench["latency"]["by_hosts"].values())
        assert bench["bastion"]["bastion"]["failed"] == 0 and bench["bastion"]["ratio"]
        assert "supported" in bench["health"]
        assert not bench["fanout"]["failed_sizes"]  # e.g. a deploy that switched nothing
        for row in bench["fanout"]["by_hosts"].values():
            for tool in ("deploytui", "fabric"):
                s = row["tools"][tool]
                assert s["failed"] == 0, s["first_error"]
                assert s["median_bytes_sent"] > 0
            assert row["ratio_wall"] is not None
