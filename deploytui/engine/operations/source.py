"""The code being deployed, seen from the deploying machine.

The commit is resolved ONCE, here, into a full sha, and every host deploys exactly
that sha: a branch moving during a deploy cannot split the fleet. Resolution uses a
local bare mirror of the repository (a cache under the data dir), which also gives the
commit subject and, for the artifact strategy, the tree to build. Every git call is an
argv list (no shell), with `--end-of-options` before user input, so a ref such as
`master; touch /tmp/x` is only ever a failed lookup.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from deploytui import paths
from deploytui.config.model import Environment, Project
from deploytui.engine.errors import one_line
from deploytui.engine.events import Sink
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.remote.steps import in_dir, run_step

BUILTIN_DEMO = "builtin:demo"
GIT_TIMEOUT = 300.0


class SourceError(Exception):
    """The repository or the ref cannot be used; str() is one line."""


@dataclass(frozen=True)
class Resolved:
    repo_url: str  # what hosts clone from
    ref: str  # what the user asked for (branch, tag or sha)
    branch: str  # for revisions.log: the ref as given
    sha: str  # full 40-hex commit id
    subject: str
    cache: Path  # local bare mirror


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int
    workdir: Path  # temp dir holding it; remove with `discard()`

    def discard(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def demo_repo() -> Path:
    """The bundled sample app as a git repo in the user data dir (made on first use)."""
    from deploytui.sample_app import create_sample_repo

    return create_sample_repo(paths.data_dir() / "demo-repo")


def repo_url(project: Project) -> str:
    return str(demo_repo()) if project.repo == BUILTIN_DEMO else project.repo


def _git_env() -> dict[str, str]:
    """The user's own git (system, global and repo config all apply: proxies, `insteadOf`
    rewrites, `safe.directory`), minus anything that would wait for a person: no terminal
    prompt, and askpass helpers that answer nothing."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true"}


def _git(*args: str, git_dir: Path | None = None, timeout: float = GIT_TIMEOUT
         ) -> subprocess.CompletedProcess[str]:
    argv = ["git"] + ([f"--git-dir={git_dir}"] if git_dir else []) + list(args)
    try:  # a new session: no controlling terminal, so ssh cannot prompt on the console's
        return subprocess.run(argv, capture_output=True, text=True, env=_git_env(),
                              timeout=timeout, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} timed out after {timeout:g}s") from None


def _last(text: str) -> str:
    """The one line that says why (engine/errors.py's rule)."""
    return one_line(text)


def cache_dir(url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return paths.data_dir() / "git-cache" / f"{digest}.git"


def update_cache(url: str) -> Path:
    """Clone (first time) or fetch the local mirror of `url`; serialised by a file lock."""
    cache = cache_dir(url)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / "HEAD").exists():
            res = _git("remote", "update", "--prune", git_dir=cache)
        else:
            shutil.rmtree(cache, ignore_errors=True)
            res = _git("clone", "--mirror", "--quiet", "--", url, str(cache))
        if res.returncode != 0:
            raise SourceError(f"cannot fetch {url}: {_last(res.stderr)}")
    return cache


def resolve(project: Project, environment: Environment, ref: str | None = None, *,
            sha: str | None = None) -> Resolved:
    """Resolve the branch (or --ref) to a full sha on this machine, once per deploy.

    `sha` pins the commit (the one a confirmed plan showed) while the branch is still
    what the journal and revisions.log name.
    """
    url = repo_url(project)
    wanted = ref or environment.branch or project.branch
    lookup = sha or wanted
    if not lookup or lookup.startswith("-") or "\n" in lookup:
        raise SourceError(f"ref {lookup!r} not found in {url}")
    cache = update_cache(url)
    res = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{lookup}^{{commit}}",
               git_dir=cache)
    found = res.stdout.strip()
    if res.returncode != 0 or len(found) != 40:
        raise SourceError(f"ref {lookup!r} not found in {url}")
    subject = _git("log", "-1", "--format=%s", found, git_dir=cache).stdout.strip()
    return Resolved(repo_url=url, ref=wanted, branch=wanted, sha=found, subject=subject,
                    cache=cache)


def subjects(resolved: Resolved, shas: list[str]) -> dict[str, str]:
    """Commit subjects for known shas (for listings); unknown shas are left out."""
    found: dict[str, str] = {}
    for sha in shas:
        res = _git("log", "-1", "--format=%s", "--end-of-options", sha, git_dir=resolved.cache)
        if res.returncode == 0:
            found[sha] = res.stdout.strip()
    return found


@dataclass(frozen=True)
class Changes:
    """How the target commit relates to what a host runs now, for the plan."""

    direction: str  # same | forward | back | diverged | unknown
    commits: tuple[tuple[str, ...], ...] = ()  # (short sha, subject[, author]), newest first
    total: int = 0  # commits in that direction (commits may be cut at `limit`)


def changes_between(resolved: Resolved, old_sha: str, limit: int = 20, *,
                    authors: bool = False) -> Changes:
    """The commits a deploy brings (forward) or takes away (back) relative to old_sha;
    with `authors`, each commit is (short sha, subject, author name)."""
    new_sha = resolved.sha
    if not old_sha:
        return Changes("unknown")
    if old_sha == new_sha:
        return Changes("same")
    known = _git("cat-file", "-e", "--end-of-options", f"{old_sha}^{{commit}}",
                 git_dir=resolved.cache)
    if known.returncode != 0:
        return Changes("unknown")

    def count(span: str) -> int:
        res = _git("rev-list", "--count", "--end-of-options", span, git_dir=resolved.cache)
        return int(res.stdout.strip() or 0) if res.returncode == 0 else 0

    ahead, behind = count(f"{old_sha}..{new_sha}"), count(f"{new_sha}..{old_sha}")
    direction = ("forward" if ahead and not behind else "back" if behind and not ahead
                 else "diverged")
    span = f"{new_sha}..{old_sha}" if direction == "back" else f"{old_sha}..{new_sha}"
    fmt = "--format=%h%x00%s%x00%an" if authors else "--format=%h%x00%s"
    log = _git("log", f"--max-count={limit}", fmt, "--end-of-options", span,
               git_dir=resolved.cache)
    commits = tuple(tuple(line.split("\0", 2 if authors else 1))
                    for line in log.stdout.splitlines() if "\0" in line)
    return Changes(direction, commits, behind if direction == "back" else ahead)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_artifact(project: Project, resolved: Resolved, env: dict[str, str], sink: Sink,
                   cancel: threading.Event | None = None) -> Artifact:
    """Check the sha out in a temp dir, run `build` there once, pack a tar.gz (without
    `build`, the commit's tree straight from `git archive`).

    Build output streams as HostLine events of the pseudo-host "local". Raises
    StepFailed (host "local") when a build command fails or is cancelled.
    """
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-artifact-"))
    try:
        if not project.build:  # nothing to build: the commit's tree is the artifact
            out = workdir / "artifact.tar.gz"
            res = _git("archive", "--format=tar.gz", "-o", str(out), resolved.sha,
                       git_dir=resolved.cache)
            if res.returncode != 0:
                raise SourceError(f"git archive {resolved.sha}: {_last(res.stderr)}")
            return Artifact(path=out, sha256=_sha256(out), size=out.stat().st_size,
                            workdir=workdir)
        src = workdir / "src"
        src.mkdir()
        tar = workdir / "src.tar"
        res = _git("archive", "--format=tar", "-o", str(tar), resolved.sha, git_dir=resolved.cache)
        if res.returncode != 0:
            raise SourceError(f"git archive {resolved.sha}: {_last(res.stderr)}")
        unpack = subprocess.run(["tar", "-x", "-f", str(tar), "-C", str(src)],
                                capture_output=True, text=True)
        tar.unlink()
        if unpack.returncode != 0:
            raise SourceError(f"unpacking {resolved.sha}: {_last(unpack.stderr)}")
        local = LocalTransport("local")
        local.connect()
        build_env = {**env, "DEPLOYTUI_HOST": "local", "DEPLOYTUI_RELEASE_PATH": str(src)}
        for cmd in project.build:
            run_step(local, "prepare", f"build (local): {cmd}", in_dir(str(src), cmd), sink=sink,
                     cancel=cancel, timeout=project.timeout, env=build_env)
        out = workdir / "artifact.tar.gz"
        packed = subprocess.run(["tar", "-czf", str(out), "-C", str(src), "."],
                                capture_output=True, text=True)
        if packed.returncode != 0:
            raise SourceError(f"packing the artifact: {_last(packed.stderr)}")
        shutil.rmtree(src, ignore_errors=True)
        return Artifact(path=out, sha256=_sha256(out), size=out.stat().st_size,
                        workdir=workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
