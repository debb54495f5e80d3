"""Where things live on a host; Capistrano-compatible.

```
<deploy_to>/
  releases/<YYYYmmddHHMMSS>/      one per deploy; holds REVISION (the sha)
  current -> releases/<id>        switched atomically (new symlink + mv -T)
  shared/                         linked into every release
  repo/                           bare mirror
  revisions.log                   append-only, Capistrano's wording
  .deploytui/lock                 the deploy lock (a directory, created atomically)
  .deploytui/releases/<id>.json   release metadata: state, sha, subject, who, when
```
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from deploytui.engine.remote.safety import checked_deploy_to, release_path
from deploytui.engine.shell import ensure_dir, q

# preparing: being built; ready: prepared, waiting for the switch; ok: was switched to
# successfully; failed: its deploy failed; rolled_back: the release a rollback left.
ReleaseState = Literal["preparing", "ready", "ok", "failed", "rolled_back"]
RELEASE_STATES: tuple[str, ...] = ("preparing", "ready", "ok", "failed", "rolled_back")


def release_id_now(now: float | None = None) -> str:
    """A 14-digit UTC timestamp, made once per deploy on the deploying machine."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now))


@dataclass(frozen=True)
class Layout:
    deploy_to: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "deploy_to", checked_deploy_to(self.deploy_to))

    @property
    def releases(self) -> str:
        return f"{self.deploy_to}/releases"

    @property
    def current(self) -> str:
        return f"{self.deploy_to}/current"

    @property
    def shared(self) -> str:
        return f"{self.deploy_to}/shared"

    @property
    def repo(self) -> str:
        return f"{self.deploy_to}/repo"

    @property
    def revisions_log(self) -> str:
        return f"{self.deploy_to}/revisions.log"

    @property
    def state_dir(self) -> str:
        return f"{self.deploy_to}/.deploytui"

    @property
    def lock(self) -> str:
        return f"{self.state_dir}/lock"

    @property
    def metadata_dir(self) -> str:
        return f"{self.state_dir}/releases"

    def release(self, release_id: str) -> str:
        return release_path(self.deploy_to, release_id)

    def metadata(self, release_id: str) -> str:
        release_path(self.deploy_to, release_id)  # validates the id
        return f"{self.metadata_dir}/{release_id}.json"


@dataclass
class ReleaseMeta:
    """What a host remembers about one release, beyond Capistrano's REVISION."""

    release_id: str
    state: ReleaseState
    sha: str = ""
    subject: str = ""
    ref: str = ""
    deployed_at: str = ""  # ISO 8601 UTC
    deployed_by: str = ""  # user@machine
    history: list[str] = field(default_factory=list)  # "state at ISO-time" transitions
    # hosts the deploy left out on purpose (`deploy --exclude`): every host that got the
    # release records them, so a later reader knows they are behind, not broken
    excluded: list[str] = field(default_factory=list)
    once: list[str] = field(default_factory=list)  # `once` commands run with it (migrations)
    # the project's `env:` it was deployed with (operations/release_env.py): plain values,
    # secrets only as {"secret", "hmac", "key"}; None: deployed before env was recorded
    env: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReleaseMeta | None:
        try:
            data = json.loads(text)
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            meta = cls(**known)
        except (ValueError, TypeError):
            return None
        if not isinstance(meta.excluded, list) or not all(isinstance(h, str)
                                                          for h in meta.excluded):
            meta.excluded = []  # a hand-edited file: the record is advisory, never fatal
        if meta.env is not None and not _env_shape(meta.env):
            meta.env = None
        return meta if meta.state in RELEASE_STATES else None


def _env_shape(env: object) -> bool:
    """NAME -> "value" | {"secret", "hmac", "key"} (all strings)."""
    if not isinstance(env, dict):
        return False
    return all(isinstance(name, str) and (isinstance(item, str) or (
        isinstance(item, dict) and all(isinstance(item.get(k), str)
                                       for k in ("secret", "hmac", "key"))))
               for name, item in env.items())


def write_meta_command(layout: Layout, meta: ReleaseMeta) -> str:
    """Write the metadata file atomically (temp file + mv), creating the directory."""
    path = layout.metadata(meta.release_id)
    return (f"{ensure_dir(layout.metadata_dir)} && printf '%s\\n' {q(meta.to_json())}"
            f" > {q(path)}.tmp && mv -f {q(path)}.tmp {q(path)}")
