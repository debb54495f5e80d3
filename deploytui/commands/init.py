"""`deploytui init [PATH]`: a commented starter deploytui.yml for the app in this directory.

Inside a git repository the repo URL (the `origin` remote, else the first) and the
default branch (the remote's HEAD, else the branch checked out) are filled in; what
cannot be guessed (the servers, a repo URL without a remote) is a CHANGE-ME placeholder
that `deploytui check` names with its line. An existing file is never overwritten.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from deploytui.commands import EXIT_FAILED, EXIT_OK
from deploytui.config.starter import (
    PLACEHOLDER_HOST,
    PLACEHOLDER_REPO,
    project_name,
    starter_config,
)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$|^([^\s@/:]+@)?[^\s@/:]+:\S+$")


@dataclass(frozen=True)
class Repository:
    top: Path | None  # None: not inside a git repository
    url: str | None  # None: no remote
    branch: str


def _git(cwd: Path, *argv: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(cwd), *argv], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=10,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def inspect(cwd: Path) -> Repository:
    """What git says about the repository `cwd` is in (nothing when it is in none)."""
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return Repository(None, None, "main")
    remotes = (_git(cwd, "remote") or "").split()
    remote = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
    url = _git(cwd, "remote", "get-url", remote) if remote else None
    if url and not _URL.match(url) and not url.startswith("/"):  # a relative path remote
        url = str((Path(top) / url).resolve())
    head = _git(cwd, "symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD") \
        if remote else None
    branch = (head.split("/", 1)[1] if head and "/" in head else None) \
        or _git(cwd, "symbolic-ref", "--quiet", "--short", "HEAD") or "main"
    return Repository(Path(top), url, branch)


def _url_name(url: str | None) -> str:
    """`shop` from git@github.com:acme/shop.git or https://…/shop (the app's own name)."""
    if not url:
        return ""
    tail = url.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
    return tail.removesuffix(".git")


def run(args: argparse.Namespace, config: object = None) -> int:
    path: Path = args.path
    if path.exists() or path.is_symlink():
        print(f"deploytui: {path} already exists: not overwritten (edit it, or give "
              "another path: deploytui init PATH)", file=sys.stderr)
        return EXIT_FAILED
    cwd = Path.cwd()
    repo = inspect(cwd)
    name = project_name(_url_name(repo.url) or (repo.top or cwd).name)
    text = starter_config(name, repo.url or PLACEHOLDER_REPO, repo.branch)
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": never over a file made meanwhile
            out.write(text)
    except OSError as exc:
        print(f"deploytui: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {path}: project '{name}', one environment 'production'")
    if repo.top is None:
        print(f"not inside a git repository: the repo is a placeholder too ({PLACEHOLDER_REPO})")
    elif repo.url is None:
        print(f"this repository has no remote: the repo is a placeholder ({PLACEHOLDER_REPO})")
    else:
        print(f"repo {repo.url}, branch {repo.branch}")
    config_flag = "" if path == Path("deploytui.yml") else f" --config {path}"
    print("next:")
    print(f"  1. edit {path}: every CHANGE-ME (the host {PLACEHOLDER_HOST}"
          + (", the repo" if repo.url is None else "") + "), the roles' build and restart")
    print(f"  2. deploytui check{config_flag}             lists what is left to edit")
    print(f"  3. deploytui check{config_flag} --connect   reaches every host")
    print(f"  4. deploytui deploy{config_flag} {name} production")
    print("to see the console first, without any server: deploytui demo")
    return EXIT_OK
