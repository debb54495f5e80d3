"""`revisions.log`: one line per deploy or rollback, in Capistrano's exact wording.

Keeping Capistrano's sentences means a team switching over keeps one readable audit
trail, and tools that parse Capistrano's log keep working.
"""

from __future__ import annotations

from deploytui.engine.remote.layout import Layout
from deploytui.engine.shell import q


def deploy_line(branch: str, sha: str, release_id: str, user: str) -> str:
    return f"Branch {branch} (at {sha}) deployed as release {release_id} by {user}"


def rollback_line(user: str, release_id: str) -> str:
    return f"{user} rolled back to release {release_id}"


def append_command(layout: Layout, line: str) -> str:
    return f"printf '%s\\n' {q(line)} >> {q(layout.revisions_log)}"


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
