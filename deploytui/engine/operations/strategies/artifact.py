"""`artifact`: one tarball built on the deploying machine, unpacked on every host.

The upload lands inside the new release directory (the only place the engine may
delete from) and its sha256 is verified on the host before it is unpacked. With
`ship: relay` (the default) the "upload" is mostly a fetch from a peer host
(operations/deploy/fanout.py); what a killed deploy's transfer left in a release directory is
removed when the next deploy creates its release, under the lock.
"""

from __future__ import annotations

from pathlib import Path

from deploytui.engine.operations.strategies import (
    HostContext,
    build_and_tasks,
    new_release_step,
    shared_step,
)
from deploytui.engine.remote.peer_copy import CHECKED_SUFFIX, leftovers_command
from deploytui.engine.remote.steps import Step
from deploytui.engine.shell import q

UPLOAD_NAME = ".deploytui-artifact.tar.gz"


def prepare_steps(ctx: HostContext) -> list[Step]:
    rel = ctx.release_path
    remote = f"{rel}/{UPLOAD_NAME}"
    checked = remote + CHECKED_SUFFIX
    local = ctx.artifact or Path("artifact.tar.gz")  # the plan shows a placeholder
    create = new_release_step(ctx)
    steps = [
        Step(create.name, f"{leftovers_command(ctx.layout.releases, UPLOAD_NAME)}; "
                          f"{create.command}", inline=True),
        Step("upload artifact", upload=local, remote=remote),
        Step("unpack", (
            # a copy fetched from a peer was hashed as it arrived (remote/peer_copy.py)
            f"__dt_got=; {{ IFS= read -r __dt_got < {q(checked)}; }} 2>/dev/null; "
            f"if [ \"$__dt_got\" != {q(ctx.artifact_sha256)} ]; then"
            f" __dt_got=$(sha256sum {q(remote)} | cut -d' ' -f1); fi; "
            f"if [ \"$__dt_got\" != {q(ctx.artifact_sha256)} ]; then"
            f" echo \"artifact checksum mismatch: $__dt_got\" >&2; exit 1; fi; "
            f"tar -x -z -f {q(remote)} -C {q(rel)} && rm -f {q(remote)} {q(checked)} &&"
            f" printf '%s\\n' {q(ctx.sha)} > {q(rel)}/REVISION"), inline=True),
    ]
    shared = shared_step(ctx)
    if shared is not None:
        steps.append(shared)
    return steps + build_and_tasks(ctx, build=False)  # built once, locally
