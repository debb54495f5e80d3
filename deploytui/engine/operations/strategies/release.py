"""`release`: a bare mirror in repo/, each deploy a fresh releases/<id> from it."""

from __future__ import annotations

from deploytui.engine.operations.strategies import (
    HostContext,
    build_and_tasks,
    new_release_step,
    shared_step,
)
from deploytui.engine.remote.steps import Step
from deploytui.engine.shell import q


def mirror_step(ctx: HostContext) -> Step:
    """Clone the mirror once, then only fetch; the sha must be in it afterwards."""
    repo = q(ctx.layout.repo)
    return Step("fetch", (
        f"if [ -f {repo}/HEAD ]; then"
        f" git --git-dir={repo} remote set-url origin {q(ctx.repo_url)} &&"
        f" git --git-dir={repo} remote update --prune || exit 1;"
        f" else git clone --mirror --quiet -- {q(ctx.repo_url)} {repo} || exit 1; fi; "
        f"git --git-dir={repo} cat-file -e {q(ctx.sha + '^{commit}')} 2>/dev/null ||"
        f" {{ echo {q('commit ' + ctx.sha + ' not found in ' + ctx.repo_url)} >&2; exit 1; }}"),
        inline=True)


def checkout_step(ctx: HostContext) -> Step:
    """The tree of `sha` into the release; git's status is checked through PIPESTATUS,
    not `set -o pipefail`, which would outlive an inline step into the user's build."""
    rel = q(ctx.release_path)
    return Step("checkout", (
        f"git --git-dir={q(ctx.layout.repo)} archive {q(ctx.sha)} | tar -x -f - -C {rel}"
        " && [ \"${PIPESTATUS[0]}\" = 0 ]"
        f" && printf '%s\\n' {q(ctx.sha)} > {rel}/REVISION"), inline=True)


def prepare_steps(ctx: HostContext) -> list[Step]:
    steps = [new_release_step(ctx), mirror_step(ctx), checkout_step(ctx)]
    shared = shared_step(ctx)
    if shared is not None:
        steps.append(shared)
    return steps + build_and_tasks(ctx)
