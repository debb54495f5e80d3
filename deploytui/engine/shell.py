"""The one place where values meet the remote shell: every interpolated value goes
through `q()`, so quoting is one function to audit, not fifty."""

from __future__ import annotations

import shlex


def q(value: object) -> str:
    """Shell-quote one value for bash; the only quoting function the engine uses."""
    return shlex.quote(str(value))
