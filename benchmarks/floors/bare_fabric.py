"""Floor (a): the release deploy as a bare Fabric script — the least a Fabric user writes.

The same remote commands deploytui runs for a `release` deploy (copied from
deploytui/engine/operations/strategies/{__init__,release}.py and
engine/remote/switch.py), with none of its extras: no lock, no metadata, no events, no
revisions.log, no prune, no strict host keys (Fabric's default AutoAddPolicy; the
fleet's known_hosts is loaded anyway). Each step is one `ThreadingGroup.run`, which
returns only when every host finished it, so the last step before the switch is the
barrier.

    python benchmarks/floors/bare_fabric.py --user U --key K --known-hosts F \
        --hosts A:P,A:P deploy --deploy-to D --repo-url R --sha S --release-id I \
        --build CMD [--build CMD ...]
    ... rollback --deploy-to D --release-id I      (switch back: one command per host)
    ... safe-rollback --deploy-to D --release-id I (the same, with deploytui's safety)
    ... run --command CMD                          (one command everywhere: a listing)
    ... ship --deploy-to D --repo R --sha S --release-id I
                       (build the tarball locally, put and unpack it on every host, switch)
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import Any

from fabric import Config, ThreadingGroup

q = shlex.quote


def prepare_commands(deploy_to: str, repo_url: str, sha: str, release_id: str,
                     build: list[str]) -> list[str]:
    """deploytui's prepare steps for the release strategy, verbatim."""
    rel = f"{deploy_to}/releases/{release_id}"
    repo = q(f"{deploy_to}/repo")
    commands = [
        # create release
        f"mkdir -p {q(deploy_to + '/releases')} {q(deploy_to + '/shared')} || exit 1; "
        f"if [ -e {q(rel)} ] || [ -L {q(rel)} ]; then"
        f" echo {q('release ' + release_id + ' already exists')} >&2; exit 17; fi; "
        f"mkdir {q(rel)}",
        # fetch (mirror)
        f"if [ -f {repo}/HEAD ]; then"
        f" git --git-dir={repo} remote set-url origin {q(repo_url)} &&"
        f" git --git-dir={repo} remote update --prune || exit 1;"
        f" else git clone --mirror --quiet -- {q(repo_url)} {repo} || exit 1; fi; "
        f"git --git-dir={repo} cat-file -e {q(sha + '^{commit}')} 2>/dev/null ||"
        f" {{ echo {q('commit ' + sha + ' not found in ' + repo_url)} >&2; exit 1; }}",
        # checkout
        f"git --git-dir={repo} archive {q(sha)} | tar -x -f - -C {q(rel)}"
        " && [ \"${PIPESTATUS[0]}\" = 0 ]"
        f" && printf '%s\\n' {q(sha)} > {q(rel)}/REVISION",
    ]
    commands += [f"cd {q(rel)} || exit 1\n{cmd}" for cmd in build]
    return commands


def switch_command(deploy_to: str, release_id: str) -> str:
    """deploytui's switch: new symlink under a temporary name, then rename(2) it."""
    path = f"{deploy_to}/releases/{release_id}"
    cur = q(f"{deploy_to}/current")
    return (f"if [ ! -d {q(path)} ] || [ -L {q(path)} ]; then"
            f" echo 'release {release_id} is missing' >&2; exit 3; fi; "
            f"prev=$(readlink {cur} 2>/dev/null || true); echo DEPLOYTUI-PREV:\"$prev\"; "
            f"tmp={q(deploy_to)}/current.tmp-$$; "
            f"ln -sfn {q(path)} \"$tmp\" && mv -T \"$tmp\" {cur}"
            " || { rm -f \"$tmp\"; exit 1; }")


def _group(hosts: list[str], *, user: str, key: str, known_hosts: str) -> ThreadingGroup:
    """Every host, with the fleet's known_hosts loaded (Fabric's default policy kept)."""
    group = ThreadingGroup(*hosts, user=user,
                           config=Config(overrides={"run": {"in_stream": False, "hide": True}}),
                           connect_kwargs={"key_filename": [key], "look_for_keys": False,
                                           "allow_agent": False})
    for conn in group:
        conn.client.load_host_keys(known_hosts)
    return group


def deploy(hosts: list[str], *, user: str, key: str, known_hosts: str, deploy_to: str,
           repo_url: str, sha: str, release_id: str, build: list[str]) -> float:
    """Run the deploy; returns its wall time in seconds. Raises GroupException on failure."""
    began = time.perf_counter()
    group = _group(hosts, user=user, key=key, known_hosts=known_hosts)
    try:
        for command in prepare_commands(deploy_to, repo_url, sha, release_id, build):
            group.run(command)  # returns when every host is done: a barrier per step
        group.run(switch_command(deploy_to, release_id))
        return time.perf_counter() - began
    finally:
        group.close()


def ship(hosts: list[str], *, user: str, key: str, known_hosts: str, deploy_to: str,
         repo: str, sha: str, release_id: str) -> float:
    """"Build locally and ship it off" as a Fabric user writes it: `git archive` the commit
    into a tar.gz here, create the release on every host, `ThreadingGroup.put` the tarball
    to each (one SFTP upload per host), unpack it there, switch. Returns the wall time."""
    import os
    import subprocess
    import tempfile

    began = time.perf_counter()
    rel = f"{deploy_to}/releases/{release_id}"
    remote = f"{rel}/.artifact.tar.gz"
    with tempfile.TemporaryDirectory(prefix="bare-fabric-ship-") as tmp:
        tarball = os.path.join(tmp, "artifact.tar.gz")
        subprocess.run(["git", f"--git-dir={repo}/.git" if os.path.isdir(f"{repo}/.git")
                        else f"--git-dir={repo}", "archive", "--format=tar.gz", "-o",
                        tarball, sha], check=True)
        group = _group(hosts, user=user, key=key, known_hosts=known_hosts)
        try:
            group.run(f"mkdir -p {q(deploy_to + '/releases')} && mkdir {q(rel)}")
            group.put(tarball, remote)
            group.run(f"tar -x -z -f {q(remote)} -C {q(rel)} && rm -f {q(remote)}"
                      f" && printf '%s\\n' {q(sha)} > {q(rel)}/REVISION")
            group.run(switch_command(deploy_to, release_id))
            return time.perf_counter() - began
        finally:
            group.close()


def run_everywhere(hosts: list[str], *, user: str, key: str, known_hosts: str,
                   command: str) -> float:
    """Connect, run one command on every host, close: the floor of a listing."""
    began = time.perf_counter()
    group = _group(hosts, user=user, key=key, known_hosts=known_hosts)
    try:
        group.run(command)
        return time.perf_counter() - began
    finally:
        group.close()


def rollback(hosts: list[str], *, user: str, key: str, known_hosts: str, deploy_to: str,
             release_id: str) -> float:
    """The least a Fabric user writes to go back: switch `current` to an existing release
    on every host (the switch checks the release is there). Returns the wall time."""
    return run_everywhere(hosts, user=user, key=key, known_hosts=known_hosts,
                          command=switch_command(deploy_to, release_id))


def safe_rollback(hosts: list[str], *, user: str, key: str, known_hosts: str,
                  deploy_to: str, release_id: str) -> float:
    """A rollback a careful Fabric user writes to get deploytui's guarantees: take a lock
    on every host and check the release is there before any host switches; switch (and
    put the switched hosts back if any host failed); then, once every host is done, a
    revisions.log line and the unlock in one command. Three rounds, as deploytui's, each
    command on a channel of its own, as Fabric runs them. Returns the wall time."""
    from fabric.exceptions import GroupException

    began = time.perf_counter()
    lock = q(f"{deploy_to}/.fabric-lock")
    release = q(f"{deploy_to}/releases/{release_id}")
    cur = q(f"{deploy_to}/current")
    group = _group(hosts, user=user, key=key, known_hosts=known_hosts)

    def succeeded(exc: GroupException) -> dict[Any, Any]:
        return {c: r for c, r in exc.result.items() if not isinstance(r, BaseException)}

    try:
        try:
            group.run(f"mkdir {lock} || exit 4; if [ ! -d {release} ] || [ -L {release} ];"
                      f" then echo 'release {release_id} is missing' >&2; rmdir {lock};"
                      " exit 3; fi")
        except GroupException as exc:
            ThreadingGroup.from_connections(list(succeeded(exc))).run(f"rmdir {lock}")
            raise
        try:
            group.run(switch_command(deploy_to, release_id))
        except GroupException as exc:
            for conn, res in succeeded(exc).items():
                prev = next((ln.split(":", 1)[1] for ln in res.stdout.splitlines()
                             if ln.startswith("DEPLOYTUI-PREV:")), "")
                conn.run(f"ln -sfn {q(prev)} {cur}.back && mv -T {cur}.back {cur}" if prev
                         else f"rm -f {cur}")
            group.run(f"rmdir {lock}")
            raise
        line = q(f"rolled back to {release_id}")
        group.run(f"echo {line} >> {q(deploy_to + '/revisions.log')}; rmdir {lock}")
        return time.perf_counter() - began
    finally:
        group.close()


def main(argv: list[str]) -> int:
    """`deploy`, `rollback` or `run` as a script, so a benchmark can time it as its own
    process (interpreter start-up included, as for the `deploytui` CLI)."""
    import argparse

    p = argparse.ArgumentParser(description="bare Fabric floors")
    p.add_argument("--user", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--known-hosts", required=True)
    p.add_argument("--hosts", required=True, help="ADDR:PORT,ADDR:PORT,...")
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("deploy")
    for name in ("--deploy-to", "--repo-url", "--sha", "--release-id"):
        d.add_argument(name, required=True)
    d.add_argument("--build", action="append", default=[])
    for name in ("rollback", "safe-rollback"):
        r = sub.add_parser(name)
        r.add_argument("--deploy-to", required=True)
        r.add_argument("--release-id", required=True)
    s = sub.add_parser("ship")
    for name in ("--deploy-to", "--repo", "--sha", "--release-id"):
        s.add_argument(name, required=True)
    c = sub.add_parser("run")
    c.add_argument("--command", required=True)
    a = p.parse_args(argv)
    common = {"user": a.user, "key": a.key, "known_hosts": a.known_hosts}
    hosts = a.hosts.split(",")
    if a.what == "deploy":
        took = deploy(hosts, deploy_to=a.deploy_to, repo_url=a.repo_url, sha=a.sha,
                      release_id=a.release_id, build=a.build, **common)
    elif a.what == "rollback":
        took = rollback(hosts, deploy_to=a.deploy_to, release_id=a.release_id, **common)
    elif a.what == "ship":
        took = ship(hosts, deploy_to=a.deploy_to, repo=a.repo, sha=a.sha,
                    release_id=a.release_id, **common)
    elif a.what == "safe-rollback":
        took = safe_rollback(hosts, deploy_to=a.deploy_to, release_id=a.release_id, **common)
    else:
        took = run_everywhere(hosts, command=a.command, **common)
    print(f"{took:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
