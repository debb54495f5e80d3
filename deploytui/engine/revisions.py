"""`revisions.log`: one line per deploy or rollback, in Capistrano's exact wording.

Keeping Capistrano's sentences means a team switching over keeps one readable audit
trail, and tools that parse Capistrano's log keep working.
"""

from __future__ import annotations

from deploytui.engine.hostpool import HostPool
from deploytui.engine.layout import Layout
from deploytui.engine.safety import q

REVISIONS_TIMEOUT = 30.0


def deploy_line(branch: str, sha: str, release_id: str, user: str) -> str:
    return f"Branch {branch} (at {sha}) deployed as release {release_id} by {user}"


def rollback_line(user: str, release_id: str) -> str:
    return f"{user} rolled back to release {release_id}"


def append_command(layout: Layout, line: str) -> str:
    return f"printf '%s\\n' {q(line)} >> {q(layout.revisions_log)}"


def append_revisions(pool: HostPool, layouts: dict[str, Layout], line: str
                     ) -> dict[str, str]:
    """Append `line` to every host's revisions.log; returns host -> error (best effort)."""
    def append(host, transport) -> None:
        res = transport.run(append_command(layouts[host.name], line), capture=True,
                            timeout=REVISIONS_TIMEOUT)
        if not res.ok:
            raise RuntimeError(f"{host.name}: revisions.log: {res.last_line()}")

    outcomes = pool.map(append, [pool.host(n) for n in layouts])
    return {n: str(o.error) for n, o in outcomes.items() if o.error is not None}


def parse_line(line: str) -> dict[str, str] | None:
    """A revisions.log line as fields (kind, branch, sha, release, user), or None."""
    words = line.strip().split()
    if len(words) >= 9 and words[0] == "Branch" and words[2] == "(at":
        return {"kind": "deploy", "branch": words[1], "sha": words[3].rstrip(")"),
                "release": words[7], "user": " ".join(words[9:])}
    if "rolled back to release" in line:
        user, release = line.strip().rsplit(" rolled back to release ", 1)
        return {"kind": "rollback", "user": user, "release": release}
    return None
