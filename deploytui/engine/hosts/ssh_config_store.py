"""`ssh -G` answers remembered between operations: in this process, and across processes.

ssh_config.py asks OpenSSH once per host, and one `ssh -G` is a few milliseconds of CPU.
Every CLI operation is a new process, so with a ~/.ssh/config each one asked again for
every host: 40 hosts behind a bastion took 41 `ssh -G` (about 0.3 s of CPU) in every
deploy, status and run. So the answers are kept in the data directory, in one file per
*fingerprint* of everything an answer can depend on: each file the config reads (path,
mtime, size, inode; what its Includes match included), the uid, the local host name,
the whole environment (`${VAR}`, $HOME) and the `ssh` binary. Anything that changes
gives another fingerprint, so OpenSSH is asked afresh; a config with `Match exec` or
`Match localnetwork` is never remembered (its answer may change at any moment).

The file is append-only, one JSON line per answer, written with one `write(2)`: two
processes adding answers at once each keep theirs, a torn or foreign line is skipped,
and a store that cannot be read or written only costs the `ssh -G` it would have saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

KEEP_FILES = 8  # fingerprints kept: a config being edited leaves old ones behind
FORMAT = 1

Key = tuple[str, "int | None", "str | None"]  # (alias, port, user)


def fingerprint(files: list[tuple[str, int, int, int]], ssh: str | None) -> str:
    """The SHA-256 naming one state of the config, the account, the environment and ssh."""
    try:
        st = os.stat(ssh) if ssh else None
        binary = [ssh, st.st_mtime_ns, st.st_size, st.st_ino] if st else [ssh]
    except OSError:
        binary = [ssh]
    facts = [FORMAT, files, os.getuid(), socket.gethostname(), sorted(os.environ.items()),
             binary]
    return hashlib.sha256(json.dumps(facts).encode(errors="replace")).hexdigest()


class AnswerStore:
    """The remembered answers for one fingerprint."""

    def __init__(self, directory: Path, digest: str) -> None:
        self.path = directory / f"{digest}.jsonl"

    def load(self) -> dict[Key, dict[str, Any]]:
        answers: dict[Key, dict[str, Any]] = {}
        try:
            text = self.path.read_text(errors="replace")
            os.utime(self.path)  # in use: the last to be pruned
        except OSError:
            return answers
        for line in text.splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                entry = json.loads(line)
                alias, port, user = entry["key"]
                answer = entry["answer"]
                if (isinstance(alias, str) and isinstance(answer, dict)
                        and (port is None or isinstance(port, int))
                        and (user is None or isinstance(user, str))):
                    answers[(alias, port, user)] = answer
        return answers

    def add(self, key: Key, answer: dict[str, Any]) -> None:
        line = json.dumps({"key": list(key), "answer": answer}) + "\n"
        with contextlib.suppress(OSError, TypeError, ValueError):
            new = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            if new:
                self._prune()

    def _prune(self) -> None:
        """Keep the KEEP_FILES most recently used stores."""
        stores = []
        for path in self.path.parent.glob("*.jsonl"):
            with contextlib.suppress(OSError):
                stores.append((path.stat().st_mtime, path))
        for _, path in sorted(stores, reverse=True)[KEEP_FILES:]:
            with contextlib.suppress(OSError):
                path.unlink()


_MEMORY: dict[str, dict[Key, dict[str, Any]]] = {}  # fingerprint -> key -> answer
_MEMORY_LOCK = threading.Lock()
_MEMORY_KEEP = 4  # fingerprints kept in a process (the console runs for hours)


class Remembered:
    """The answers for one fingerprint: this process's, and the data directory's,
    which every later process reads."""

    def __init__(self, memory: dict[Key, dict[str, Any]], store: AnswerStore | None) -> None:
        self._memory, self._store = memory, store

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._memory.get(key)

    def put(self, key: Key, answer: dict[str, Any]) -> None:
        self._memory[key] = answer
        if self._store is not None:
            self._store.add(key, answer)


def remembered(files: list[tuple[str, int, int, int]], ssh: str | None) -> Remembered:
    """What is remembered for the config whose files are `files` (path, mtime_ns, size,
    inode) read by `ssh`, as things are now."""
    digest = fingerprint(files, ssh)
    try:
        store: AnswerStore | None = AnswerStore(store_directory(), digest)
    except OSError:  # no data directory: this process remembers, the next asks again
        store = None
    with _MEMORY_LOCK:
        if digest not in _MEMORY:
            while len(_MEMORY) >= _MEMORY_KEEP:
                _MEMORY.pop(next(iter(_MEMORY)))
            _MEMORY[digest] = store.load() if store is not None else {}
        return Remembered(_MEMORY[digest], store)


def store_directory() -> Path:
    from deploytui import paths  # platformdirs, only for a config that has directives

    return paths.data_dir() / "ssh-config"
