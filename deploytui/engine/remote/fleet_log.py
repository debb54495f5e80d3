"""The fleet's record: `<deploy_to>/.deploytui/fleet.log`, one JSON line per operation.

Every operation that reaches a host appends one line there (id, operation, who, when,
what, outcome, duration, overrides), so `history --fleet` shows every operator's and
every CI run's operations from any machine. revisions.log stays as it is (Capistrano's).

Atomic under concurrency: a line is ONE `printf … >>` (O_APPEND) of well under 4 KiB,
which the shell's stdio writes with one write(2); O_APPEND makes each write land whole
at the end, whoever else appends at the same moment (the lock does not serialize
unlock, freeze or a second environment sharing a directory). Lines are cut to
RECORD_MAX bytes to keep that true. Bounded: once the file reaches LOG_MAX bytes it is
moved to `fleet.log.1` (the previous .1 is dropped; the size is checked on one append
in ROTATE_EVERY, size_check_due says why); the move is checked again under
`flock` where the host has it, so two operators rotating at once never move a fresh
file over the old one. Readers read `.1` then the file.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from deploytui.engine.remote.layout import Layout
from deploytui.engine.shell import ensure_dir, q

LOG_NAME = "fleet.log"
LOG_MAX = 256 * 1024  # bytes before a rotation: ~1000 records, plus as many in .1
RECORD_MAX = 3000  # bytes per line: below PIPE_BUF and stdio's buffer, so one write(2)
ROTATE_EVERY = 16  # one append in this many checks the size (size_check_due)
READ_LINES = 1000  # lines a reader takes from the end of .1 and of the log
ERROR_MAX = 300


# Who ran it in CI: the first of these that is set (DEPLOYTUI_ACTOR lets any CI say it).
CI_ACTORS = (("DEPLOYTUI_ACTOR", ""), ("GITHUB_ACTOR", "github"),
             ("GITLAB_USER_LOGIN", "gitlab"), ("BUILD_USER_ID", "jenkins"),
             ("BUILD_USER", "jenkins"), ("BITBUCKET_STEP_TRIGGERER_UUID", "bitbucket"),
             ("CIRCLE_USERNAME", "circleci"), ("BUILDKITE_BUILD_CREATOR_EMAIL", "buildkite"))


def ci_actor(environ: Mapping[str, str] | None = None) -> str:
    """`github:octocat` when a CI names who triggered the run, else ""."""
    env = os.environ if environ is None else environ
    for name, ci in CI_ACTORS:
        value = (env.get(name) or "").strip()
        if value:
            return f"{ci}:{value}" if ci else value
    return ""


def new_operation_id(now: float | None = None) -> str:
    """Sortable and unique enough: UTC second + 24 random bits (`20261205T090102-a1b2c3`)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(3)


@dataclass
class FleetRecord:
    """One operation as one host remembers it. Keys are a contract (json-output-history)."""

    id: str
    operation: str  # deploy catch-up rollback prune delete lock unlock freeze unfreeze
    project: str
    environment: str
    user: str  # user@machine that ran it
    started: str  # ISO 8601 UTC
    actor: str = ""  # the CI's own actor (ci_actor), when it ran in CI
    outcome: str = ""  # success | failed | cancelled | rolled_back | unchanged | locked
    duration: float = 0.0
    ref: str = ""
    sha: str = ""
    release: str = ""
    forced: list[str] = field(default_factory=list)  # break-lock, force-freeze, force
    excluded: list[str] = field(default_factory=list)  # hosts left out on purpose
    freeze: str = ""  # the freeze in force while it ran (reason, until)
    note: str = ""  # e.g. whose lock was broken or removed
    error: str = ""

    def line(self) -> str:
        """The JSON line, cut below RECORD_MAX bytes (long host lists, long errors)."""
        data = asdict(self)
        data["duration"] = round(self.duration, 3)
        data["error"] = self.error[:ERROR_MAX]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        if len(text.encode()) > RECORD_MAX:
            data["excluded"] = [*self.excluded[:20], f"+{len(self.excluded) - 20} more"] \
                if len(self.excluded) > 20 else self.excluded
            data["note"], data["error"] = self.note[:200], self.error[:120]
            text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return text if len(text.encode()) <= RECORD_MAX else text.encode()[:RECORD_MAX].decode(
            errors="ignore")  # unreadable, but never a torn write; readers skip it

    @classmethod
    def now(cls, operation: str, project: str, environment: str, user: str, **fields
            ) -> FleetRecord:
        """A record of a one-command operation (lock, unlock, freeze), done now."""
        from deploytui.engine.clock import utc_iso

        return cls(id=new_operation_id(), operation=operation, project=project,
                   environment=environment, user=user, actor=ci_actor(), started=utc_iso(),
                   outcome="success", **fields)

    @classmethod
    def parse(cls, line: str) -> FleetRecord | None:
        """A line read back; None for anything that is not a record (hand edits, cuts)."""
        try:
            data = json.loads(line)
            if not isinstance(data, dict) or not data.get("id"):
                return None
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            record = cls(**known)
        except (ValueError, TypeError):
            return None
        for name in ("forced", "excluded"):
            value = getattr(record, name)
            if not isinstance(value, list):
                setattr(record, name, [])
        return record


def log_path(layout: Layout) -> str:
    return f"{layout.state_dir}/{LOG_NAME}"


def size_check_due(record_id: str) -> bool:
    """One operation in ROTATE_EVERY checks the log's size (chosen by its random id).

    A shell has no builtin for a file's size: `wc -c` is a process, and it was the whole
    cost of the append (measured: it doubled the unlock command's time on 10 hosts;
    benchmarks/fleet_record.py). Checking one append in 16 keeps the log within LOG_MAX
    plus a few records (the chance of 200 appends without a check is 2.5e-6)."""
    try:
        return int(record_id[-1], 16) % ROTATE_EVERY == 0
    except (ValueError, IndexError):
        return True


def append_command(layout: Layout, record: FleetRecord, *, check_size: bool | None = None
                   ) -> str:
    """Append the record; first rotate when the log has reached LOG_MAX (checked when
    size_check_due). Never exits, so it can run inline in an operation's last command."""
    log = q(log_path(layout))
    line = f"printf '%s\\n' {q(record.line())} >> {log}"
    if not (size_check_due(record.id) if check_size is None else check_size):
        return f"{ensure_dir(layout.state_dir)} && {line}"
    # a log that is missing counts as small: between another writer's rotation and its
    # next append there is none, and a rotation then would move that append onto .1;
    # anything but a regular file counts as small too: it is never moved, and the append
    # to it fails as a warning
    size = (f"{{ [ ! -f {log} ] || [ \"$(wc -c < {log} 2>/dev/null || echo 0)\""
            f" -lt {LOG_MAX} ]; }}")
    rotate = (f"{{ if command -v flock >/dev/null 2>&1; then flock -w 5 9; fi;"
              f" {size} || mv -f {log} {log}.1; }} 9>> {q(layout.state_dir)}/.fleet.lock")
    return (f"{ensure_dir(layout.state_dir)} && {{ {{ {size} || {rotate};"
            f" }} 2>/dev/null; {line}; }}")


def read_command(layout: Layout) -> str:
    """The newest READ_LINES lines of `.1` and of the log, oldest first (one process)."""
    log = q(log_path(layout))
    return f"tail -q -n {READ_LINES} {log}.1 {log} 2>/dev/null; true"


def parse_log(output: str) -> list[FleetRecord]:
    return [r for r in (FleetRecord.parse(line) for line in output.splitlines()
                        if line.startswith("{")) if r is not None]
