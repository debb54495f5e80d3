"""A tiny sample application in a real git repository.

The built-in demo deploys it without any server of the user's, and the test suite deploys
it to the real-SSH test fleet. Its scripts give tests handles on a deploy from the outside:
`build.sh` fails or stalls on ONE host when a marker file sits in that host's `$HOME`, and
`restart.sh` leaves a trace in `$HOME/restarts.log` that says which release was restarted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = ("deploytui sample", "sample@deploytui.invalid")
BRANCH = "main"

_APP_V1 = '''\
"""The sample app: a web page served by the standard library only."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"Hello from the deploytui sample app\\n")


if __name__ == "__main__":
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    HTTPServer((address, port), Handler).serve_forever()
'''

_APP_V2 = _APP_V1.replace(
    "    def do_GET(self) -> None:\n        self.send_response(200)",
    "    def do_GET(self) -> None:\n"
    '        if self.path == "/health":\n'
    "            self.send_response(200)\n"
    "            self.end_headers()\n"
    '            self.wfile.write(b"ok\\n")\n'
    "            return\n"
    "        self.send_response(200)",
)

_APP_V3 = _APP_V2.replace(
    'self.wfile.write(b"Hello from the deploytui sample app\\n")',
    'version = open("VERSION").read().strip()\n'
    '        self.wfile.write(f"Hello from the deploytui sample app {version}\\n".encode())',
)

# POSIX sh: the fleet's hosts and the demo's local transport run it as `sh build.sh`.
BUILD_SH = """\
#!/bin/sh
# Build the sample app. Fault markers in $HOME let a test break ONE host of a fleet:
#   ~/.deploytui-slow-build  holds a number of seconds to sleep (a straggler)
#   ~/.deploytui-fail-build  makes the build fail
set -e
echo "Building sample app $(cat VERSION)"
echo "Installing dependencies..."
if [ -f "$HOME/.deploytui-slow-build" ]; then
    secs=$(cat "$HOME/.deploytui-slow-build")
    echo "Waiting ${secs:-1}s for a slow mirror..."
    sleep "${secs:-1}"
fi
if [ -f "$HOME/.deploytui-fail-build" ]; then
    echo "build failed: marker present" >&2
    exit 1
fi
echo "Compiling assets..."
echo "Build complete"
"""

# Records which release was restarted, by the physical name of the script's directory
# (`current` resolves to `releases/<id>`), so tests can tell old and new apart. With
# ~/.deploytui-serve ("ADDRESS PORT") it also (re)starts the app's web server in the
# background, so a health check has something real to ask.
RESTART_SH = """\
#!/bin/sh
set -e
release=$(basename "$(cd "$(dirname "$0")" && pwd -P)")
echo "restarted $release" >> "$HOME/restarts.log"
if [ -f "$HOME/.deploytui-serve" ]; then
    read -r address port < "$HOME/.deploytui-serve"
    if [ -f "$HOME/app.pid" ]; then
        old=$(cat "$HOME/app.pid")
        kill "$old" 2>/dev/null || true
        i=0
        while kill -0 "$old" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    setsid python3 app.py "$address" "$port" > "$HOME/app.log" 2>&1 < /dev/null &
    echo $! > "$HOME/app.pid"
    echo "Serving on http://$address:$port/"
fi
echo "Restarted sample app ($release)"
"""

_HISTORY: list[tuple[str, str, dict[str, str]]] = [
    ("Initial sample app", "2024-01-01T12:00:00+00:00",
     {"app.py": _APP_V1, "VERSION": "1.0.0\n", "build.sh": BUILD_SH, "restart.sh": RESTART_SH,
      "README.md": "# Sample app\n\nDeployed by deploytui's demo and tests.\n"}),
    ("Add health endpoint", "2024-01-02T12:00:00+00:00",
     {"app.py": _APP_V2, "VERSION": "1.1.0\n"}),
    ("Show version on the home page", "2024-01-03T12:00:00+00:00",
     {"app.py": _APP_V3, "VERSION": "1.2.0\n"}),
]


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    """Run git in `repo` isolated from the user's and the system's git config.

    A developer's global config (signing, hooks, templates, default branch) must not
    change what the sample repo looks like or make creating it prompt for anything.
    """
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    name, email = IDENTITY
    cmd = ["git", "-c", f"user.name={name}", "-c", f"user.email={email}",
           "-c", "commit.gpgsign=false", "-C", str(repo), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo} failed: {done.stderr.strip()}")
    return done.stdout


def _commit(repo: Path, message: str, files: dict[str, str], date: str | None) -> str:
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        if rel.endswith(".sh"):
            path.chmod(0o755)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, date=date)
    return _git(repo, "rev-parse", "HEAD").strip()


def create_sample_repo(dest: Path) -> Path:
    """Create the sample repo at `dest` (branch main, three commits) unless it exists.

    Dates and identity are fixed, so the commit ids are the same on every machine.
    """
    dest = Path(dest)
    if (dest / ".git").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "-q", "-b", BRANCH)
    for message, date, files in _HISTORY:
        _commit(dest, message, files, date)
    return dest


def add_commit(repo: Path, message: str, files: dict[str, str]) -> str:
    """Commit `files` (relative path -> content) on the current branch; return the sha.

    Lets a test make "a new version" to deploy. Files ending in .sh are made executable.
    """
    return _commit(Path(repo), message, files, None)
