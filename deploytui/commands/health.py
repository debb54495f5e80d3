"""`deploytui health PROJECT ENV [--json]`: check every host's roles now, without deploying.

Exit 0 when every check passed, 1 when one failed or a host could not be reached, 2 when
the environment has no health checks configured (nothing could be said).
"""

from __future__ import annotations

import argparse
import json
import sys

from deploytui.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, select
from deploytui.config.model import Config
from deploytui.engine import HealthResult, check_now


def table(results: dict[str, list[HealthResult]]) -> list[str]:
    rows = [("HOST", "ROLE", "HEALTH", "CHECK", "SAW")]
    for host, checks in results.items():
        for r in checks:
            rows.append((host, r.role, "healthy" if r.healthy else "UNHEALTHY", r.check, r.saw))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)), row[4]])
            .rstrip() for row in rows]


def to_json(results: dict[str, list[HealthResult]]) -> dict:
    return {"healthy": all(r.healthy for checks in results.values() for r in checks),
            "hosts": {host: [{"role": r.role, "healthy": r.healthy, "check": r.check,
                              "saw": r.saw, "attempts": r.attempts,
                              "duration": round(r.duration, 3)} for r in checks]
                      for host, checks in results.items()}}


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    if not any(role.health for h in env.hosts for role in project.roles_of(h)):
        print(f"deploytui: no health checks in {project.name}/{env.name} (add `health:` to a "
              "role; see config.example.yml)", file=sys.stderr)
        return EXIT_USAGE
    results = check_now(config, project, env)
    ordered = {h.name: results[h.name] for h in env.hosts if h.name in results}
    if args.json:
        print(json.dumps(to_json(ordered), indent=2))
    else:
        print("\n".join(table(ordered)))
    healthy = all(r.healthy for checks in ordered.values() for r in checks)
    return EXIT_OK if healthy else EXIT_FAILED
