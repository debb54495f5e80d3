"""The per-host prepare step of each strategy, as a list of named shell steps.

A strategy only says WHAT each host runs (a list of Steps); the orchestrator runs
them, and the dry-run plan prints the very same list, so the plan can never drift from
what a deploy does. Shared paths: an entry ending in `/`, or whose last component has
no dot (`media`, `log`, `tmp/pids`), is a DIRECTORY and is created in shared/ when
missing; any other entry (`.env`, `config/database.yml`) is a FILE that must already
exist in shared/ — a missing one fails the host's prepare naming host and path.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from deploytui.config.model import Host, Project
from deploytui.engine.operations.roles import task_commands
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.steps import Step, in_dir
from deploytui.engine.shell import q


@dataclass(frozen=True)
class HostContext:
    project: Project
    host: Host
    layout: Layout
    release_id: str
    sha: str
    repo_url: str
    artifact: Path | None = None  # artifact strategy: the local tarball
    artifact_sha256: str = ""

    @property
    def release_path(self) -> str:
        """Where this deploy's code lives on the host (deploy_to itself for pull)."""
        if self.project.strategy == "pull":
            return self.layout.deploy_to
        return self.layout.release(self.release_id)


class BadSharedPath(ValueError):
    pass


def shared_entries(project: Project) -> list[tuple[str, bool]]:
    """(relative path, is_directory) of each `shared:` entry; rejects unsafe paths."""
    entries = []
    for raw in project.shared:
        rel = posixpath.normpath(raw.rstrip("/")) if raw.strip("/") else ""
        if not rel or rel.startswith("/") or rel == "." or ".." in rel.split("/"):
            raise BadSharedPath(f"shared path {raw!r} must be relative, inside shared/")
        is_dir = raw.endswith("/") or "." not in posixpath.basename(rel)
        entries.append((rel, is_dir))
    return entries


def shared_step(ctx: HostContext) -> Step | None:
    """Link each shared path into the release (dirs created, files must exist)."""
    entries = shared_entries(ctx.project)
    if not entries:
        return None
    parts = ["set -e"]
    for rel, is_dir in entries:
        src = f"{ctx.layout.shared}/{rel}"
        dst = f"{ctx.release_path}/{rel}"
        if is_dir:
            parts.append(f"mkdir -p {q(src)}")
        else:
            parts.append(f"mkdir -p {q(posixpath.dirname(src))}")
            parts.append(f"if [ ! -e {q(src)} ]; then echo {q('missing shared file ' + src)} >&2;"
                         " exit 1; fi")
        parts.append(f"mkdir -p {q(posixpath.dirname(dst))}")
        parts.append(f"rm -rf -- {q(dst)}")
        parts.append(f"ln -s {q(src)} {q(dst)}")
    return Step("link shared", "\n".join(parts))


def build_and_tasks(ctx: HostContext, *, build: bool = True) -> list[Step]:
    steps = []
    if build:
        steps += [Step(f"build: {cmd}", in_dir(ctx.release_path, cmd))
                  for cmd in ctx.project.build]
    steps += [Step(name, in_dir(ctx.release_path, cmd))
              for name, cmd in task_commands(ctx.project, ctx.host)]
    return steps


def new_release_step(ctx: HostContext) -> Step:
    """Create releases/<id>; refuses (never overwrites) an existing one."""
    rel = ctx.layout.release(ctx.release_id)
    return Step("create release", (
        f"mkdir -p {q(ctx.layout.releases)} {q(ctx.layout.shared)} || exit 1; "
        f"if [ -e {q(rel)} ] || [ -L {q(rel)} ]; then"
        f" echo {q('release ' + ctx.release_id + ' already exists')} >&2; exit 17; fi; "
        f"mkdir {q(rel)}"), inline=True)


def prepare_steps(ctx: HostContext) -> list[Step]:
    """What the host runs before the barrier."""
    from deploytui.engine.operations.strategies import artifact, pull, release

    module = {"release": release, "artifact": artifact, "pull": pull}[ctx.project.strategy]
    return module.prepare_steps(ctx)


def activate_steps(ctx: HostContext) -> list[Step]:
    """pull only: what moves the working copy (after the barrier, in place of a switch)."""
    from deploytui.engine.operations.strategies import pull

    return pull.activate_steps(ctx) if ctx.project.strategy == "pull" else []
