"""Web links for a project's repository, derived from its git remote URL.

A chat message links the compare page of what ships. Only the host and the repository
path of the remote are used: a user name, password or token written in an https
remote (`https://oauth2:TOKEN@gitlab.com/...`) never reaches a link.
"""

from __future__ import annotations

import re
import urllib.parse

_SCP = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)$")


def web_repo(remote: str) -> tuple[str, str] | None:
    """(kind, https base URL) for a GitHub or GitLab remote, else None.

    `git@github.com:org/app.git`, `ssh://git@gitlab.com[:port]/group/sub/app.git` and
    `https://github.com/org/app(.git)` all work; a host whose name contains "github" or
    "gitlab" (GitHub Enterprise, self-managed GitLab) counts as that service.
    """
    remote = remote.strip()
    if "://" in remote:
        parts = urllib.parse.urlsplit(remote)
        if parts.scheme not in ("ssh", "git+ssh", "https", "http", "git"):
            return None
        host, path = parts.hostname or "", parts.path
        web_port = parts.port if parts.scheme in ("https", "http") else None
    else:
        match = _SCP.match(remote)
        if match is None or remote.startswith("/"):
            return None
        host, path = match["host"], match["path"]
        web_port = None
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    if not host or "/" not in path or ".." in path.split("/"):
        return None
    lowered = host.lower()
    kind = "github" if "github" in lowered else "gitlab" if "gitlab" in lowered else None
    if kind is None:
        return None
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
    port = f":{web_port}" if web_port else ""  # an ssh port is not the web server's
    return kind, f"https://{lowered}{port}/{quoted}"


def compare_url(remote: str, old_sha: str, new_sha: str) -> str:
    """The compare page old...new on GitHub or GitLab, or "" (other hosts, unknown old)."""
    repo = web_repo(remote)
    if repo is None or not old_sha or not new_sha or old_sha == new_sha:
        return ""
    kind, base = repo
    span = f"{old_sha}...{new_sha}"
    return f"{base}/compare/{span}" if kind == "github" else f"{base}/-/compare/{span}"
