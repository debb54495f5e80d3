"""A staged rollout's plan: which hosts switch in which stage (pure, no I/O).

Without `rollout:` every host is one stage (the all-at-once switch). With it, the
first `canary` hosts (in the environment's order) are the first stage, then the rest in
batches of `batch` hosts or of `batch_percent` of the environment (rounded up, at
least one host); no batch setting means all the remaining hosts at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploytui.config.model import Rollout


@dataclass(frozen=True)
class Stage:
    name: str  # "all", "canary", "batch 2/3"
    hosts: tuple[str, ...]


def batch_size(rollout: Rollout, total: int, remaining: int) -> int:
    if rollout.batch is not None:
        return max(1, rollout.batch)
    if rollout.batch_percent is not None:
        return max(1, math.ceil(total * rollout.batch_percent / 100))
    return max(1, remaining)


def plan_stages(hosts: list[str] | tuple[str, ...], rollout: Rollout | None) -> list[Stage]:
    """The stages in order; every host in exactly one of them."""
    hosts = tuple(hosts)
    if not hosts:
        return []
    if rollout is None:
        return [Stage("all", hosts)]
    stages: list[Stage] = []
    canary = min(rollout.canary, len(hosts))
    if canary:
        stages.append(Stage("canary", hosts[:canary]))
    rest = hosts[canary:]
    if rest:
        size = batch_size(rollout, len(hosts), len(rest))
        chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
        if len(chunks) == 1:
            stages.append(Stage("rest" if canary else "all", chunks[0]))
        else:
            stages += [Stage(f"batch {n}/{len(chunks)}", chunk)
                       for n, chunk in enumerate(chunks, 1)]
    return stages


def describe_stages(stages: list[Stage], pause: float = 0.0) -> list[str]:
    """One line per stage for the plan: 'canary: web1', 'batch 1/2: web2, web3'."""
    lines = [f"{stage.name}: {', '.join(stage.hosts)}" for stage in stages]
    if pause and len(stages) > 1:
        lines.append(f"(pause {pause:g}s between stages, each gated by its health checks)")
    return lines
