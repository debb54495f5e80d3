"""`pull`: deploy_to is a git working copy moved to the exact sha (never a merge).

Prepare only fetches (so every host has the commit before any host moves); the move
(`git checkout -f --detach SHA`), build and tasks come after the barrier, in place of
the symlink switch. The first deploy turns deploy_to into a working copy with
`git init` + fetch, which works even though `.deploytui/` (the lock) already sits in it.
"""

from __future__ import annotations

from deploytui.engine.operations.strategies import HostContext, build_and_tasks
from deploytui.engine.remote.steps import Step
from deploytui.engine.shell import q

_EXCLUDES = "/.deploytui/\n/revisions.log\n"


def head_command(ctx: HostContext) -> str:
    """Prints the working copy's current commit (empty when there is none yet)."""
    d = q(ctx.layout.deploy_to)
    return f"git -C {d} rev-parse -q --verify HEAD 2>/dev/null || true"


def prepare_steps(ctx: HostContext) -> list[Step]:
    d = q(ctx.layout.deploy_to)
    return [Step("fetch", (
        f"mkdir -p {d} || exit 1; "
        f"if [ ! -d {d}/.git ]; then git init -q {d} &&"
        f" git -C {d} remote add origin {q(ctx.repo_url)} &&"
        f" printf {q(_EXCLUDES)} >> {d}/.git/info/exclude || exit 1;"
        f" else git -C {d} remote set-url origin {q(ctx.repo_url)} || exit 1; fi; "
        f"git -C {d} fetch --quiet --prune origin '+refs/heads/*:refs/remotes/origin/*'"
        f" '+refs/tags/*:refs/tags/*' || exit 1; "
        f"git -C {d} cat-file -e {q(ctx.sha + '^{commit}')} 2>/dev/null ||"
        f" {{ echo {q('commit ' + ctx.sha + ' not found in ' + ctx.repo_url)} >&2; exit 1; }}"),
        inline=True)]


def checkout_command(deploy_to: str, sha: str) -> str:
    """The move of a working copy to `sha`: a deploy's, its way back's, a rollback's."""
    return f"git -C {q(deploy_to)} checkout -q -f --detach {q(sha)}"


def activate_steps(ctx: HostContext) -> list[Step]:
    """The deploy's move to its commit, then the build and the roles' tasks in place."""
    return [Step("checkout", checkout_command(ctx.layout.deploy_to, ctx.sha)),
            *build_and_tasks(ctx)]
