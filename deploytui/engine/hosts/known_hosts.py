"""known_hosts read once per operation and indexed, so a host's keys are found directly.

paramiko's HostKeys keeps a flat list and `add` scans it, so copying a long-lived
known_hosts (thousands of lines) into every connection cost O(lines²) per host. Here
the file is parsed once into: literal names (`host`, `[host]:port`) -> entries, hashed
`|1|salt|hash` entries (checked by HMAC against the looked-up name only), and pattern
entries (`*`, `?`, `!negation`), the few that need matching. Keys are decoded only when
a host asks for them.

`@cert-authority` lines are ignored (no certificate support; their keys are never
trusted as host keys) and `@revoked` keys are never trusted, for any host.

Which hashed lines name a host is remembered between operations, per file content, and
checked again before use (hashed_hints.py): a file that did not change is not hashed
through again by every operation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from deploytui.engine.hosts.hashed_hints import HashedHints, digest_of


@dataclass
class _Entry:
    key_type: str
    key_base64: str
    _key: paramiko.PKey | None = field(default=None, repr=False)

    def key(self) -> paramiko.PKey | None:
        """The decoded key, or None when paramiko cannot use this key type."""
        if self._key is None:
            try:
                self._key = paramiko.PKey.from_type_string(
                    self.key_type, base64.b64decode(self.key_base64))
            except (binascii.Error, ValueError, paramiko.SSHException, TypeError):
                return None
        return self._key


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """OpenSSH host patterns: only `*` and `?` are wild (`[` is literal, as in `[h]:22`)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE)


@dataclass
class _PatternEntry:
    positive: list[re.Pattern[str]]
    negative: list[re.Pattern[str]]
    entry: _Entry

    def matches(self, name: str) -> bool:
        if any(p.fullmatch(name) for p in self.negative):
            return False
        return any(p.fullmatch(name) for p in self.positive)


_IPAD = bytes(b ^ 0x36 for b in range(256))  # HMAC's pads as byte tables: one C call
_OPAD = bytes(b ^ 0x5C for b in range(256))  # per key instead of 64 Python steps


class _HashedEntry:
    """`|1|salt|hash`: HMAC-SHA1(salt, name) == hash. The salt's padded inner and outer
    hash states are kept, halving each check's cost (every lookup checks every entry)."""

    __slots__ = ("_inner", "_outer", "digest", "entry")

    def __init__(self, salt: bytes, digest: bytes, entry: _Entry) -> None:
        key = salt.ljust(64, b"\0") if len(salt) <= 64 else hashlib.sha1(salt).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha1(key.translate(_IPAD))
        self._outer = hashlib.sha1(key.translate(_OPAD))
        self.digest = digest
        self.entry = entry

    def matches(self, name: bytes) -> bool:
        inner = self._inner.copy()
        inner.update(name)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return hmac.compare_digest(outer.digest(), self.digest)


class KnownHosts:
    """An index over one known_hosts file; lookups are thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._literal: dict[str, list[_Entry]] = {}
        self._hashed: list[_HashedEntry] = []
        self._patterns: list[_PatternEntry] = []
        self._revoked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._hints: HashedHints | None = None
        self.lines = 0

    @classmethod
    def load(cls, path: Path) -> KnownHosts:
        try:
            text = path.expanduser().read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            text = ""
        index = cls.from_text(text, path)
        if index._hashed:
            with contextlib.suppress(OSError):
                index._hints = HashedHints(hints_store(), path, digest_of(text))
        return index

    @classmethod
    def from_text(cls, text: str, path: Path | None = None) -> KnownHosts:
        index = cls(path)
        for line in text.splitlines():
            index._parse(line)
        return index

    def _parse(self, line: str) -> None:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            return
        self.lines += 1
        marker = fields.pop(0) if fields[0].startswith("@") else None
        if len(fields) < 3:
            return
        names, key_type, key_base64 = fields[0], fields[1], fields[2]
        if marker == "@revoked":
            self._revoked.add((key_type, key_base64))
            return
        if marker is not None:  # @cert-authority (or unknown): never a host key
            return
        self._index(names, _Entry(key_type, key_base64))

    def _index(self, names: str, entry: _Entry) -> None:
        if names.startswith("|1|"):
            parts = names.split("|")
            if len(parts) == 4:
                try:
                    salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
                except binascii.Error:
                    return
                self._hashed.append(_HashedEntry(salt, digest, entry))
            return
        literal, positive, negative = [], [], []
        for name in names.split(","):
            if name.startswith("!"):
                negative.append(_pattern_regex(name[1:]))
            elif "*" in name or "?" in name:
                positive.append(_pattern_regex(name))
            elif name:
                literal.append(name.lower())
        if negative or positive:
            # a negation applies to the whole list, literal names included
            positive += [_pattern_regex(name) for name in literal]
            self._patterns.append(_PatternEntry(positive, negative, entry))
            return
        for name in literal:
            self._literal.setdefault(name, []).append(entry)

    def _entries(self, name: str) -> list[_Entry]:
        lowered = name.lower()
        found = list(self._literal.get(lowered, ()))
        found += [self._hashed[i].entry for i in self._hashed_matches(name)]
        found += [p.entry for p in self._patterns if p.matches(lowered)]
        return found

    def _hashed_matches(self, name: str) -> list[int]:
        """Positions of the hashed lines naming `name`: the remembered ones when every
        one of them still checks out, else a scan of them all (remembered for next time)."""
        encoded = name.encode()
        hint = self._hints.get(name) if self._hints is not None else None
        if hint is not None and all(0 <= i < len(self._hashed)
                                    and self._hashed[i].matches(encoded) for i in hint):
            return hint
        found = [i for i, hashed in enumerate(self._hashed) if hashed.matches(encoded)]
        if self._hints is not None:
            self._hints.put(name, found)
        return found

    def lookup(self, name: str) -> dict[str, paramiko.PKey]:
        """The trusted keys of `name` (`host` or `[host]:port`) by key type; revoked left out."""
        entries = self._entries(name)  # reads only; remember() appends under the lock
        keys: dict[str, paramiko.PKey] = {}
        for entry in entries:
            if (entry.key_type, entry.key_base64) in self._revoked:
                continue
            key = entry.key()
            if key is not None:
                keys.setdefault(key.get_name(), key)
        return keys

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return (key.get_name(), key.get_base64()) in self._revoked

    def remember(self, name: str, key: paramiko.PKey) -> None:
        """Trust a key from now on in this index (the caller wrote it to the file)."""
        with self._lock:
            self._literal.setdefault(name.lower(), []).append(
                _Entry(key.get_name(), key.get_base64(), key))


def hints_store() -> Path:
    from deploytui import paths  # platformdirs, only for a file that has hashed lines

    return paths.data_dir() / "known_hosts-hints.json"
