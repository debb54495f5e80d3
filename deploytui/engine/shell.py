"""The one place where values meet the remote shell: every interpolated value goes
through `q()`, so quoting is one function to audit, not fifty."""

from __future__ import annotations

import shlex


def q(value: object) -> str:
    """Shell-quote one value for bash; the only quoting function the engine uses."""
    return shlex.quote(str(value))


def ensure_dir(path: str) -> str:
    """`mkdir -p` only for a directory that is missing: the test is a builtin, so the usual
    case (it exists) starts no process on the host. Every command a deploy sends runs
    on every host at once, so each process saved is saved once per host."""
    return f"{{ [ -d {q(path)} ] || mkdir -p {q(path)}; }}"


UTC_NOW = ("{ TZ=UTC0 printf -v __dt_now '%(%Y-%m-%dT%H:%M:%SZ)T' -1 2>/dev/null"
           " || __dt_now=$(date -u +%Y-%m-%dT%H:%M:%SZ); }")
"""Sets `$__dt_now` to the host's UTC time, with bash's builtin strftime (no process)
where it has one (bash >= 4.2), `date` otherwise."""
