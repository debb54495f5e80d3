"""A release's `env:`, recorded on the hosts with it, and brought back by a rollback.

Recorded in the release's metadata (remote/layout.ReleaseMeta.env): a plain value
verbatim; a secret ONLY as its reference and a keyed hash,
`{"secret": NAME, "hmac": HMAC-SHA256(key, NAME \\0 value), "key": key id}`.

Why a keyed hash, and which key. The hash exists so that two releases can be compared
("secret changed") without the value. A plain SHA-256 of the value, or an HMAC keyed
with something derived from the value itself, lets anyone who can read the metadata
(every account on every host) test guesses offline, and deploy secrets are often
guessable (a short password, a word plus a year). So the key is something the hosts
never see:
  1. the team's key, the secret named `deploytui-env-key` resolved like any secret
     (vault command, keyring, DEPLOYTUI_SECRET_DEPLOYTUI_ENV_KEY), never prompted for:
     every operator and CI hash alike, so their releases compare;
  2. otherwise this machine's own random key (32 bytes, `env-hash.key` in the data
     directory, mode 0600): releases deployed from this machine compare.
The key id (the first 8 hex digits of HMAC(key, "deploytui env key id")) is recorded
beside each hash, so hashes made with different keys are reported as "not comparable",
never as a change. The name is part of the message so that two variables holding the
same value do not show equal hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as random_bytes
from dataclasses import dataclass
from typing import Any

from deploytui import paths
from deploytui.config.model import Project, SecretRef
from deploytui.engine.operations.request import resolve_env
from deploytui.engine.remote.scan import HostScan

TEAM_KEY_SECRET = "deploytui-env-key"
LOCAL_KEY_FILE = "env-hash.key"

Recorded = dict[str, Any]  # NAME -> "plain value" | {"secret", "hmac", "key"}


@dataclass(frozen=True)
class HashKey:
    key: bytes
    key_id: str
    source: str  # "team" | "machine"


def key_id(key: bytes) -> str:
    return hmac.new(key, b"deploytui env key id", hashlib.sha256).hexdigest()[:8]


def hash_key(resolver: Any) -> HashKey:
    """The team's key when one is set, else this machine's (created on first use)."""
    team = resolver.optional(TEAM_KEY_SECRET) if hasattr(resolver, "optional") else None
    if team:
        key = team.encode()
        return HashKey(key, key_id(key), "team")
    path = paths.data_dir() / LOCAL_KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    if len(key) < 32:
        key = random_bytes.token_bytes(32)
        tmp = path.with_name(f"{LOCAL_KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        if not path.exists():  # two deploys at once: the first one's key stays
            os.replace(tmp, path)
        else:
            tmp.unlink()
        key = path.read_bytes()
    return HashKey(key, key_id(key), "machine")


def record_env(project: Project, values: dict[str, str], resolver: Any) -> Recorded:
    """What the hosts keep of the env a release is deployed with; never a secret value.
    The hash key is looked up only when the env has a secret."""
    recorded: Recorded = {}
    key: HashKey | None = None
    for name, declared in project.env.items():
        if isinstance(declared, str):
            recorded[name] = declared
            continue
        key = key or hash_key(resolver)
        digest = hmac.new(key.key, f"{name}\0{values.get(name, '')}".encode(),
                          hashlib.sha256).hexdigest()
        recorded[name] = {"secret": declared.name, "hmac": digest, "key": key.key_id}
    return recorded


def release_env(scans: dict[str, HostScan], release_id: str | None) -> tuple[bool, Recorded]:
    """(found, env) of a release as the hosts recorded it: the first host (configured
    order) whose metadata for it carries an env; (False, {}) for a release deployed
    before env was recorded, or a Capistrano one."""
    for scan in scans.values():
        entry = scan.entries.get(release_id or "")
        meta = entry.meta if entry is not None else None
        if meta is not None and meta.env is not None:
            return True, meta.env
    return False, {}


def env_of_release(project: Project, recorded: Recorded, resolver: Any) -> dict[str, str]:
    """The env a release was deployed with, for its restarts and health checks now:
    plain values as recorded, secrets resolved today by their recorded name, and the
    sudo password from today's config (not part of `env:`)."""
    today = resolve_env(project, resolver)
    env = {name: (item if isinstance(item, str) else
                  resolver.resolve(SecretRef(item["secret"])))
           for name, item in recorded.items()}
    if "DEPLOYTUI_SUDO_PASSWORD" in today:
        env["DEPLOYTUI_SUDO_PASSWORD"] = today["DEPLOYTUI_SUDO_PASSWORD"]
    return env


def env_changes(current: Recorded | None, target: Recorded | None) -> list[str]:
    """What changes in the env going from the current release to the target one, one
    line per variable, never a secret value: `+ NAME=value`, `- NAME`, `~ NAME: a → b`,
    `~ NAME: secret changed`. None for a side deployed before env was recorded."""
    if target is None:
        return ["the target release was deployed before deploytui recorded env: its "
                "restart and health checks use today's env"]
    if current is None:
        return ["the current release has no recorded env: differences unknown (the "
                "target's recorded env is used)"]
    lines = []
    for name in sorted(set(current) | set(target)):
        old, new = current.get(name), target.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"+ {name}" + (f"={new}" if isinstance(new, str)
                                        else f" (secret {new['secret']})"))  # type: ignore[index]
        elif new is None:
            lines.append(f"- {name}")
        elif isinstance(old, str) and isinstance(new, str):
            lines.append(f"~ {name}: {old} → {new}")
        elif isinstance(old, str):
            lines.append(f"~ {name}: becomes a secret ({new['secret']})")
        elif isinstance(new, str):
            lines.append(f"~ {name}: was a secret ({old['secret']}), becomes {new}")
        elif old["secret"] != new["secret"]:
            lines.append(f"~ {name}: secret reference changed ({old['secret']} → "
                         f"{new['secret']})")
        elif old["key"] != new["key"]:
            lines.append(f"~ {name}: secret not comparable (hashed with another key; see "
                         f"docs/secrets.md)")
        elif old["hmac"] != new["hmac"]:
            lines.append(f"~ {name}: secret changed")
    return lines


def rollback_env_lines(scans: dict[str, HostScan], current: str | None,
                       target: str | None) -> list[str]:
    """The env differences a rollback from `current` to `target` brings, as the
    confirmation (CLI and console) and the rollback's own output show them."""
    found_target, target_env = release_env(scans, target)
    found_current, current_env = release_env(scans, current)
    lines = env_changes(current_env if found_current else None,
                        target_env if found_target else None)
    return lines or ["no env differences"]
