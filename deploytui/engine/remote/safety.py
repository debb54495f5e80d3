"""The one place where values meet the remote shell and where deletions are checked.

Every interpolated value goes through `q()`; every path the engine deletes comes from
`release_path()`, which only ever names a directory directly under `releases/` whose
name is a release id. Keeping both here means one function to audit, not fifty.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from deploytui.engine.shell import q

RELEASE_ID = re.compile(r"^[0-9]{14}$")


class UnsafePath(ValueError):
    """A path the engine refuses to touch; the message says why, in one line."""


def is_release_id(name: str) -> bool:
    return bool(RELEASE_ID.match(name))


def checked_deploy_to(deploy_to: str) -> str:
    """An absolute, normalised deploy_to with no `..`; never `/` itself."""
    path = PurePosixPath(deploy_to)
    if not path.is_absolute():
        raise UnsafePath(f"deploy_to {deploy_to!r} is not absolute")
    if ".." in path.parts:
        raise UnsafePath(f"deploy_to {deploy_to!r} contains '..'")
    if len(path.parts) < 2:
        raise UnsafePath("deploy_to must not be the root directory")
    return str(path)


def release_path(deploy_to: str, release_id: str) -> str:
    """`<deploy_to>/releases/<id>`, only for a well-formed id: the sole deletable path."""
    if not is_release_id(release_id):
        raise UnsafePath(f"{release_id!r} is not a release id (14 digits)")
    return f"{checked_deploy_to(deploy_to)}/releases/{release_id}"


def delete_release_command(deploy_to: str, release_id: str) -> str:
    """A command that deletes one release directory and nothing else.

    It refuses (exit 3) when the entry is a symlink (never followed out of
    `releases/`) or not a directory, and refuses (exit 4) when it is what `current`
    points at, so even a stale plan cannot delete the live release.
    """
    path = release_path(deploy_to, release_id)
    current = f"{checked_deploy_to(deploy_to)}/current"
    return (
        f"p={q(path)}; c={q(current)}; "
        'if [ -L "$p" ] || [ ! -d "$p" ]; then echo "not a release directory: $p" >&2; exit 3; fi; '
        'if [ "$(readlink -f -- "$c" 2>/dev/null)" = "$(readlink -f -- "$p")" ]; then '
        'echo "refusing to delete the current release: $p" >&2; exit 4; fi; '
        'rm -rf --one-file-system -- "$p"'
    )
