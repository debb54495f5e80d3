"""The ad-hoc freeze: `<deploy_to>/.deploytui/freeze`, one JSON line, on every host.

Set by `deploytui freeze` (until when, why, by whom), removed by `unfreeze`; stored on
the hosts like the lock, so every operator and every CI run sees it. An operation
reads it in its lock command (read_text: shell builtins only, no extra process and
no extra round); a freeze past its `until` is ignored, so a forgotten one ends alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from deploytui.engine.remote.layout import Layout
from deploytui.engine.shell import ensure_dir, q

TAG = "Z-FREEZE"


@dataclass(frozen=True)
class AdHocFreeze:
    until: str  # ISO 8601 UTC
    reason: str
    user: str = ""  # who set it (user@machine, or the CI's actor)
    at: str = ""  # when it was set

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AdHocFreeze | None:
        try:
            data = json.loads(text)
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError):
            return None

    def ends(self, now: datetime) -> datetime | None:
        """Its end while it holds at `now`, else None (expired or unreadable)."""
        try:
            until = datetime.fromisoformat(self.until.replace("Z", "+00:00"))
        except ValueError:
            return None
        return until if until.tzinfo is not None and now < until else None


def path(layout: Layout) -> str:
    return f"{layout.state_dir}/freeze"


def write_command(layout: Layout, freeze: AdHocFreeze) -> str:
    """Write it atomically (temp file + mv): a reader never sees half of it."""
    target = q(path(layout))
    return (f"{ensure_dir(layout.state_dir)} && printf '%s\\n' {q(freeze.to_json())}"
            f" > {target}.tmp && mv -f {target}.tmp {target}")


def clear_command(layout: Layout) -> str:
    """Print the freeze removed (if any), then remove it."""
    return f"{read_text(layout)}; rm -f {q(path(layout))}"


def read_text(layout: Layout) -> str:
    """Shell text printing `Z-FREEZE <json>` when the host is frozen; builtins only."""
    target = q(path(layout))
    return (f"if [ -f {target} ] && IFS= read -r __dt_fz < {target}; then"
            f" printf '{TAG} %s\\n' \"$__dt_fz\"; fi")


def split_output(output: str) -> tuple[AdHocFreeze | None, str]:
    """(the freeze read_text printed, the output without that line)."""
    found: AdHocFreeze | None = None
    rest = []
    for line in output.splitlines(keepends=True):
        if line.startswith(TAG + " "):
            found = AdHocFreeze.from_json(line[len(TAG) + 1:]) or found
        else:
            rest.append(line)
    return found, "".join(rest)
