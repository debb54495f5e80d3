"""Which hashed known_hosts lines name a host, remembered between operations.

A hashed line (`|1|salt|hmac`) is matched only by hashing the host's name with that
line's salt, so finding a host costs one HMAC per hashed line: with a long-lived
laptop's known_hosts (3,500 hashed lines) about 3 ms of CPU per host, 0.1 s in a 30-host
operation, spent again by every operation on a file that rarely changes. So the answer
is kept per file CONTENT: for the SHA-256 of the file's text, each name's matching
hashed lines (their positions among the hashed lines). A changed file has another
digest and is scanned afresh.

A hint is never trusted: each line it names is checked by its HMAC before its key is
used, and a hint that does not hold is dropped and the file scanned. At worst a tampered
hint leaves a key out, which refuses the host (fails closed); it can never add a key,
and `@revoked` lines are never hinted (they are read from the file every time).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path

KEEP_FILES = 16  # known_hosts files remembered; the least recently used go first


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode(errors="replace")).hexdigest()


class HashedHints:
    """The remembered matches for one known_hosts file at one content digest."""

    def __init__(self, store: Path, known_hosts: Path, digest: str) -> None:
        self._store = store
        self._key = str(known_hosts.expanduser().absolute())
        self._digest = digest
        self._names: dict[str, list[int]] = {}
        self._files: dict = {}  # the whole store, as read once
        self._lock = threading.Lock()
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(store.read_text())
            self._files = {k: v for k, v in data["files"].items() if isinstance(v, dict)}
            entry = self._files.get(self._key) or {}
            if entry.get("sha256") == digest:
                self._names = {str(name): [int(i) for i in positions]
                               for name, positions in entry.get("names", {}).items()}

    def get(self, name: str) -> list[int] | None:
        with self._lock:
            found = self._names.get(name)
            return None if found is None else list(found)

    def put(self, name: str, positions: list[int]) -> None:
        """Remember `name`'s matches and write the store (only after a full scan)."""
        with self._lock:
            self._names[name] = list(positions)
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
                self._write()

    def _write(self) -> None:
        files = self._files
        files[self._key] = {"sha256": self._digest, "names": self._names, "used": time.time()}
        newest = sorted(files.items(), key=lambda kv: kv[1].get("used", 0), reverse=True)
        self._files = dict(newest[:KEEP_FILES])
        tmp = self._store.with_name(f".{self._store.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"version": 1, "files": self._files}))
            os.replace(tmp, self._store)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
